package codec_test

// Types shared by the tests, examples, fuzz targets and benchmarks.

// Point is plain data without padding.
type Point struct {
	X, Y float64
	ID   int64
}

// Grid is plain data with nested arrays, bools and padding.
type Grid struct {
	Cells [3][4]int32
	Flags [2]bool
	Small int8
	Pairs [2]struct {
		A int16 // followed by 6 bytes of padding
		B int64
	}
	Z complex64
}

// Task is a struct with strings and slices, so For picks CBOR.
type Task struct {
	Name  string
	ID    int64
	Tags  []string
	Blob  []byte
	Score float64
	Sub   *Task
}

// Name is a named string type: For uses CBOR for it, not the raw String codec.
type Name string
