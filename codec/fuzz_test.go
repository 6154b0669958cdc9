package codec_test

import (
	"bytes"
	"errors"
	"testing"
	"unsafe"

	"github.com/posixshm/posixshm/codec"
)

// cborProperty decodes data with c; whatever decodes must re-encode, decode again, and
// re-encode to the same bytes (the encoding is deterministic).
func cborProperty[T any](t *testing.T, c codec.Codec[T], data []byte) {
	v, err := c.Decode(data)
	if err != nil {
		if !errors.Is(err, codec.ErrDecode) {
			t.Fatalf("%s: error does not wrap ErrDecode: %v", c.ID(), err)
		}
		return
	}
	enc, err := c.Append(nil, v)
	if err != nil {
		// A few decoded values cannot be written back, e.g. a time beyond year 9999
		// (RFC 3339 has four digits); that must be a clean error, which it is here.
		t.Logf("%s: re-encode: %v", c.ID(), err)
		return
	}
	v2, err := c.Decode(enc)
	if err != nil {
		t.Fatalf("%s: own encoding %x of %x does not decode: %v", c.ID(), enc, data, err)
	}
	enc2, err := c.Append(nil, v2)
	if err != nil || !bytes.Equal(enc, enc2) {
		t.Fatalf("%s: not idempotent: %x then %x (%v)", c.ID(), enc, enc2, err)
	}
}

func FuzzCBORDecode(f *testing.F) {
	m := codec.For[map[string]any]()
	s := codec.For[Task]()
	small := codec.CBOR[map[string]any](codec.MaxDepth(4), codec.MaxArrayElements(16),
		codec.MaxMapPairs(16), codec.MaxStringLength(16))
	for _, v := range []map[string]any{
		{},
		{"name": "process_data", "id": 42, "tags": []any{"a", 1.5, nil, true}},
		{"nested": map[string]any{"deeper": map[string]any{"blob": []byte{1, 2}}}},
	} {
		b, _ := m.Append(nil, v)
		f.Add(b)
	}
	b, _ := s.Append(nil, Task{Name: "n", ID: -5, Tags: []string{"t"}, Blob: []byte{9}, Sub: &Task{Name: "c"}})
	f.Add(b)
	for _, seed := range [][]byte{
		{}, {0xa0}, {0xff}, {0xbf, 0x61, 'a', 0x01, 0xff}, {0x7f, 0x61, 'a', 0xff},
		{0xa1, 0x61, 'a', 0xc1, 0x1a, 0x65, 0x00, 0x00, 0x00},    // epoch time
		{0xa1, 0x61, 'a', 0xc2, 0x49, 1, 0, 0, 0, 0, 0, 0, 0, 0}, // bignum
		deep(40), {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cborProperty(t, m, data)
		cborProperty(t, s, data)
		cborProperty(t, small, data)
	})
}

func FuzzPlainDecode(f *testing.F) {
	g := codec.For[Grid]()
	i := codec.For[int64]()
	seed, _ := g.Append(nil, Grid{Flags: [2]bool{true, false}, Small: -1})
	f.Add(seed)
	f.Add([]byte{})
	f.Add(make([]byte, 8))
	f.Add(bytes.Repeat([]byte{0xff}, g.FixedSize()))
	f.Fuzz(func(t *testing.T, data []byte) {
		if v, err := i.Decode(data); err == nil {
			if len(data) != 8 {
				t.Fatalf("int64 decoded from %d bytes", len(data))
			}
			if enc, _ := i.Append(nil, v); !bytes.Equal(enc, data) {
				t.Fatalf("int64: %x re-encoded as %x", data, enc)
			}
		} else if !errors.Is(err, codec.ErrDecode) {
			t.Fatal(err)
		}
		v, err := g.Decode(data)
		if err != nil {
			if !errors.Is(err, codec.ErrDecode) {
				t.Fatal(err)
			}
			return
		}
		// Compare encodings, not values: a NaN field is not == to itself.
		enc, _ := g.Append(nil, v)
		v2, err := g.Decode(enc)
		if err != nil {
			t.Fatalf("Grid: own encoding %x does not decode: %v", enc, err)
		}
		if enc2, _ := g.Append(nil, v2); !bytes.Equal(enc, enc2) {
			t.Fatalf("Grid: %x re-encoded as %x, then %x", data, enc, enc2)
		}
		// Outside padding, the bytes are exactly the input.
		zeroed := bytes.Clone(data)
		var z Grid
		pairs := int(unsafe.Offsetof(z.Pairs))
		clear(zeroed[unsafe.Offsetof(z.Small)+1 : pairs]) // after Small, before Pairs
		for i := range z.Pairs {
			p := pairs + i*int(unsafe.Sizeof(z.Pairs[0]))
			clear(zeroed[p+2 : p+8]) // after Pairs[i].A, before Pairs[i].B
		}
		if !bytes.Equal(enc, zeroed) {
			t.Fatalf("Grid: %x re-encoded as %x, want %x", data, enc, zeroed)
		}
	})
}

func FuzzBytesString(f *testing.F) {
	f.Add([]byte{}, []byte{})
	f.Add([]byte("hdr"), []byte("hello"))
	f.Add([]byte{}, []byte{0xff, 0x00, 0xc3})
	b, s := codec.Bytes(), codec.String()
	f.Fuzz(func(t *testing.T, prefix, data []byte) {
		out, err := b.Append(bytes.Clone(prefix), data)
		if err != nil || !bytes.Equal(out[:len(prefix)], prefix) {
			t.Fatalf("Bytes.Append: %v", err)
		}
		got, err := b.Decode(out[len(prefix):])
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("Bytes: %x came back as %x (%v)", data, got, err)
		}
		out, err = s.Append(bytes.Clone(prefix), string(data))
		if err != nil {
			t.Fatal(err)
		}
		str, err := s.Decode(out[len(prefix):])
		if err != nil || str != string(data) {
			t.Fatalf("String: %q came back as %q (%v)", data, str, err)
		}
	})
}
