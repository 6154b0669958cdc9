package alloc_test

import (
	"strings"
	"testing"

	"github.com/posixshm/posixshm/alloc"
)

// TestCheckCorruptClass is the regression test for a panic the corruption
// campaign (conformance TestCorruptionCampaign) found: Check indexed its
// per-class counts with the class byte of a block's state word, so a
// corrupt class (>= the number of classes) in an allocated block was an
// index-out-of-range panic instead of a reported problem.
func TestCheckCorruptClass(t *testing.T) {
	s := newSegment(t, 1<<20)
	a, err := alloc.Of(s)
	if err != nil {
		t.Fatal(err)
	}
	off, err := a.Alloc(100)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := s.Bytes(off-16, 16)
	if err != nil {
		t.Fatal(err)
	}
	for _, class := range []byte{0xff, 0x80} {
		hdr[1] = class // bits[8:16] of the state word: the size class
		r := a.Check()
		if !strings.Contains(strings.Join(r.Problems, "\n"), "names class") {
			t.Errorf("class %#x: Check problems %q, want the bad class reported", class, r.Problems)
		}
	}
}

// TestReclaimCorruptClass is the regression test for the second panic the
// corruption campaign found: ReclaimDead (and the recovery hook) freed an
// owned block of a dead owner using the class byte of its state word
// unchecked, so a corrupt class indexed past the free lists.
func TestReclaimCorruptClass(t *testing.T) {
	s := newSegment(t, 1<<20)
	a, err := alloc.Of(s)
	if err != nil {
		t.Fatal(err)
	}
	off, err := a.Alloc(100)
	if err != nil {
		t.Fatal(err)
	}
	hdr, err := s.Bytes(off-16, 16)
	if err != nil {
		t.Fatal(err)
	}
	for _, class := range []byte{0xff, 0x80, 3} { // 3: a valid class its chunk was not cut for
		hdr[0] = 2                  // owned
		hdr[1] = class              // size class
		hdr[2], hdr[3] = 0xfe, 0xff // owner slot 65534: no such attachment, so dead
		if _, err := a.ReclaimDead(); err != nil {
			t.Logf("class %#x: ReclaimDead: %v", class, err)
		}
		if hdr[0] != 2 {
			t.Errorf("class %#x: ReclaimDead freed a block whose class its chunk contradicts", class)
		}
	}
}
