package bitset_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/posixshm/posixshm/alloc/alloctest"
	"github.com/posixshm/posixshm/bitset"
	"github.com/posixshm/posixshm/segment"
)

// newSeg creates a uniquely named segment that is closed and removed when
// the test ends, pass or fail; alloctest.Reopen maps it again, as another
// process would.
func newSeg(t testing.TB, size int64) *segment.Segment {
	t.Helper()
	return alloctest.NewSegment(t, size)
}

func mustPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("%s: no panic", what)
			return
		}
		if msg := fmt.Sprint(r); !strings.Contains(msg, "index out of range") {
			t.Errorf("%s: panic %q, want an index out of range", what, msg)
		}
	}()
	fn()
}

// mustClaim claims bit i of an owned bitset, or fails the test.
func mustClaim(t *testing.T, b *bitset.Bitset, i int) {
	t.Helper()
	if ok, err := b.ClaimOwned(i); !ok || err != nil {
		t.Fatalf("ClaimOwned(%d) = %v, %v", i, ok, err)
	}
}

// blockBytes returns the bytes of the block of the object called name, for
// tests that read or corrupt them as a peer could.
func blockBytes(tb testing.TB, seg *segment.Segment, name string) []byte {
	tb.Helper()
	obj, err := seg.Lookup(name)
	if err != nil {
		tb.Fatal(err)
	}
	block, err := seg.Bytes(obj.Offset, obj.Size)
	if err != nil {
		tb.Fatal(err)
	}
	return block
}

// ownerWords returns the owner words of the owned bitset of n bits called
// name, raw.
func ownerWords(tb testing.TB, seg *segment.Segment, name string, n int) []uint64 {
	tb.Helper()
	obj, err := seg.Lookup(name)
	if err != nil {
		tb.Fatal(err)
	}
	words, err := segment.Slice[uint64](seg, obj.Offset+segment.Offset(bitset.OwnersOff(n)), n)
	if err != nil {
		tb.Fatal(err)
	}
	return words
}
