package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/posixshm/posixshm/bitset"
	"github.com/posixshm/posixshm/segment"
)

// TestDescribeOwnedBitset: info shows an owned bitset's owners, and how
// many of them are no longer attached.
func TestDescribeOwnedBitset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "owned.shm")
	seg, err := segment.CreateFile(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	b, err := bitset.New(seg, "slots", 64, bitset.Owned())
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := b.ClaimOwned(1); !ok || err != nil {
		t.Fatal(ok, err)
	}
	gone, err := segment.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	g, _ := bitset.Open(gone, "slots")
	if ok, err := g.ClaimOwned(2); !ok || err != nil {
		t.Fatal(ok, err)
	}
	gone.Close() // closed holding bit 2
	obj, err := seg.Lookup("slots")
	if err != nil {
		t.Fatal(err)
	}
	oi := describe(seg, obj)
	if want := "2 owned (1 by attachments not alive), 0 released"; oi.Length != 2 || !strings.Contains(oi.Detail, want) {
		t.Errorf("describe: length %d, detail %q, want 2 and %q", oi.Length, oi.Detail, want)
	}
}
