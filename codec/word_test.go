package codec_test

import (
	"math"
	"testing"

	"github.com/posixshm/posixshm/codec"
)

func TestWord(t *testing.T) {
	if !codec.IsWord(codec.For[int64]()) || !codec.IsWord(codec.For[float64]()) || !codec.IsWord(codec.For[uint]()) {
		t.Fatal("8-byte numbers under the default codec are words")
	}
	if codec.IsWord(codec.For[int32]()) || codec.IsWord(codec.For[string]()) || codec.IsWord(codec.CBOR[int64]()) {
		t.Fatal("IsWord accepted a non-word codec")
	}
	if w, ok := codec.ToWord(math.Pi); !ok || codec.FromWord[float64](w) != math.Pi {
		t.Fatal("float64 round trip")
	}
	if w, ok := codec.ToWord(int64(-5)); !ok || codec.FromWord[int64](w) != -5 {
		t.Fatal("int64 round trip")
	}
	if _, ok := codec.ToWord("x"); ok {
		t.Fatal("a string is not a word")
	}
}

// WordBits and FromWordBits must agree with ToWord and FromWord on every
// word kind, since handles using either share the same cells.
func TestWordBits(t *testing.T) {
	for _, v := range []int64{0, 1, -1, math.MaxInt64, math.MinInt64} {
		w, _ := codec.ToWord(v)
		if got := codec.WordBits(v); got != w {
			t.Fatalf("WordBits(%d) = %#x, ToWord %#x", v, got, w)
		}
		if back := codec.FromWordBits[int64](w); back != v {
			t.Fatalf("FromWordBits(%#x) = %d, want %d", w, back, v)
		}
	}
	for _, f := range []float64{0, math.Pi, math.Inf(-1), math.Copysign(0, -1)} {
		w, _ := codec.ToWord(f)
		if codec.WordBits(f) != w || math.Float64bits(codec.FromWordBits[float64](w)) != math.Float64bits(f) {
			t.Fatalf("float64 %v does not round-trip", f)
		}
	}
	if w, _ := codec.ToWord(uint(7)); codec.WordBits(uint(7)) != w || codec.FromWordBits[uint](w) != 7 {
		t.Fatal("uint round trip")
	}
	if codec.WordBits(int32(-1)) != 0 || codec.FromWordBits[int32](^uint64(0)) != 0 {
		t.Fatal("a 4-byte T must not be read or written as 8 bytes")
	}
}
