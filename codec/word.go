package codec

import (
	"encoding/binary"
	"math"
)

// The word fast path. A plain 8-byte number (int64, uint64, int, uint,
// float64) under the default codec is stored as its native-endian 8-byte
// word, exactly what the Plain codec writes. Structures that keep such
// values in fixed cells (queue, stack) move the word themselves instead of
// calling the codec through its interface (two indirect calls that cannot
// be inlined, about 5 ns of a 40 ns push+pop pair). The bytes in shared
// memory are the same either way, so handles with and without the fast path
// share a structure.

// IsWord reports whether c stores T as its native-endian 8-byte word: T is
// one of the kinds ToWord and FromWord handle, c has the default codec's ID,
// and a probe value round-trips to the expected bytes. Call it once, when a
// structure is opened.
func IsWord[T any](c Codec[T]) bool {
	var probe T
	if _, ok := ToWord(probe); !ok || c.FixedSize() != 8 || c.ID() != For[T]().ID() {
		return false
	}
	const want = 0x0102030405060708
	probe = FromWord[T](want)
	b, err := c.Append(make([]byte, 0, 8), probe)
	if err != nil || len(b) != 8 || binary.NativeEndian.Uint64(b) != want {
		return false
	}
	back, err := c.Decode(b)
	if w, _ := ToWord(back); err != nil || w != want {
		return false
	}
	return true
}

// ToWord returns v's bits when T is one of the word kinds. The conversion to
// any does not escape, so it does not allocate.
func ToWord[T any](v T) (uint64, bool) {
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

// WordBits is ToWord for a hot path that has already checked T once with
// IsWord: it reads v's 8 bytes in place, with no type switch, and inlines.
// For a T that IsWord did not accept the result is meaningless.
func WordBits[T any](v T) uint64 { return wordBits(v) }

// FromWordBits is WordBits's inverse, under the same condition: T must be a
// type IsWord accepted (an 8-byte number), never a pointer or other type
// whose bits are not free to choose.
func FromWordBits[T any](w uint64) T { return fromWordBits[T](w) }

// FromWord is ToWord's inverse; for other types it returns the zero T.
func FromWord[T any](w uint64) T {
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
