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
