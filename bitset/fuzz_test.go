package bitset_test

import (
	"encoding/binary"
	"errors"
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
	block := blockBytes(f, seg, "fuzz")
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

// FuzzOwnerWords writes random bytes over an owned bitset's block (header,
// counters, bits and owner words), as a buggy or hostile peer could, then
// attaches: Open must fail or give a Bitset whose owned operations work
// without panicking; ReleaseOrphans must leave no word naming an
// attachment that is not alive, and a bit it releases must be claimable.
func FuzzOwnerWords(f *testing.F) {
	const n = 100
	seg := newSeg(f, 1<<20)
	b, err := bitset.New(seg, "fuzz", n, bitset.Owned())
	if err != nil {
		f.Fatal(err)
	}
	slot, gen := seg.Slot()
	block := blockBytes(f, seg, "fuzz")
	if ok, err := b.ClaimOwned(3); !ok || err != nil {
		f.Fatal(ok, err)
	}
	pristine := append([]byte(nil), block...)
	owners := bitset.OwnersOff(n)

	// Seeds: the pristine block; owner words of gone, corrupt and live
	// owners; a header claiming more bits than the block holds.
	f.Add(0, pristine[:0])
	word := func(ws ...uint64) []byte {
		var out []byte
		for _, w := range ws {
			out = binary.NativeEndian.AppendUint64(out, w)
		}
		return out
	}
	f.Add(owners, word(bitset.OwnerWord(bitset.OwnHeld, 7, 9), 1<<40, bitset.OwnerWord(bitset.OwnHeld, slot, gen)|1<<50, bitset.OwnerWord(bitset.OwnClaiming, slot, gen)))
	f.Add(owners+8*(n-2), word(bitset.OwnerWord(bitset.OwnReleasing, slot, gen+1), ^uint64(0)))
	f.Add(16, word(1<<20))
	f.Add(bitset.OwnedBitsOff, word(^uint64(0), ^uint64(0)))

	f.Fuzz(func(t *testing.T, at int, data []byte) {
		copy(block, pristine)
		if at < 0 || at > len(block) {
			return
		}
		copy(block[at:], data)
		c, err := bitset.Open(seg, "fuzz")
		if err != nil {
			return
		}
		if c.Len() != n || !c.HasOwners() {
			t.Fatalf("attached with Len %d, owners %v", c.Len(), c.HasOwners())
		}
		for i, o := range c.Owners() {
			if i < 0 || i >= n {
				t.Fatalf("Owners yielded %d (%+v)", i, o)
			}
		}
		c.Stats()
		if _, err := c.ReleaseOrphans(); err != nil {
			t.Fatalf("ReleaseOrphans: %v", err)
		}
		for i, o := range c.Owners() {
			if !seg.Alive(o.Slot, o.Gen) {
				t.Fatalf("after ReleaseOrphans bit %d is owned by %+v, not alive", i, o)
			}
		}
		for i := range n {
			if _, owned := c.Owner(i); owned || c.Test(i) {
				continue
			}
			if ok, err := c.ClaimOwned(i); !ok || err != nil {
				t.Fatalf("ClaimOwned(%d) of a free bit = %v, %v", i, ok, err)
			}
			if err := c.ReleaseOwned(i); err != nil {
				t.Fatalf("ReleaseOwned(%d): %v", i, err)
			}
		}
		if i, err := c.ClaimAnyOwned(); err == nil {
			if err := c.ReleaseOwned(i); err != nil {
				t.Fatalf("ReleaseOwned(%d) after ClaimAnyOwned: %v", i, err)
			}
		} else if !errors.Is(err, bitset.ErrFull) {
			t.Fatalf("ClaimAnyOwned: %v", err)
		}
		c.ReleaseOwned(3)
	})
}
