package bitset_test

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/posixshm/posixshm/alloc/alloctest"
	"github.com/posixshm/posixshm/bitset"
	"github.com/posixshm/posixshm/segment"
)

func TestOwnedNewAttach(t *testing.T) {
	seg := newSeg(t, 1<<20)
	b, err := bitset.New(seg, "owned", 100, bitset.Owned())
	if err != nil {
		t.Fatal(err)
	}
	if !b.HasOwners() || b.Len() != 100 || !b.None() {
		t.Fatalf("HasOwners %v Len %d None %v", b.HasOwners(), b.Len(), b.None())
	}
	mustClaim(t, b, 42)
	seg2 := alloctest.Reopen(t, seg)
	for what, attach := range map[string]func() (*bitset.Bitset, error){
		"New same options":   func() (*bitset.Bitset, error) { return bitset.New(seg, "owned", 100, bitset.Owned()) },
		"New size 0":         func() (*bitset.Bitset, error) { return bitset.New(seg, "owned", 0) },
		"New size 0, Owned":  func() (*bitset.Bitset, error) { return bitset.New(seg, "owned", 0, bitset.Owned()) },
		"Open":               func() (*bitset.Bitset, error) { return bitset.Open(seg, "owned") },
		"Open other mapping": func() (*bitset.Bitset, error) { return bitset.Open(seg2, "owned") },
	} {
		c, err := attach()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		o, ok := c.Owner(42)
		if slot, gen := seg.Slot(); !c.HasOwners() || !ok || o != (bitset.Owner{Slot: slot, Gen: gen}) || !c.Test(42) {
			t.Errorf("%s: HasOwners %v, Owner(42) %+v %v, Test %v", what, c.HasOwners(), o, ok, c.Test(42))
		}
	}

	// Owners or not is part of what must match, and the error says so.
	if _, err := bitset.New(seg, "plain", 100); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name       string
		opts       []bitset.Option
		want, fond string
	}{
		{"owned", nil, "without owners", "with owners"},
		{"plain", []bitset.Option{bitset.Owned()}, "with owners", "without owners"},
	} {
		_, err := bitset.New(seg, c.name, 100, c.opts...)
		if !errors.Is(err, bitset.ErrMismatch) || !strings.Contains(err.Error(), "want 100 bits "+c.want) || !strings.Contains(err.Error(), "found 100 bits "+c.fond) {
			t.Errorf("New(%s) with the other layout: %v, want ErrMismatch naming both sides", c.name, err)
		}
	}
	if _, err := bitset.New(seg, "plain", 0, bitset.Owned()); !errors.Is(err, bitset.ErrMismatch) || !strings.Contains(err.Error(), "without owners") {
		t.Errorf("New(plain, 0, Owned): %v, want ErrMismatch", err)
	}
	if _, err := bitset.New(seg, "owned", 200, bitset.Owned()); !errors.Is(err, bitset.ErrMismatch) || !strings.Contains(err.Error(), "want 200 bits, found 100 bits") {
		t.Errorf("New with another size: %v", err)
	}

	// A plain bitset has no owned operations.
	p, _ := bitset.Open(seg, "plain")
	if p.HasOwners() {
		t.Error("plain bitset HasOwners")
	}
	if _, err := p.ClaimOwned(1); !errors.Is(err, bitset.ErrNoOwners) {
		t.Errorf("ClaimOwned on a plain bitset: %v", err)
	}
	if _, err := p.ClaimAnyOwned(); !errors.Is(err, bitset.ErrNoOwners) {
		t.Errorf("ClaimAnyOwned on a plain bitset: %v", err)
	}
	if err := p.ReleaseOwned(1); !errors.Is(err, bitset.ErrNoOwners) {
		t.Errorf("ReleaseOwned on a plain bitset: %v", err)
	}
	if _, err := p.ReleaseOrphans(); !errors.Is(err, bitset.ErrNoOwners) {
		t.Errorf("ReleaseOrphans on a plain bitset: %v", err)
	}
	p.Set(1)
	if _, ok := p.Owner(1); ok {
		t.Error("plain bitset: Owner says owned")
	}
	for range p.Owners() {
		t.Error("plain bitset: Owners yields")
	}
	if st := p.Stats(); st.Owned != 0 || st.Released != 0 || st.Set != 1 {
		t.Errorf("plain stats %+v", st)
	}

	// A read-only handle reads owners but cannot own.
	ro, err := segment.Open(seg.Name(), segment.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	r, err := bitset.Open(ro, "owned")
	if err != nil {
		t.Fatal(err)
	}
	if o, ok := r.Owner(42); !ok || o.Slot != 0 {
		t.Errorf("read-only Owner(42) = %+v %v", o, ok)
	}
	if _, err := r.ClaimOwned(1); !errors.Is(err, bitset.ErrReadOnly) {
		t.Errorf("read-only ClaimOwned: %v", err)
	}
	if err := r.ReleaseOwned(42); !errors.Is(err, bitset.ErrReadOnly) {
		t.Errorf("read-only ReleaseOwned: %v", err)
	}
	if st := r.Stats(); st.Owned != 1 || st.Set != 1 {
		t.Errorf("read-only stats %+v", st)
	}
}

func TestOwnedClaimRelease(t *testing.T) {
	seg := newSeg(t, 1<<20)
	b, _ := bitset.New(seg, "owned", 70, bitset.Owned())
	peerSeg := alloctest.Reopen(t, seg)
	peer, _ := bitset.Open(peerSeg, "owned")
	slot, gen := seg.Slot()
	me := bitset.Owner{Slot: slot, Gen: gen}

	if ok, err := b.ClaimOwned(65); !ok || err != nil {
		t.Fatalf("ClaimOwned = %v, %v", ok, err)
	}
	if o, ok := peer.Owner(65); !ok || o != me || !peer.Test(65) {
		t.Fatalf("Owner(65) = %+v %v, Test %v", o, ok, peer.Test(65))
	}
	for who, c := range map[string]*bitset.Bitset{"owner": b, "peer": peer} {
		if ok, err := c.ClaimOwned(65); ok || err != nil {
			t.Errorf("%s claims a held bit: %v, %v", who, ok, err)
		}
	}
	err := peer.ReleaseOwned(65)
	if !errors.Is(err, bitset.ErrNotOwner) || !strings.Contains(err.Error(), fmt.Sprintf("by slot %d gen %d", slot, gen)) {
		t.Errorf("peer releases the owner's bit: %v, want ErrNotOwner naming the owner", err)
	}
	if err := b.ReleaseOwned(65); err != nil {
		t.Fatal(err)
	}
	if _, ok := b.Owner(65); ok || b.Test(65) {
		t.Errorf("after ReleaseOwned: owned %v, set %v", ok, b.Test(65))
	}
	if err := b.ReleaseOwned(65); !errors.Is(err, bitset.ErrNotOwner) || !strings.Contains(err.Error(), "by nobody") {
		t.Errorf("second ReleaseOwned: %v", err)
	}
	if ok, _ := peer.ClaimOwned(65); !ok {
		t.Error("peer cannot claim a released bit")
	}

	// A bit set by a plain operation has no owner and cannot be claimed;
	// the failed claim leaves it as it was.
	b.Set(7)
	if ok, err := b.ClaimOwned(7); ok || err != nil {
		t.Errorf("ClaimOwned of a plainly set bit = %v, %v", ok, err)
	}
	if _, ok := b.Owner(7); ok || !b.Test(7) {
		t.Errorf("plainly set bit after a failed claim: owned %v, set %v", ok, b.Test(7))
	}

	pslot, pgen := peerSeg.Slot()
	want := map[int]bitset.Owner{65: {Slot: pslot, Gen: pgen}}
	got := map[int]bitset.Owner{}
	for i, o := range b.Owners() {
		got[i] = o
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Owners %v, want %v", got, want)
	}
	mustPanic(t, "ClaimOwned(70)", func() { b.ClaimOwned(70) })
	mustPanic(t, "ReleaseOwned(-1)", func() { b.ReleaseOwned(-1) })
	mustPanic(t, "Owner(70)", func() { b.Owner(70) })
}

func TestClaimAnyOwned(t *testing.T) {
	seg := newSeg(t, 1<<20)
	const n = 130
	b, _ := bitset.New(seg, "slots", n, bitset.Owned())
	peer, _ := bitset.Open(alloctest.Reopen(t, seg), "slots")
	b.Set(1) // plainly set: skipped
	for k := range n - 1 {
		c := b
		if k%2 == 1 {
			c = peer
		}
		i, err := c.ClaimAnyOwned()
		want := k
		if k >= 1 {
			want = k + 1
		}
		if err != nil || i != want {
			t.Fatalf("claim %d: ClaimAnyOwned = %d, %v, want %d", k, i, err, want)
		}
	}
	if i, err := b.ClaimAnyOwned(); !errors.Is(err, bitset.ErrFull) || i != -1 {
		t.Fatalf("full: ClaimAnyOwned = %d, %v, want ErrFull", i, err)
	}
	if err := peer.ReleaseOwned(64); err != nil {
		t.Fatal(err)
	}
	if i, err := b.ClaimAnyOwned(); err != nil || i != 64 {
		t.Fatalf("after a release: ClaimAnyOwned = %d, %v, want 64", i, err)
	}
	if st := b.Stats(); st.Owned != n-1 || st.Set != n {
		t.Errorf("stats %+v", st)
	}
}

// TestClaimAnyOwnedReleasesOrphans: a bitset full of bits whose owner
// closed its handle without releasing them is not full for ClaimAnyOwned.
func TestClaimAnyOwnedReleasesOrphans(t *testing.T) {
	seg := newSeg(t, 1<<20)
	b, _ := bitset.New(seg, "slots", 64, bitset.Owned())
	gone, err := segment.Open(seg.Name())
	if err != nil {
		t.Fatal(err)
	}
	g, _ := bitset.Open(gone, "slots")
	for range 64 {
		if _, err := g.ClaimAnyOwned(); err != nil {
			t.Fatal(err)
		}
	}
	gone.Close()
	if i, err := b.ClaimAnyOwned(); err != nil || i != 0 {
		t.Fatalf("ClaimAnyOwned over orphans = %d, %v, want 0", i, err)
	}
	if st := b.Stats(); st.Owned != 1 || st.Set != 1 || st.Released != 64 {
		t.Errorf("stats %+v, want 1 owned, 1 set, 64 released", st)
	}
}

// TestReleaseOrphansCorrupt: owner words no correct process writes are
// released; words naming live attachments, this one included, are not.
func TestReleaseOrphansCorrupt(t *testing.T) {
	seg := newSeg(t, 1<<20)
	const n = 20
	b, _ := bitset.New(seg, "o", n, bitset.Owned())
	peerSeg := alloctest.Reopen(t, seg)
	peer, _ := bitset.Open(peerSeg, "o")
	mustClaim(t, b, 0)
	mustClaim(t, peer, 1)
	words := ownerWords(t, seg, "o", n)
	slot, gen := seg.Slot()
	pslot, pgen := peerSeg.Slot()
	corrupt := map[int]uint64{
		2: 1 << 40,                                                  // state 0, not zero
		3: 7<<56 | uint64(slot)<<32 | uint64(gen),                   // unknown state, naming us
		4: bitset.OwnerWord(bitset.OwnHeld, slot, gen) | 1<<50,      // reserved bit, naming us
		5: bitset.OwnerWord(bitset.OwnHeld, 4000, 1),                // a slot nobody holds
		6: bitset.OwnerWord(bitset.OwnHeld, pslot, pgen+5),          // a generation the registry has not reached
		7: bitset.OwnerWord(bitset.OwnClaiming, slot, gen-1),        // an earlier attachment of our slot
		8: bitset.OwnerWord(bitset.OwnReleasing, 60, 0),             // a free slot
		9: bitset.OwnerWord(bitset.OwnHeld, pslot, pgen) | 0xff<<48, // reserved bits, naming the peer
	}
	for i, w := range corrupt {
		words[i] = w
		b.Set(i)
	}
	// Words naming live attachments in every state stay.
	words[10] = bitset.OwnerWord(bitset.OwnClaiming, pslot, pgen)
	words[11] = bitset.OwnerWord(bitset.OwnReleasing, slot, gen)
	n0, err := b.ReleaseOrphans()
	if err != nil || n0 != len(corrupt) {
		t.Fatalf("ReleaseOrphans = %d, %v, want %d", n0, err, len(corrupt))
	}
	for i := range corrupt {
		if words[i] != 0 || b.Test(i) {
			t.Errorf("bit %d: word %#x, set %v after ReleaseOrphans", i, words[i], b.Test(i))
		}
	}
	for _, i := range []int{0, 1, 10, 11} {
		if words[i] == 0 {
			t.Errorf("bit %d of a live owner released", i)
		}
	}
	if st := b.Stats(); st.Released != uint64(len(corrupt)) || st.Owned != 4 {
		t.Errorf("stats %+v", st)
	}
	if n, err := peer.ReleaseOrphans(); n != 0 || err != nil {
		t.Errorf("second sweep = %d, %v", n, err)
	}
}

// TestOwnedHammer: goroutines on separate attachments claim and release
// owned bits, by index and by ClaimAnyOwned, while attachments that close
// holding bits leave orphans and sweepers release them. A bit is never
// held by two claimers at once, every release of a held bit succeeds, and
// at the end the bits and the owner words agree.
func TestOwnedHammer(t *testing.T) {
	const n = 200
	seg := newSeg(t, 4<<20)
	b, _ := bitset.New(seg, "h", n, bitset.Owned())
	rounds, workers := 20000, 6
	if testing.Short() {
		rounds = 2000
	}
	var holder [n]atomic.Int32 // who (worker+1) holds bit i, as the workers see it
	var wg sync.WaitGroup
	var stop atomic.Bool
	fail := func(format string, args ...any) {
		t.Errorf(format, args...)
		stop.Store(true)
	}
	for w := range workers {
		h, err := bitset.Open(alloctest.Reopen(t, seg), "h")
		if err != nil {
			t.Fatal(err)
		}
		// Two goroutines per attachment: they share its ownership.
		for g := range 2 {
			id := int32(2*w + g + 1)
			wg.Go(func() {
				var mine []int
				for k := 0; k < rounds && !stop.Load(); k++ {
					var i int
					var ok bool
					if k%3 == 0 {
						var err error
						i, err = h.ClaimAnyOwned()
						ok = err == nil
						if err != nil && !errors.Is(err, bitset.ErrFull) {
							fail("ClaimAnyOwned: %v", err)
						}
					} else {
						i = (k*7 + int(id)*31) % n
						var err error
						if ok, err = h.ClaimOwned(i); err != nil {
							fail("ClaimOwned: %v", err)
						}
					}
					if ok {
						if !holder[i].CompareAndSwap(0, id) {
							fail("bit %d claimed by %d while %d holds it", i, id, holder[i].Load())
						}
						mine = append(mine, i)
					}
					if len(mine) > 4 || (len(mine) > 0 && k%2 == 0) {
						j := mine[0]
						mine = mine[1:]
						holder[j].Store(0)
						if err := h.ReleaseOwned(j); err != nil {
							fail("ReleaseOwned(%d): %v", j, err)
						}
					}
					if k%64 == 0 {
						runtime.Gosched()
					}
				}
				for _, j := range mine {
					holder[j].Store(0)
					if err := h.ReleaseOwned(j); err != nil {
						fail("final ReleaseOwned(%d): %v", j, err)
					}
				}
			})
		}
	}
	// Attachments that close holding bits, and sweepers.
	var orphaned atomic.Int64
	wg.Go(func() {
		for k := 0; k < rounds/200 && !stop.Load(); k++ {
			s, err := segment.Open(seg.Name())
			if err != nil {
				fail("segment.Open: %v", err)
				return
			}
			c, _ := bitset.Open(s, "h")
			for range 3 {
				if i, err := c.ClaimAnyOwned(); err == nil {
					if !holder[i].CompareAndSwap(0, -1) {
						fail("bit %d claimed by a closer while %d holds it", i, holder[i].Load())
					}
					holder[i].Store(0) // the closer's claims are nobody's once it closes
					orphaned.Add(1)
				}
			}
			s.Close()
		}
	})
	var sweepers sync.WaitGroup
	var done atomic.Bool
	for range 2 {
		sweepers.Go(func() {
			for !done.Load() {
				if _, err := b.ReleaseOrphans(); err != nil {
					fail("ReleaseOrphans: %v", err)
				}
				runtime.Gosched()
			}
		})
	}
	wg.Wait()
	done.Store(true)
	sweepers.Wait()
	if _, err := b.ReleaseOrphans(); err != nil {
		t.Fatal(err)
	}
	st := b.Stats()
	if st.Owned != 0 || st.Set != 0 {
		t.Errorf("at the end: %+v, want nothing owned or set", st)
	}
	if st.Released < uint64(orphaned.Load()) {
		t.Errorf("released %d, want at least the %d orphans", st.Released, orphaned.Load())
	}
	t.Logf("%d orphans released, stats %+v", orphaned.Load(), st)
}

// TestReleaseRace: goroutines of one attachment race to release the same
// bit: exactly one succeeds, and a release never lands on a claim made
// after it.
func TestReleaseRace(t *testing.T) {
	seg := newSeg(t, 1<<20)
	b, _ := bitset.New(seg, "r", 64, bitset.Owned())
	rounds := 2000
	if testing.Short() {
		rounds = 300
	}
	for range rounds {
		mustClaim(t, b, 5)
		var wins atomic.Int32
		var wg sync.WaitGroup
		for range 3 {
			wg.Go(func() {
				if b.ReleaseOwned(5) == nil {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 {
			t.Fatalf("%d releases of one claim succeeded", wins.Load())
		}
		if _, ok := b.Owner(5); ok || b.Test(5) {
			t.Fatal("bit still owned or set after the release")
		}
	}
	// Claims and releases of one bit by goroutines of one attachment,
	// racing: whatever interleaving, a bit is set exactly when its word is
	// held, once everyone stops.
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for k := range rounds {
				if (k+g)%2 == 0 {
					b.ClaimOwned(7)
				} else {
					b.ReleaseOwned(7)
				}
			}
		})
	}
	wg.Wait()
	if _, owned := b.Owner(7); owned != b.Test(7) {
		t.Fatalf("bit 7: owned %v, set %v", owned, b.Test(7))
	}
}
