package codec_test

// Run with: go test -run '^$' -bench . -benchmem
//
// Peers for BenchmarkPlainInt64Append/Decode: BenchmarkMemmove8 is the floor, an
// inlined 8-byte store into a slot; BenchmarkHandInt64* go through the Codec interface
// with a hand-written, non-generic int64 codec, which is what the interface costs.

import (
	"encoding/binary"
	"testing"

	"github.com/posixshm/posixshm/codec"
)

var (
	sinkBytes []byte
	sinkInt   int64
)

func BenchmarkMemmove8(b *testing.B) {
	slot := make([]byte, 64)
	b.SetBytes(8)
	for i := 0; b.Loop(); i++ {
		binary.NativeEndian.PutUint64(slot[:8], uint64(i))
		sinkBytes = slot[:8]
	}
}

// handInt64 is the fastest Codec[int64] one could write by hand, without generics:
// the peer that shows what the interface call itself costs.
type handInt64 struct{}

func (handInt64) Append(dst []byte, v int64) ([]byte, error) {
	return binary.NativeEndian.AppendUint64(dst, uint64(v)), nil
}

func (handInt64) Decode(src []byte) (int64, error) {
	if len(src) != 8 {
		return 0, codec.ErrDecode
	}
	return int64(binary.NativeEndian.Uint64(src)), nil
}
func (handInt64) FixedSize() int { return 8 }
func (handInt64) ID() string     { return "hand:int64" }

// handCodec is a variable so that the compiler cannot devirtualize the calls, just as
// it cannot for a codec a structure holds.
var handCodec codec.Codec[int64] = handInt64{}

func BenchmarkHandInt64Append(b *testing.B) {
	c := handCodec
	slot := make([]byte, 64)
	b.SetBytes(8)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sinkBytes, _ = c.Append(slot[:0:len(slot)], int64(i))
	}
}

func BenchmarkHandInt64Decode(b *testing.B) {
	c := handCodec
	src, _ := c.Append(make([]byte, 0, 64), 42)
	b.SetBytes(8)
	b.ReportAllocs()
	for b.Loop() {
		sinkInt, _ = c.Decode(src)
	}
}

func BenchmarkPlainInt64Append(b *testing.B) {
	c := codec.For[int64]() // through the interface, as structures call it
	slot := make([]byte, 64)
	b.SetBytes(8)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sinkBytes, _ = c.Append(slot[:0:len(slot)], int64(i))
	}
}

func BenchmarkPlainInt64Decode(b *testing.B) {
	c := codec.For[int64]()
	src, _ := c.Append(make([]byte, 0, 64), 42)
	b.SetBytes(8)
	b.ReportAllocs()
	for b.Loop() {
		sinkInt, _ = c.Decode(src)
	}
}

func BenchmarkPlainGrid(b *testing.B) {
	c := codec.For[Grid]() // 96 bytes with padding to zero and bools to check
	slot := make([]byte, 128)
	v := Grid{Flags: [2]bool{true, false}}
	b.SetBytes(int64(c.FixedSize()))
	b.ReportAllocs()
	b.Run("Append", func(b *testing.B) {
		for b.Loop() {
			sinkBytes, _ = c.Append(slot[:0:len(slot)], v)
		}
	})
	enc, _ := c.Append(nil, v)
	b.Run("Decode", func(b *testing.B) {
		for b.Loop() {
			v, _ = c.Decode(enc)
		}
	})
}

func benchCodec[T any](b *testing.B, c codec.Codec[T], v T) {
	slot := make([]byte, 1024)
	enc, err := c.Append(nil, v)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("Append", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for b.Loop() {
			sinkBytes, _ = c.Append(slot[:0:len(slot)], v)
		}
	})
	b.Run("Decode", func(b *testing.B) {
		b.SetBytes(int64(len(enc)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Decode(enc); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkCBORStruct(b *testing.B) {
	benchCodec(b, codec.For[Task](), Task{Name: "process_data", ID: 42, Tags: []string{"etl", "daily"}, Score: 0.75})
}

func BenchmarkCBORMap(b *testing.B) {
	benchCodec(b, codec.For[map[string]any](), map[string]any{
		"name": "process_data", "id": 42, "priority": 1.5, "done": false,
		"tags": []any{"etl", "daily"}, "meta": map[string]any{"owner": "ops", "retries": 3},
	})
}
