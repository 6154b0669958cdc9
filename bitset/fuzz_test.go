package bitset_test

import (
	"encoding/binary"
	"testing"

	"github.com/posixshm/posixshm/bitset"
)

// FuzzAttach writes random bytes over a bitset's header and words, as a
// buggy or hostile peer could, then attaches: Open must either fail or give
// a Bitset whose every method works without panicking.
func FuzzAttach(f *testing.F) {
	good := make([]byte, bitset.HeaderSize+16)
	binary.NativeEndian.PutUint64(good[0:], bitset.Magic)
	binary.NativeEndian.PutUint32(good[8:], bitset.LayoutVersion)
	binary.NativeEndian.PutUint64(good[16:], 100)
	binary.NativeEndian.PutUint64(good[24:], 2)
	f.Add(good)
	bad := append([]byte(nil), good...)
	binary.NativeEndian.PutUint64(bad[16:], 1<<40)
	f.Add(bad)
	f.Add(append(good[:64:64], 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8))
	f.Add([]byte{})

	seg := newSeg(f, 1<<20)
	if _, err := bitset.New(seg, "fuzz", 100); err != nil {
		f.Fatal(err)
	}
	obj, err := seg.Lookup("fuzz")
	if err != nil {
		f.Fatal(err)
	}
	block, err := seg.Bytes(obj.Offset, obj.Size)
	if err != nil {
		f.Fatal(err)
	}
	pristine := append([]byte(nil), block...)
	f.Fuzz(func(t *testing.T, data []byte) {
		copy(block, pristine)
		copy(block, data)
		b, err := bitset.Open(seg, "fuzz")
		if err != nil {
			return
		}
		n := b.Len()
		if n != 100 {
			t.Fatalf("attached with Len %d, the directory says 100", n)
		}
		c := 0
		for i := range b.Ones() {
			if i < 0 || i >= n || !b.Test(i) {
				t.Fatalf("Ones yielded %d", i)
			}
			c++
		}
		if c != b.Count() {
			t.Fatalf("Ones gave %d bits, Count %d", c, b.Count())
		}
		b.Any()
		b.All()
		b.NextSet(0)
		b.NextClear(n - 1)
		b.Flip(n - 1)
		b.TestAndClear(0)
		b.SetAll()
		if !b.All() || b.Count() != n {
			t.Fatalf("after SetAll: All %v Count %d", b.All(), b.Count())
		}
		b.ClearAll()
	})
}
