package stack

import (
	"encoding/binary"
	"math"

	"github.com/posixshm/posixshm/codec"
)

// The word fast path, as in the queue (the modules do not import each
// other). A stack of a plain 8-byte number (int64, uint64, int, uint,
// float64) with the default codec stores each item as one native-endian word
// at the start of the cell's data, which is exactly what the plain codec
// writes. Push and Pop then move the word themselves instead of calling the
// codec through its interface and borrowing a scratch buffer from a
// sync.Pool. The bytes in shared memory are the same either way, so handles
// with and without the fast path share a stack.

// wordCodec reports whether c stores T as its native-endian 8-byte word:
// T is one of the kinds toWord and fromWord handle, c has the default codec's
// ID, and a probe value round-trips to the expected bytes.
func wordCodec[T any](c codec.Codec[T]) bool {
	var probe T
	if _, ok := toWord(probe); !ok || c.FixedSize() != 8 || c.ID() != codec.For[T]().ID() {
		return false
	}
	const want = 0x0102030405060708
	probe = fromWord[T](want)
	b, err := c.Append(make([]byte, 0, 8), probe)
	if err != nil || len(b) != 8 || binary.NativeEndian.Uint64(b) != want {
		return false
	}
	back, err := c.Decode(b)
	if w, _ := toWord(back); err != nil || w != want {
		return false
	}
	return true
}

// toWord returns v's bits when T is one of the word kinds. The conversion to
// any does not escape, so it does not allocate.
func toWord[T any](v T) (uint64, bool) {
	switch x := any(v).(type) {
	case int64:
		return uint64(x), true
	case uint64:
		return x, true
	case int:
		return uint64(x), true
	case uint:
		return uint64(x), true
	case float64:
		return math.Float64bits(x), true
	}
	return 0, false
}

// fromWord is toWord's inverse; for other types it returns the zero T.
func fromWord[T any](w uint64) T {
	var v T
	switch p := any(&v).(type) {
	case *int64:
		*p = int64(w)
	case *uint64:
		*p = w
	case *int:
		*p = int(w)
	case *uint:
		*p = uint(w)
	case *float64:
		*p = math.Float64frombits(w)
	}
	return v
}
