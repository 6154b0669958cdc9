package bitset

import (
	"fmt"
	"runtime/debug"

	"github.com/posixshm/posixshm/segment"
)

// Crash repair of owned bits.
//
// The problem. A bit claimed with TestAndSet has no owner: a process that
// dies holding it leaves a set bit nobody can tell from a held one (the
// soak's "set bits leaked by killed claimers"). An owned bitset adds an
// owner word per bit (layout.go) naming the attachment that holds it, so
// recovery can release a dead process's bits. Two words cannot change in
// one atomic step, so the question is the order, and who may act when.
//
// The invariant. For every bit used only through the owned operations:
// the bit is set only while its owner word is non-zero, and a non-zero word
// names the one attachment allowed to clear the bit and then the word.
// The word is the truth (its CAS is the claim); the bit follows it, so
// Test, Count, Ones and NextClear keep working on the bits alone.
//
//   - ClaimOwned: CAS word 0 -> claiming(me), then OR the bit, then store
//     held(me). Killed after the CAS, the word names the dead process with
//     the bit clear or set by it; either way recovery may clear the bit
//     (nobody else could have set it: a claim needs the word at 0) and
//     then the word. Never a set bit with a zero word.
//   - ReleaseOwned: CAS word held(me) -> releasing(me), then AND the bit
//     clear, then store 0. Killed in between, the word still names the
//     dead process; recovery clears the bit (perhaps again) and the word.
//     Never a set bit with a zero word: the word is cleared last.
//   - The claiming and releasing states matter only among goroutines of
//     one live process, which share its attachment: ReleaseOwned needs
//     held(me), so it fails on a bit another goroutine is still claiming
//     (else the claimer's OR could land after the release's AND and leave
//     a set bit with a zero word), and of two racing releases only one
//     wins the CAS, so a late AND never clears a bit claimed again since.
//   - A claimer that finds the bit already set (by a plain Set or
//     TestAndSet) stores 0 back and fails. Killed before that store, it
//     leaves claiming(dead) over a bit someone else set, and recovery clears
//     that bit: mixing plain writes with owned claims on the same bit is
//     outside the guarantee (doc.go's Caveats).
//
// Who else may write a word. Only two kinds of third party, for owners
// that are gone, and each is alone on the words it touches:
//
//   - Segment recovery, through the hook registered below, for a dead
//     attachment (slot, gen). It runs while the recovering process holds
//     that slot's registry lock, so one at a time per dead attachment, and
//     a recoverer that dies too leaves the lock to the next, who starts
//     over. For each word naming (slot, gen), in any state, it clears the
//     bit and then CASes the word to 0. Nobody else can claim the bit
//     while the word names the dead attachment, so the AND clears only the
//     dead process's bit, and a repeat after a recoverer's death finds
//     either the same word (and does the same) or 0, or a later claimer's
//     word (and leaves it). The hook needs no name of its own, which
//     matters: in the Open that repairs a slot before taking it over, the
//     recovering handle has no slot yet.
//   - ReleaseOrphans, for owners whose registry slot has moved on: freed
//     (by Close, or by the recovery of a process that does not link this
//     package and so lacks the hook) or taken by a later generation. It
//     reads the words first and the registry after (Segment.Processes), so
//     a word it judges names an attachment that was already gone when the
//     word was read; such an attachment never comes back (generations only
//     grow) and no recovery will run for it again (a slot is freed only
//     after its hooks finished). Several such sweepers may run at once, so
//     each takes a word over by CASing it from the value it read to
//     releasing(itself): one wins; it clears the bit, then stores 0. If it
//     dies meanwhile, the word names it, a dead attachment, and the cases
//     above apply to it in turn. A slot that is dead but not yet repaired
//     is left to recovery, never swept: the two never act on one word.
//
// Liveness is the kernel's (the registry's OFD locks), never a timeout or
// a PID, so a slow live owner is never robbed. A word no correct process
// writes (reserved bits, an unknown state) names nobody alive, and
// ReleaseOrphans releases it; a word naming an attachment the registry
// has not reached yet can only be such a forgery too.
//
// The same holds across Segment.Delete only as it does for every
// structure: a bitset deleted while recovery scans it may see its block
// reused under the scan. Delete requires that nobody use the object.
//
// Not guarded: ClaimOwned and ReleaseOwned are unguarded against SIGBUS,
// as Set is (a guard would cost as much as the operation); the sweeps and
// the recovery hook run under Catch.

func init() {
	segment.RegisterRecoveryHook("bitset: release bits of dead owners", releaseDead)
}

// releaseDead releases, in every owned bitset of s, the bits owned by the
// dead attachment (slot, gen). It is a segment recovery hook: it runs with
// that slot's registry lock held, once per dead attachment, again if the
// recovering process dies. It returns the number of owner words it
// cleared, which the recovery Report counts in Reclaimed.
func releaseDead(s *segment.Segment, slot int, gen uint32) (n int, err error) {
	defer s.Catch(&err, debug.SetPanicOnFault(true))
	dead := stamp(slot, gen)
	for _, obj := range s.Objects() {
		if obj.Kind != segment.KindBitset || obj.Version != OwnedLayoutVersion {
			continue
		}
		b, err := attach(s, obj)
		if err != nil {
			continue // not a bitset this process can read: nothing safe to do
		}
		n += b.releaseOwnedBy(dead)
	}
	return n, nil
}

// releaseOwnedBy clears the bits and then the words of every owner word
// naming the attachment dead, in any state. Only the recovery hook calls
// it, alone on those words (see above).
func (b *Bitset) releaseOwnedBy(dead uint64) (n int) {
	for i := range b.owners {
		w := b.owners[i].Load()
		if w == 0 || w&stampMask != dead || !wellFormed(w) {
			continue
		}
		b.words[uint64(i)/wordBits].And(^(1 << (uint64(i) % wordBits)))
		if testHook != nil {
			testHook(hkRecoverClear)
		}
		if b.owners[i].CompareAndSwap(w, 0) {
			b.ctrs.released.Add(1)
			n++
		}
	}
	return n
}

// ReleaseOrphans releases the bits whose owners are gone without recovery
// having released them: owners that closed their segment handle while
// holding bits, and dead owners whose registry slot was recovered by a
// process that does not link this package. It also releases owner words
// that no correct process writes. It returns the number of bits released.
//
// Bits of a dead owner whose slot has not been recovered yet are left to
// Segment.Recover, which releases them (it runs this package's recovery
// hook) and is the usual way; ClaimAnyOwned runs both when it finds no free
// bit. Bits of live owners are never touched. ReleaseOrphans reads every
// owner word twice and the process registry once; it is safe to run at
// any time, from any number of processes at once.
//
// It is ErrNoOwners on a bitset without owners and ErrReadOnly on a
// read-only handle.
func (b *Bitset) ReleaseOrphans() (n int, err error) {
	if b.me == 0 {
		return 0, b.cannotOwn("ReleaseOrphans")
	}
	defer b.seg.Catch(&err, debug.SetPanicOnFault(true))
	me := b.me
	// Who do the words name? Read them all before the registry.
	orphan := map[uint64]bool{}
	for i := range b.owners {
		if w := b.owners[i].Load(); w != 0 && !(wellFormed(w) && w&stampMask == me) {
			orphan[w&stampMask] = false
		}
	}
	if len(orphan) == 0 {
		return 0, nil
	}
	type seen struct {
		gen   uint32
		alive bool
	}
	slots := map[int]seen{}
	for _, p := range b.seg.Processes() {
		slots[p.Slot] = seen{p.Gen, p.Alive}
	}
	if b.seg.Lost() {
		// A lost mapping reads as zeros: every slot would look free.
		return 0, fmt.Errorf("bitset %q: ReleaseOrphans: %w", b.name, b.seg.LostErr())
	}
	for st := range orphan {
		o := ownerOf(st)
		cur, used := slots[o.Slot]
		// Gone: the slot is free (its last generation was o.Gen or later,
		// since the word was written before we looked) or holds another
		// generation. The same generation, alive or dead, is not ours.
		orphan[st] = !used || cur.gen != o.Gen
	}
	for i := range b.owners {
		w := b.owners[i].Load()
		if w == 0 || wellFormed(w) && (w&stampMask == me || !orphan[w&stampMask]) {
			continue // ours; alive, or dead and left to recovery; or new since the first pass
		}
		if b.takeOver(i, w) {
			n++
		}
	}
	return n, nil
}

// takeOver releases bit i, whose owner word was w and names an owner that
// is gone: CAS w -> releasing(me), so that of several sweepers exactly one
// goes on, then clear the bit, then the word.
func (b *Bitset) takeOver(i int, w uint64) bool {
	ow := &b.owners[i]
	if !ow.CompareAndSwap(w, b.me|ownReleasing<<stateShift) {
		return false
	}
	if testHook != nil {
		testHook(hkOrphanTaken)
	}
	b.words[uint64(i)/wordBits].And(^(1 << (uint64(i) % wordBits)))
	if testHook != nil {
		testHook(hkOrphanCleared)
	}
	segment.StoreRelease(ow, 0)
	b.ctrs.released.Add(1)
	return true
}
