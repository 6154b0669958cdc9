package codec_test

import (
	"bytes"
	"errors"
	"hash/fnv"
	"math"
	"reflect"
	"testing"

	"github.com/posixshm/posixshm/codec"
)

// roundTrip encodes v after a prefix, checks the prefix survives and FixedSize holds,
// decodes, and returns the decoded value.
func roundTrip[T any](t *testing.T, c codec.Codec[T], v T) T {
	t.Helper()
	prefix := []byte("hdr")
	out, err := c.Append(bytes.Clone(prefix), v)
	if err != nil {
		t.Fatalf("%s: Append(%#v): %v", c.ID(), v, err)
	}
	if !bytes.Equal(out[:len(prefix)], prefix) {
		t.Fatalf("%s: Append clobbered dst prefix: %q", c.ID(), out[:len(prefix)])
	}
	enc := out[len(prefix):]
	if n := c.FixedSize(); n > 0 && len(enc) != n {
		t.Fatalf("%s: FixedSize %d, encoded %d bytes", c.ID(), n, len(enc))
	}
	got, err := c.Decode(enc)
	if err != nil {
		t.Fatalf("%s: Decode(%x): %v", c.ID(), enc, err)
	}
	return got
}

func checkRoundTrip[T any](t *testing.T, c codec.Codec[T], v T) {
	t.Helper()
	if got := roundTrip(t, c, v); !reflect.DeepEqual(got, v) {
		t.Errorf("%s: round trip\n got %#v\nwant %#v", c.ID(), got, v)
	}
}

func TestRoundTrip(t *testing.T) {
	t.Run("bytes", func(t *testing.T) {
		for _, v := range [][]byte{{}, {0}, []byte("hello"), bytes.Repeat([]byte{0xff}, 1000)} {
			checkRoundTrip(t, codec.Bytes(), v)
		}
	})
	t.Run("string", func(t *testing.T) {
		for _, v := range []string{"", "x", "héllo, 世界", "\xff\x00invalid utf-8 is fine"} {
			checkRoundTrip(t, codec.String(), v)
		}
	})
	t.Run("int64", func(t *testing.T) {
		for _, v := range []int64{0, 1, -1, math.MaxInt64, math.MinInt64} {
			checkRoundTrip(t, codec.For[int64](), v)
		}
	})
	t.Run("float64-array", func(t *testing.T) {
		checkRoundTrip(t, codec.For[[4]float64](), [4]float64{1.5, -0, math.Inf(1), math.SmallestNonzeroFloat64})
		got := roundTrip(t, codec.For[[4]float64](), [4]float64{math.NaN()})
		if !math.IsNaN(got[0]) {
			t.Errorf("NaN came back as %v", got[0])
		}
	})
	t.Run("plain-struct", func(t *testing.T) {
		checkRoundTrip(t, codec.For[Point](), Point{X: 1.25, Y: -2, ID: 42})
	})
	t.Run("plain-nested-arrays", func(t *testing.T) {
		var g Grid
		for i := range g.Cells {
			for j := range g.Cells[i] {
				g.Cells[i][j] = int32(i*10 + j)
			}
		}
		g.Flags = [2]bool{true, false}
		g.Small = -7
		g.Pairs[0].A, g.Pairs[0].B = 1, 2
		g.Pairs[1].A, g.Pairs[1].B = -3, math.MinInt64
		g.Z = complex(1, -1)
		checkRoundTrip(t, codec.For[Grid](), g)
	})
	t.Run("cbor-struct", func(t *testing.T) {
		v := Task{Name: "process_data", ID: 42, Tags: []string{"a", "b"}, Blob: []byte{1, 2, 3},
			Score: 0.5, Sub: &Task{Name: "child", ID: -1}}
		checkRoundTrip(t, codec.For[Task](), v)
		checkRoundTrip(t, codec.For[Task](), Task{})
	})
	t.Run("cbor-map", func(t *testing.T) {
		// Decoded types are CBOR's defaults for interfaces: int64, float64, []any,
		// map[string]any, []byte, so the input uses them to compare with DeepEqual.
		v := map[string]any{
			"name":  "process_data",
			"id":    int64(42),
			"big":   int64(math.MaxInt64),
			"neg":   int64(math.MinInt64),
			"score": 1.5,
			"ok":    true,
			"none":  nil,
			"blob":  []byte{0, 1, 2},
			"list":  []any{int64(1), "two", []any{3.25}},
			"nested": map[string]any{
				"deeper": map[string]any{"x": int64(-1), "empty": map[string]any{}},
			},
		}
		checkRoundTrip(t, codec.For[map[string]any](), v)
	})
	t.Run("cbor-map-ints-come-back-int64", func(t *testing.T) {
		got := roundTrip(t, codec.For[map[string]any](), map[string]any{"id": 42, "u": uint8(7)})
		if _, ok := got["id"].(int64); !ok {
			t.Errorf("id decoded as %T, want int64", got["id"])
		}
		if _, ok := got["u"].(int64); !ok {
			t.Errorf("u decoded as %T, want int64", got["u"])
		}
	})
	t.Run("cbor-named-string", func(t *testing.T) {
		checkRoundTrip(t, codec.For[Name](), Name("n"))
	})
}

func TestDecodeDoesNotRetainSrc(t *testing.T) {
	check := func(name string, enc []byte, decode func([]byte) (any, error)) {
		t.Helper()
		src := bytes.Clone(enc)
		v, err := decode(src)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		want, _ := decode(bytes.Clone(enc))
		for i := range src {
			src[i] = 0xAA // the slot is reused by another value
		}
		if !reflect.DeepEqual(v, want) {
			t.Errorf("%s: decoded value changed when src was overwritten: %#v", name, v)
		}
	}
	enc, _ := codec.Bytes().Append(nil, []byte("some bytes"))
	check("bytes", enc, func(b []byte) (any, error) { return codec.Bytes().Decode(b) })
	enc, _ = codec.String().Append(nil, "some string")
	check("string", enc, func(b []byte) (any, error) { return codec.String().Decode(b) })
	m := codec.For[map[string]any]()
	enc, _ = m.Append(nil, map[string]any{"key": "value", "blob": []byte("blob bytes"), "l": []any{"s", []byte("b")}})
	check("cbor-map", enc, func(b []byte) (any, error) { return m.Decode(b) })
	tc := codec.For[Task]()
	enc, _ = tc.Append(nil, Task{Name: "n", Tags: []string{"t"}, Blob: []byte("blob")})
	check("cbor-struct", enc, func(b []byte) (any, error) { return tc.Decode(b) })
}

func TestAppendInPlace(t *testing.T) {
	// Append into slot[:0:cap] must write into slot when it fits, and spill otherwise.
	slot := make([]byte, 64)
	cases := []struct {
		name string
		app  func(dst []byte) ([]byte, error)
	}{
		{"plain", func(dst []byte) ([]byte, error) { return codec.For[Point]().Append(dst, Point{X: 1}) }},
		{"bytes", func(dst []byte) ([]byte, error) { return codec.Bytes().Append(dst, []byte("abc")) }},
		{"string", func(dst []byte) ([]byte, error) { return codec.String().Append(dst, "abc") }},
		{"cbor", func(dst []byte) ([]byte, error) {
			return codec.For[map[string]any]().Append(dst, map[string]any{"a": int64(1)})
		}},
	}
	for _, c := range cases {
		out, err := c.app(slot[:0:len(slot)])
		if err != nil {
			t.Fatal(err)
		}
		if len(out) > cap(slot) || &out[0] != &slot[0] {
			t.Errorf("%s: result does not alias the slot", c.name)
		}
		out, err = c.app(slot[:0:2])
		if err != nil {
			t.Fatal(err)
		}
		if len(out) <= 2 || &out[0] == &slot[0] {
			t.Errorf("%s: a too-small slot was not spilled (len %d)", c.name, len(out))
		}
	}
}

func TestFor(t *testing.T) {
	cases := []struct {
		id    string
		fixed int
		got   interface {
			ID() string
			FixedSize() int
		}
	}{
		{"raw-bytes", 0, codec.For[[]byte]()},
		{"raw-string", 0, codec.For[string]()},
		{"plain2:int64/8", 8, codec.For[int64]()},
		{"plain2:int64/8", 8, codec.For[int]()},
		{"plain2:bool/1", 1, codec.For[bool]()},
		{"plain2:[4]float64/32", 32, codec.For[[4]float64]()},
		{"cbor:codec_test.Task", 0, codec.For[Task]()},
		{"cbor:map[string]interface {}", 0, codec.For[map[string]any]()},
		{"cbor:interface {}", 0, codec.For[any]()},
		{"cbor:codec_test.Name", 0, codec.For[Name]()},
		{"cbor:struct {}", 0, codec.For[struct{}]()},
		{"cbor:*int64", 0, codec.For[*int64]()},
	}
	for _, c := range cases {
		if c.got.ID() != c.id || c.got.FixedSize() != c.fixed {
			t.Errorf("got ID %q FixedSize %d, want %q %d", c.got.ID(), c.got.FixedSize(), c.id, c.fixed)
		}
	}
	if codec.For[Point]() != codec.For[Point]() || codec.For[Task]() != codec.For[Task]() {
		t.Error("For does not cache its codecs")
	}
	if codec.Bytes().ID() != codec.For[[]byte]().ID() || codec.String().ID() != codec.For[string]().ID() {
		t.Error("For disagrees with Bytes/String")
	}
}

func TestFingerprint(t *testing.T) {
	// Values pinned forever: they are stored in shared memory by other processes.
	pinned := map[string]uint64{
		"":                   0xcbf29ce484222325,
		"a":                  0xaf63dc4c8601ec8c,
		"foobar":             0x85944171f73967e8,
		"raw-bytes":          0x623ce27faf6ab257,
		"plain:main.Task/24": 0x2b1a3901db5106a8,
	}
	for id, want := range pinned {
		h := fnv.New64a()
		h.Write([]byte(id))
		if got := codec.Fingerprint(id); got != want || got != h.Sum64() {
			t.Errorf("Fingerprint(%q) = %#x, want %#x (hash/fnv %#x)", id, got, want, h.Sum64())
		}
	}
	if codec.Fingerprint("raw-bytes") == codec.Fingerprint("raw-string") {
		t.Error("distinct IDs collide")
	}
}

func TestErrorsAreDistinct(t *testing.T) {
	for _, e := range []error{codec.ErrDecode, codec.ErrNotPlain, codec.ErrTooLarge} {
		n := 0
		for _, f := range []error{codec.ErrDecode, codec.ErrNotPlain, codec.ErrTooLarge} {
			if errors.Is(e, f) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%v matches %d sentinels", e, n)
		}
	}
}
