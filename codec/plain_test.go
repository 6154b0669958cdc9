package codec_test

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"unsafe"

	"github.com/posixshm/posixshm/codec"
)

type withString struct {
	ID   int64
	Name string
}

type outer struct {
	A     int32
	Inner struct {
		B int32
		P *int
	}
}

type arrayOfBad struct {
	Items [2]struct {
		X int64
		S []int
	}
}

type (
	withMap       struct{ M map[string]int }
	withChan      struct{ C chan int }
	withFunc      struct{ F func() }
	withIface     struct{ E error }
	withUnsafePtr struct{ P unsafe.Pointer }
	withUintptr   struct{ U uintptr }
)

func plainErr[T any]() error {
	_, err := codec.Plain[T]()
	return err
}

func TestPlainRefuses(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{plainErr[withString](), "codec: codec_test.withString.Name is a string"},
		{plainErr[outer](), "codec: codec_test.outer.Inner.P is a pointer"},
		{plainErr[arrayOfBad](), "codec: codec_test.arrayOfBad.Items[0].S is a slice"},
		{plainErr[withMap](), "codec: codec_test.withMap.M is a map"},
		{plainErr[withChan](), "codec: codec_test.withChan.C is a chan"},
		{plainErr[withFunc](), "codec: codec_test.withFunc.F is a func"},
		{plainErr[withIface](), "codec: codec_test.withIface.E is an interface"},
		{plainErr[withUnsafePtr](), "codec: codec_test.withUnsafePtr.P is an unsafe.Pointer"},
		{plainErr[withUintptr](), "codec: codec_test.withUintptr.U is a uintptr"},
		{plainErr[string](), "codec: string is a string"},
		{plainErr[*int64](), "codec: *int64 is a pointer"},
		{plainErr[[]byte](), "codec: []uint8 is a slice"},
		{plainErr[any](), "codec: interface {} is an interface"},
		{plainErr[[3]string](), "codec: [3]string[0] is a string"},
		{plainErr[[0]string](), "codec: [0]string[0] is a string"},
		{plainErr[struct{}](), "codec: struct {} is of size 0"},
		{plainErr[[0]int64](), "codec: [0]int64 is of size 0"},
	}
	for _, c := range cases {
		if c.err == nil {
			t.Errorf("no error, want %q", c.want)
			continue
		}
		if !errors.Is(c.err, codec.ErrNotPlain) {
			t.Errorf("%v does not wrap ErrNotPlain", c.err)
		}
		if c.err.Error() != c.want {
			t.Errorf("got %q, want %q", c.err, c.want)
		}
	}
	// The cached answer is the same.
	if err := plainErr[withString](); err == nil || err.Error() != cases[0].want {
		t.Errorf("second call: %v", err)
	}
}

func TestPlainAccepts(t *testing.T) {
	type named int32
	type all struct {
		B   bool
		I   int
		I8  int8
		I16 int16
		I32 int32
		I64 int64
		U   uint
		U8  uint8
		U16 uint16
		U32 uint32
		U64 uint64
		F32 float32
		F64 float64
		C64 complex64
		C   complex128
		N   named
		A   [2][3]uint16
		E   struct{} // zero-size fields are fine inside a non-empty struct
		_   [3]byte
	}
	if _, err := codec.Plain[all](); err != nil {
		t.Fatal(err)
	}
	if _, err := codec.Plain[[1 << 20]int64](); err != nil {
		t.Fatal(err)
	}
}

// padded has 7 bytes of padding after A and a blank field.
type padded struct {
	A int8
	B int64
	_ [4]byte
	C int32
}

func TestPlainZeroesPadding(t *testing.T) {
	c, err := codec.Plain[padded]()
	if err != nil {
		t.Fatal(err)
	}
	// Build a value whose padding and blank field hold garbage, as a stack copy may.
	var raw [3]uint64
	for i := range raw {
		raw[i] = math.MaxUint64
	}
	v := *(*padded)(unsafe.Pointer(&raw))
	v.A, v.B, v.C = 1, 2, 3
	out, err := c.Append(nil, v)
	if err != nil {
		t.Fatal(err)
	}
	clean, _ := c.Append(nil, padded{A: 1, B: 2, C: 3})
	if !bytes.Equal(out, clean) {
		t.Errorf("padding leaked:\n got %x\nwant %x", out, clean)
	}
	if !bytes.Equal(out[1:8], make([]byte, 7)) || !bytes.Equal(out[16:20], make([]byte, 4)) {
		t.Errorf("padding or blank field not zero: %x", out)
	}
}

func TestPlainDecodeErrors(t *testing.T) {
	c := codec.For[int64]()
	for _, n := range []int{0, 1, 7, 9, 16} {
		_, err := c.Decode(make([]byte, n))
		if !errors.Is(err, codec.ErrDecode) {
			t.Errorf("Decode of %d bytes: %v, want ErrDecode", n, err)
		}
	}
	if _, err := c.Decode(nil); err == nil || err.Error() != "codec: decode plain2:int64/8: want 8 bytes, got 0" {
		t.Errorf("unexpected message: %v", err)
	}

	// A bool byte other than 0 or 1 is not a Go bool: refuse it.
	g := codec.For[Grid]()
	enc, _ := g.Append(nil, Grid{Flags: [2]bool{true, true}})
	flags := int(unsafe.Offsetof(Grid{}.Flags))
	for _, bad := range []byte{2, 0x80, 0xff} {
		src := bytes.Clone(enc)
		src[flags+1] = bad
		if _, err := g.Decode(src); !errors.Is(err, codec.ErrDecode) {
			t.Errorf("bool byte %#x: %v, want ErrDecode", bad, err)
		}
	}
	// Bytes in padding are ignored, whatever they hold.
	src := bytes.Clone(enc)
	src[unsafe.Offsetof(Grid{}.Pairs)+2] = 0xff
	if got, err := g.Decode(src); err != nil || got.Flags != [2]bool{true, true} {
		t.Errorf("garbage in padding: %v %v", got, err)
	}
}

func TestPlainDecodeUnaligned(t *testing.T) {
	c := codec.For[Point]()
	want := Point{X: 3.5, Y: -1, ID: 1 << 40}
	for off := range 8 {
		buf := make([]byte, off, 64)
		buf, _ = c.Append(buf, want)
		got, err := c.Decode(buf[off:])
		if err != nil || got != want {
			t.Errorf("offset %d: %v %v", off, got, err)
		}
	}
}

func TestPlainDoesNotAllocate(t *testing.T) {
	if testing.CoverMode() != "" {
		t.Skip("coverage instrumentation allocates")
	}
	slot := make([]byte, 128)
	ci := codec.For[int64]()
	cg := codec.For[Grid]()
	var g Grid
	allocs := testing.AllocsPerRun(100, func() {
		out, _ := ci.Append(slot[:0], 42)
		_, _ = ci.Decode(out)
		out, _ = cg.Append(slot[:0], g)
		g, _ = cg.Decode(out)
	})
	if allocs != 0 {
		t.Errorf("Plain Append/Decode allocated %v times per run", allocs)
	}
}
