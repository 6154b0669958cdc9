package alloc

import (
	"fmt"
	"runtime/debug"

	"github.com/posixshm/posixshm/segment"
)

// Recovery of a dead attachment. A process can die at any instruction.
// Every step of Alloc and Free that changes a truth word and an index bit
// (layout.go) first moves the truth word to a state that names the
// attachment, and nothing but that attachment moves it on; so what a dead
// process leaves is a set of words that name it, each of which says what
// is left to do:
//
//   - block owned: allocated and never published (or killed before it
//     cleared the block's bit): freed, as Free would.
//   - block freeing: Free had it and may not have set its bit: set the bit,
//     state free.
//   - chunk carving: claimed, not yet cut into blocks or made a large
//     block: back to the pool. The chunks of a large run it was making are
//     carving too, or continuations whose head is not a large block: those
//     go back as well.
//   - chunk retiring, blocks retired: it was returning an empty chunk to
//     the pool: its blocks get their bits and state back, the chunk its
//     class (the next Free into it, or Alloc's retireIdle, returns it).
//   - chunk freeing: it was returning a large block's run: finished.
//   - chunk releasing: its claimed bit may still be set: cleared, unused.
//
// None of these words is moved by a live process (a live one moves only
// words in states that name nobody, or itself), so recovery never races
// one. Its own steps run under the dead attachment's name: the recovering
// process holds the dead slot's lock meanwhile, and if it dies too, the
// words still name the dead attachment, and the next recovery finds them.
// Running twice changes nothing the second time.

// reclaim repairs what the attachment (slot, gen) left in the heap and
// returns how many blocks it freed. It runs as a segment recovery hook
// once that attachment is known dead.
func (a *Allocator) reclaim(slot int, gen uint32) (int, error) {
	return a.ActingFor(slot, gen).repair(func(s int, g uint32) bool { return s == slot && g == gen })
}

// ActingFor returns a view of the allocator whose steps carry the name of
// the attachment (slot, gen) instead of this handle's. It is for repair
// code that finishes a dead attachment's operation while holding its
// registry slot's lock, as segment.Recover's repair functions and recovery
// hooks do: what the view frees or publishes goes through states that name
// the dead attachment, so if this process dies in the middle too, the next
// recovery of that slot finds and finishes it. It also works while this
// process holds no slot of its own (segment.Open repairs the slot it is
// about to take before it holds one). Never use it for a live attachment.
func (a *Allocator) ActingFor(slot int, gen uint32) *Allocator {
	v := *a
	v.slot, v.gen = slot, gen
	v.shard = max(slot, 0) & (shards - 1)
	return &v
}

// ReclaimDead repairs what every attachment that is no longer open left in
// the heap, whichever slot it held. Recovery normally does this per dead
// process; tools call it after a crash of the recovering process itself.
func (a *Allocator) ReclaimDead() (_ int, err error) {
	defer a.seg.Catch(&err, debug.SetPanicOnFault(true))
	if a.slot < 0 {
		return 0, fmt.Errorf("alloc: %w", segment.ErrReadOnly)
	}
	alive := map[[2]uint64]bool{}
	dead := func(s int, g uint32) bool {
		k := [2]uint64{uint64(s), uint64(g)}
		live, seen := alive[k]
		if !seen {
			live = a.seg.Alive(s, g)
			alive[k] = live
		}
		return !live
	}
	n := 0
	for pass := 0; pass < 2; pass++ {
		// Each dead name's words are repaired under that name, so that a
		// crash of this process leaves them naming it still.
		names := map[[2]uint64]bool{}
		a.walkNames(func(s int, g uint32) {
			if dead(s, g) {
				names[[2]uint64{uint64(s), uint64(g)}] = true
			}
		})
		for k := range names {
			m, err := a.reclaim(int(k[0]), uint32(k[1]))
			n += m
			if err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// walkNames calls fn with the attachment each word in a naming state names.
func (a *Allocator) walkNames(fn func(slot int, gen uint32)) {
	used := min(a.hdr.chunks.Load(), a.nChunks)
	for c := uint64(0); c < used; c++ {
		switch e := a.table[c].Load(); chunkStatus(e) {
		case chunkCarving, chunkRetiring, chunkFreeing, chunkReleasing:
			fn(chunkOwner(e))
		}
	}
	a.walkBlocks(func(h, w uint64, _ bool) error {
		switch stateOf(w) {
		case stateOwned, stateFreeing, stateRetired:
			fn(ownerOf(w))
		}
		return nil
	})
}

// repair finishes the steps of the attachments dead reports true for, as
// the attachment a names (reclaim made a a view under the dead name), and
// returns how many blocks it freed.
func (a *Allocator) repair(dead func(slot int, gen uint32) bool) (int, error) {
	used := min(a.hdr.chunks.Load(), a.nChunks)
	isDead := func(e uint64) bool { s, g := chunkOwner(e); return dead(s, g) }
	for c := uint64(0); c < used; c++ {
		e := a.table[c].Load()
		switch chunkStatus(e) {
		case chunkReleasing:
			if isDead(e) {
				a.finishRelease(c, e)
			}
		case chunkCarving:
			if isDead(e) {
				a.releaseChunk(c, e)
			}
		case chunkRetiring:
			class := chunkClass(e)
			if !isDead(e) || class >= numSmallClasses {
				continue
			}
			s, g := chunkOwner(e)
			a.unretire(c, class, packState(stateRetired, class, s, g))
			if a.table[c].CompareAndSwap(e, packChunk(chunkSmall, class, 0, 0)) {
				a.setAvail(class, c)
			}
		case chunkFreeing:
			if class := chunkClass(e); isDead(e) && class >= numSmallClasses && class < len(classes) {
				a.finishFreeLarge(c, class, e)
			}
		}
	}
	// Continuations whose head is not a large block covering them: the
	// carver of the run died before its head. A live carver's head still
	// says carving, under a live name.
	for c := uint64(0); c < used; c++ {
		e := a.table[c].Load()
		if chunkStatus(e) != chunkCont {
			continue
		}
		head, class := uint64(uint32(e>>32)), chunkClass(e)
		if head < c && class < len(classes) && class >= numSmallClasses && c < head+classes[class].chunks {
			he := a.table[head].Load()
			if hs := chunkStatus(he); (hs == chunkLarge || hs == chunkFreeing) && chunkClass(he) == class {
				continue
			}
			if chunkStatus(he) == chunkCarving && !isDead(he) {
				continue
			}
		}
		a.releaseChunk(c, e)
	}
	// Blocks: freeing ones get their bit, owned ones are freed.
	n := 0
	err := a.walkBlocks(func(h, w uint64, _ bool) error {
		s, g := ownerOf(w)
		switch stateOf(w) {
		case stateFreeing:
			if dead(s, g) && a.reclaimable(h, w) {
				a.finishFree(h, w)
			}
		case stateOwned:
			if dead(s, g) && a.reclaimable(h, w) && a.release(h, w) == nil {
				n++
			}
		}
		return nil
	})
	return n, err
}

// finishFree completes the Free of small block h, whose state w says
// freeing under a dead attachment's name: its bit, then free.
func (a *Allocator) finishFree(h, w uint64) {
	class := classOf(w)
	c := (h - a.chunkOff) / chunkSize
	i := classes[class].index(h - a.chunkBase(c))
	a.bitmap(c)[i/64].Or(1 << (i % 64))
	if a.block(h).state.CompareAndSwap(w, packState(stateFree, class, 0, 0)) {
		count(&a.hdr.counters[c%shards].frees)
		if !a.availSet(class, c) {
			a.setAvail(class, c)
		}
	}
}

// reclaimable reports whether the block at h, found by a heap walk, names
// a class that its chunk was cut for; a corrupt state word must not free a
// block into another class.
func (a *Allocator) reclaimable(h, w uint64) bool {
	return classOf(w) < len(classes) && a.checkPlacement(h, classOf(w)) == nil
}

func init() {
	segment.RegisterRecoveryHook("alloc: finish the heap steps and free the unpublished blocks of dead processes", func(s *segment.Segment, slot int, gen uint32) (int, error) {
		a, err := Of(s)
		if err != nil {
			return 0, err
		}
		return a.reclaim(slot, gen) // under Recover's fault guard
	})
}
