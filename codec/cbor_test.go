package codec_test

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/posixshm/posixshm/codec"
)

func TestCBORTime(t *testing.T) {
	type event struct{ At time.Time }
	at := time.Date(2024, 5, 6, 7, 8, 9, 123456789, time.FixedZone("", 2*3600))
	got := roundTrip(t, codec.For[event](), event{At: at})
	if !got.At.Equal(at) || got.At.Nanosecond() != 123456789 {
		t.Errorf("time lost precision: got %v, want %v", got.At, at)
	}
}

func TestCBORDeterministic(t *testing.T) {
	c := codec.For[map[string]any]()
	m := map[string]any{}
	for _, k := range strings.Fields("q w e r t y u i o p a s d f g h j k l") {
		m[k] = k
	}
	first, _ := c.Append(nil, m)
	for range 20 {
		if again, _ := c.Append(nil, m); !bytes.Equal(first, again) {
			t.Fatal("equal maps encoded to different bytes")
		}
	}
}

// deep returns n nested one-element CBOR arrays around 0.
func deep(n int) []byte { return append(bytes.Repeat([]byte{0x81}, n), 0x00) }

func TestCBORDecodeLimits(t *testing.T) {
	m := codec.For[map[string]any]()
	a := codec.For[any]()
	small := codec.CBOR[any](codec.MaxDepth(4), codec.MaxArrayElements(16), codec.MaxMapPairs(16), codec.MaxStringLength(8))

	textOf := func(n int) []byte { // definite text string of n 'x'
		return append([]byte{0x79, byte(n >> 8), byte(n)}, bytes.Repeat([]byte{'x'}, n)...)
	}
	arrayOf := func(n int) []byte {
		return append([]byte{0x99, byte(n >> 8), byte(n)}, make([]byte, n)...)
	}
	mapOf := func(n int) []byte {
		b := []byte{0xb9, byte(n >> 8), byte(n)}
		for i := range n {
			b = append(b, 0x62, 'a'+byte(i/26), 'a'+byte(i%26), 0x00)
		}
		return b
	}
	cases := []struct {
		name string
		dec  func([]byte) error
		src  []byte
	}{
		{"depth default", func(b []byte) error { _, err := a.Decode(b); return err }, deep(codec.DefaultMaxDepth + 1)},
		{"depth map", func(b []byte) error { _, err := m.Decode(b); return err },
			append(bytes.Repeat([]byte{0xa1, 0x61, 'k'}, 40), 0x00)},
		{"depth option", func(b []byte) error { _, err := small.Decode(b); return err }, deep(5)},
		{"array option", func(b []byte) error { _, err := small.Decode(b); return err }, arrayOf(17)},
		{"map option", func(b []byte) error { _, err := small.Decode(b); return err }, mapOf(17)},
		{"text option", func(b []byte) error { _, err := small.Decode(b); return err }, textOf(9)},
		{"bytes option", func(b []byte) error { _, err := small.Decode(b); return err },
			append([]byte{0x49}, make([]byte, 9)...)},
		{"indefinite chunks option", func(b []byte) error { _, err := small.Decode(b); return err },
			[]byte{0x7f, 0x65, 'a', 'b', 'c', 'd', 'e', 0x65, 'f', 'g', 'h', 'i', 'j', 0xff}},
		{"declared huge array", func(b []byte) error { _, err := a.Decode(b); return err },
			[]byte{0x9a, 0x7f, 0xff, 0xff, 0xff, 0x00}},
		{"declared huge map", func(b []byte) error { _, err := m.Decode(b); return err },
			[]byte{0xbb, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00}},
		{"declared huge text", func(b []byte) error { _, err := a.Decode(b); return err },
			[]byte{0x7b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 'x'}},
		{"declared huge bytes", func(b []byte) error { _, err := a.Decode(b); return err },
			[]byte{0x5a, 0x10, 0x00, 0x00, 0x00, 'x'}},
	}
	for _, c := range cases {
		err := c.dec(c.src)
		if !errors.Is(err, codec.ErrDecode) || !errors.Is(err, codec.ErrTooLarge) {
			t.Errorf("%s: got %v, want ErrDecode and ErrTooLarge", c.name, err)
		}
	}
	// Just under each limit decodes.
	for _, src := range [][]byte{deep(4 - 1), arrayOf(16), mapOf(16), textOf(8),
		{0x7f, 0x64, 'a', 'b', 'c', 'd', 0x64, 'e', 'f', 'g', 'h', 0xff}, // indefinite, 8 in all
	} {
		if _, err := small.Decode(src); err != nil {
			t.Errorf("%x: %v", src[:3], err)
		}
	}
}

func TestCBORTinyInputHugeDeclarationDoesNotAllocate(t *testing.T) {
	a := codec.For[any]()
	inputs := [][]byte{
		{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00}, // 2^64-1 elements
		{0x9a, 0x00, 0x01, 0xff, 0xff, 0x00},                         // 131071: within the limit, truncated
		{0xba, 0x00, 0x01, 0xff, 0xff, 0x61, 'a', 0x00},              // map, same
		{0x5b, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x00}, // 256 MiB byte string
		{0x7a, 0x00, 0xff, 0xff, 0xff, 'x'},                          // 16 MiB text, within the limit
		{0x9f, 0x9a, 0x00, 0x01, 0x00, 0x00, 0xff},                   // indefinite around a huge one
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	const rounds = 100
	for range rounds {
		for _, in := range inputs {
			if _, err := a.Decode(in); !errors.Is(err, codec.ErrDecode) {
				t.Fatalf("%x: %v", in, err)
			}
		}
	}
	runtime.ReadMemStats(&after)
	perDecode := (after.TotalAlloc - before.TotalAlloc) / rounds / uint64(len(inputs))
	if perDecode > 4096 {
		t.Errorf("a tiny bad input allocated %d bytes per Decode", perDecode)
	}
}

func TestCBORDecodeGarbage(t *testing.T) {
	m := codec.For[map[string]any]()
	s := codec.For[Task]()
	a := codec.For[any]()
	garbage := [][]byte{
		nil,
		{},
		{0xff},                             // lone break
		{0x1c},                             // reserved additional information
		{0xf8, 0x00},                       // simple value in two-byte form below 32
		{0x61},                             // truncated text
		{0x62, 0xc3, 0x28},                 // invalid UTF-8
		{0xa2, 0x61, 'a', 1, 0x61, 'a', 2}, // duplicate key
		{0x00, 0x00},                       // trailing data
		{0x5f, 0x61, 'a', 0xff},            // indefinite bytes with a text chunk
		{0xa1, 0x01, 0x02},                 // integer key into map[string]any
	}
	for _, g := range garbage {
		if _, err := m.Decode(g); !errors.Is(err, codec.ErrDecode) {
			t.Errorf("map %x: %v, want ErrDecode", g, err)
		}
		if _, err := s.Decode(g); !errors.Is(err, codec.ErrDecode) && len(g) > 0 && g[0] != 0xa1 {
			t.Errorf("struct %x: %v, want ErrDecode", g, err)
		}
	}
	if _, err := s.Decode([]byte{0x63, 'a', 'b', 'c'}); !errors.Is(err, codec.ErrDecode) {
		t.Errorf("text into struct: %v", err)
	}
	if _, err := m.Decode([]byte{0x81, 0x00}); !errors.Is(err, codec.ErrDecode) {
		t.Errorf("array into map: %v", err)
	}
	// Every proper prefix of a valid encoding is an error (CBOR is prefix-free).
	enc, err := s.Append(nil, Task{Name: "n", ID: 1 << 40, Tags: []string{"x", "y"}, Blob: []byte{1}, Sub: &Task{}})
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(enc) {
		if _, err := s.Decode(enc[:n]); !errors.Is(err, codec.ErrDecode) {
			t.Errorf("struct prefix %d/%d: %v", n, len(enc), err)
		}
		if _, err := a.Decode(enc[:n]); !errors.Is(err, codec.ErrDecode) {
			t.Errorf("any prefix %d/%d: %v", n, len(enc), err)
		}
	}
}

func TestCBORAppendRefusesWhatDecodeRefuses(t *testing.T) {
	small := codec.CBOR[any](codec.MaxDepth(4), codec.MaxArrayElements(16), codec.MaxStringLength(8))
	deepValue := any(int64(0))
	for range 5 {
		deepValue = []any{deepValue}
	}
	for name, v := range map[string]any{
		"depth":  deepValue,
		"array":  make([]any, 17),
		"string": "123456789",
		"bytes":  []byte("123456789"),
		"key":    map[string]any{"123456789": 1},
	} {
		out, err := small.Append([]byte("x"), v)
		if !errors.Is(err, codec.ErrTooLarge) || errors.Is(err, codec.ErrDecode) {
			t.Errorf("%s: got %v, want ErrTooLarge only", name, err)
		}
		if string(out) != "x" {
			t.Errorf("%s: failed Append returned %q, want dst", name, out)
		}
	}
	if _, err := codec.For[string]().Append(nil, "\xff"); err != nil {
		t.Errorf("raw strings need not be UTF-8: %v", err)
	}
	if _, err := codec.For[any]().Append(nil, "\xff"); err == nil || !strings.Contains(err.Error(), "UTF-8") {
		t.Errorf("invalid UTF-8 text in CBOR: %v", err)
	}
	if _, err := codec.For[any]().Append(nil, make(chan int)); err == nil {
		t.Error("a chan encoded")
	}
}

func TestCBOROptionsOutOfRangePanic(t *testing.T) {
	for name, opt := range map[string]codec.CBOROption{
		"MaxDepth(3)":          codec.MaxDepth(3),
		"MaxDepth(65536)":      codec.MaxDepth(65536),
		"MaxArrayElements(15)": codec.MaxArrayElements(15),
		"MaxMapPairs(0)":       codec.MaxMapPairs(0),
		"MaxStringLength(0)":   codec.MaxStringLength(0),
	} {
		func() {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, name) {
					t.Errorf("%s: recovered %v", name, r)
				}
			}()
			codec.CBOR[any](opt)
		}()
	}
}

func TestCBORErrorMessage(t *testing.T) {
	_, err := codec.For[Task]().Decode([]byte{0x61})
	if err == nil || !strings.HasPrefix(err.Error(), "codec: decode cbor:codec_test.Task: ") {
		t.Errorf("message %q", err)
	}
}
