package bitset

import (
	"fmt"
	"iter"
	"runtime/debug"

	"github.com/posixshm/posixshm/segment"
)

// An Option configures New.
type Option func(*options)

type options struct {
	owned bool
}

// Owned makes New create a bitset that records an owner for every bit
// claimed with ClaimOwned or ClaimAnyOwned, so that the bits a process
// holds when it dies are released by segment recovery. It costs 8 bytes of
// shared memory per bit, 64 more for the block, and makes a claim or a
// release a few atomic operations instead of one.
//
// When attaching, Owned requires the bitset to have owners; without it New
// requires one without. Open attaches either.
func Owned() Option { return func(o *options) { o.owned = true } }

// Owner names the process attachment that owns a bit: a registry slot and
// its generation, as segment.Segment.Slot returns them. Together they name
// one attachment and never a later one; segment.Segment.Alive tells
// whether it is still open.
type Owner struct {
	Slot int
	Gen  uint32
}

// HasOwners reports whether the bitset records owners (it was created with
// Owned).
func (b *Bitset) HasOwners() bool { return b.owners != nil }

// Test points inside the owned operations, where the crash tests stop a
// process (export_test.go). testHook is nil outside tests; checking it
// costs a load and a predicted branch.
const (
	hkClaimed       = iota + 1 // ClaimOwned: won the owner word (claiming), bit not set yet
	hkBitSet                   // ClaimOwned: bit set, word still claiming
	hkReleasing                // ReleaseOwned: word releasing, bit still set
	hkBitCleared               // ReleaseOwned: bit clear, word still releasing
	hkRecoverClear             // recovery: a dead owner's bit cleared, its word not yet
	hkOrphanTaken              // ReleaseOrphans: took a word over, bit still set
	hkOrphanCleared            // ReleaseOrphans: bit clear, word not yet
)

var testHook func(point int)

// ClaimOwned claims bit i for this process: if the bit is clear and has no
// owner, it sets it, records this attachment (the segment handle's
// registry slot and generation) as its owner, and returns true. It returns
// false if the bit is owned by anyone (this process included: a claim is
// not reentrant), being claimed or released, or set by a plain Set,
// TestAndSet or bulk operation. Note that true means success, where
// TestAndSet's true means the bit was already set.
//
// Does not block. The claim is the CAS on the bit's owner word, which
// precedes setting the bit: a process killed anywhere inside ClaimOwned
// leaves either nothing or a word naming it, whose bit recovery clears.
// It is ErrNoOwners on a bitset created without Owned, and ErrReadOnly on a
// read-only segment handle, which has no registry slot to own bits with.
func (b *Bitset) ClaimOwned(i int) (bool, error) {
	_ = b.bound[i]
	if b.me == 0 {
		return false, b.cannotOwn("ClaimOwned")
	}
	return b.claim(i), nil
}

// claim is ClaimOwned on a checked index, for an owned, writable handle.
func (b *Bitset) claim(i int) bool {
	ow := &b.owners[i]
	// Load first: a held bit (the usual failure) costs a shared read, not
	// a CAS that takes its line away from the owner.
	if ow.Load() != 0 || !ow.CompareAndSwap(0, b.me|ownClaiming<<stateShift) {
		return false
	}
	if testHook != nil {
		testHook(hkClaimed)
	}
	mask := uint64(1) << (uint64(i) % wordBits)
	if b.words[uint64(i)/wordBits].Or(mask)&mask != 0 {
		// Set without an owner by a plain operation: not ours. Give the
		// word back; the bit stays as its setter left it.
		segment.StoreRelease(ow, 0)
		return false
	}
	if testHook != nil {
		testHook(hkBitSet)
	}
	// Only this attachment writes a word that names it while it lives, so
	// a store does; release order puts it after the Or.
	segment.StoreRelease(ow, b.me|ownHeld<<stateShift)
	return true
}

// ClaimAnyOwned claims a free bit for this process, as ClaimOwned does, and
// returns its index. It searches from bit 0 up, one word of 64 bits at a
// time, and claims the first clear bit it can; a bit another process takes
// first is skipped. When one pass finds nothing to claim it asks the
// registry whether every owner is still attached (a system call per
// distinct owner); if one is not, it runs Segment.Recover and
// ReleaseOrphans, which free the bits of owners that are gone, and tries
// once more. Only then does it return ErrFull. So survivors never see a
// bitset full of a dead process's bits.
//
// Does not block. Its errors are ClaimOwned's, Segment.Recover's and
// ErrFull. Under concurrent releases ErrFull means no free bit was found
// during the search, not that none was free at one instant.
func (b *Bitset) ClaimAnyOwned() (int, error) {
	if b.me == 0 {
		return -1, b.cannotOwn("ClaimAnyOwned")
	}
	if i, ok := b.claimAny(); ok {
		return i, nil
	}
	if b.anyGone() {
		if _, err := b.seg.Recover(); err != nil {
			return -1, fmt.Errorf("bitset %q: ClaimAnyOwned: %w", b.name, err)
		}
		if _, err := b.ReleaseOrphans(); err != nil {
			return -1, err
		}
		if i, ok := b.claimAny(); ok {
			return i, nil
		}
	}
	return -1, fmt.Errorf("%w: bitset %q: no free bit among %d", ErrFull, b.name, b.n)
}

// anyGone reports whether some owner word names an attachment that is not
// alive (dead, closed, or no correct process's). It reads every owner word
// and asks Segment.Alive once per distinct owner.
func (b *Bitset) anyGone() (gone bool) {
	defer b.seg.Catch(nil, debug.SetPanicOnFault(true))
	seen := map[uint64]bool{}
	for i := range b.owners {
		w := b.owners[i].Load()
		if w == 0 || w&stampMask == b.me && wellFormed(w) {
			continue
		}
		if !wellFormed(w) {
			return true
		}
		st := w & stampMask
		if seen[st] {
			continue
		}
		seen[st] = true
		if o := ownerOf(st); !b.seg.Alive(o.Slot, o.Gen) {
			return true
		}
	}
	return false
}

// claimAny makes one pass over the bits, claiming the first clear one it
// can.
func (b *Bitset) claimAny() (int, bool) {
	for i, ok := b.NextClear(0); ok; i, ok = b.NextClear(i + 1) {
		if b.claim(i) {
			return i, true
		}
	}
	return 0, false
}

// ReleaseOwned releases bit i, which this process owns: it clears the bit,
// then the owner word, after which any process may claim it. It is
// ErrNotOwner, naming the owner, if this attachment does not hold bit i
// (it never claimed it, released it already, or another goroutine of this
// process is still inside ClaimOwned on it); nothing changes then.
// Ownership belongs to the attachment, not to a goroutine: any goroutine
// of the owning process may release the bit, and of goroutines racing to
// release one bit exactly one succeeds.
//
// Does not block. A process killed inside ReleaseOwned leaves the word
// naming it; recovery finishes the release.
func (b *Bitset) ReleaseOwned(i int) error {
	_ = b.bound[i]
	if b.me == 0 {
		return b.cannotOwn("ReleaseOwned")
	}
	ow := &b.owners[i]
	if !ow.CompareAndSwap(b.me|ownHeld<<stateShift, b.me|ownReleasing<<stateShift) {
		return b.notOwner(i, ow.Load())
	}
	if testHook != nil {
		testHook(hkReleasing)
	}
	b.words[uint64(i)/wordBits].And(^(1 << (uint64(i) % wordBits)))
	if testHook != nil {
		testHook(hkBitCleared)
	}
	segment.StoreRelease(ow, 0) // release order: after the And
	return nil
}

// Owner returns the owner of bit i and true, or false if nobody owns it.
// A bit being claimed or released has an owner too: the attachment doing
// it. Does not block; on a bitset without owners it always returns false.
func (b *Bitset) Owner(i int) (Owner, bool) {
	_ = b.bound[i]
	if b.owners == nil {
		return Owner{}, false
	}
	w := b.owners[i].Load()
	return ownerOf(w), w != 0
}

// Owners returns an iterator over the owned bits, in increasing order, with
// their owners (see Owner). It reads each owner word once, when it gets
// there: not a snapshot. On a bitset without owners it yields nothing. The
// iterator may be used more than once.
//
// To check that no bit is owned by a process that has died, run
// Segment.Recover and then, for each owner, Segment.Alive(o.Slot, o.Gen).
func (b *Bitset) Owners() iter.Seq2[int, Owner] {
	return func(yield func(int, Owner) bool) {
		for i := range b.owners {
			if w := b.owners[i].Load(); w != 0 && !yield(i, ownerOf(w)) {
				return
			}
		}
	}
}

// owned counts the bits with an owner.
func (b *Bitset) owned() (n int) {
	defer b.seg.Catch(nil, debug.SetPanicOnFault(true))
	for i := range b.owners {
		if b.owners[i].Load() != 0 {
			n++
		}
	}
	return n
}

// cannotOwn says why this handle cannot claim or release owned bits.
func (b *Bitset) cannotOwn(op string) error {
	if b.owners == nil {
		return fmt.Errorf("%w: bitset %q: %s needs a bitset created with bitset.Owned()", ErrNoOwners, b.name, op)
	}
	return fmt.Errorf("%w: bitset %q: %s on a read-only segment handle", ErrReadOnly, b.name, op)
}

// notOwner builds ReleaseOwned's error for bit i, whose owner word is w.
func (b *Bitset) notOwner(i int, w uint64) error {
	me := ownerOf(b.me)
	who := "nobody"
	if w != 0 {
		o := ownerOf(w)
		who = fmt.Sprintf("slot %d gen %d", o.Slot, o.Gen)
		if o == me {
			who = "this attachment"
		}
		switch ownState(w) {
		case ownClaiming:
			who += ", still claiming it"
		case ownReleasing:
			who += ", releasing it"
		case ownHeld:
		default:
			who += fmt.Sprintf(" (corrupt owner word %#x)", w)
		}
	}
	return fmt.Errorf("%w: bitset %q: bit %d is not held by this attachment (slot %d gen %d) but by %s", ErrNotOwner, b.name, i, me.Slot, me.Gen, who)
}
