package hashmap

import (
	"errors"
	"fmt"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/segment"
)

func init() { segment.RegisterRepair(segment.KindHashMap, repair) }

// repair completes or undoes the write a dead process had in flight, as its
// intent record describes (a = slot, b = expected word, c = word CAS'd in):
//
//   - opReplace: if the slot still holds c (LIVE|pending), the CAS landed
//     and the writer died before finishing: publish the new record, clear
//     the pending bit, free the displaced record. Since nobody but the
//     writer clears a pending bit, any other value means the CAS never
//     landed (the new record is still owned by the dead process, and the
//     allocator's recovery hook, which runs after this, frees it) or the
//     writer finished.
//   - opInsert: a slot still holding the claim c is yielded (its record is
//     freed by the allocator's hook); a reserved or promoted claim is
//     counted and finished, or undone (repairCounted); anything else was
//     killed or finished already.
//   - opDelete: the deleted key's slot, in either of its pending words, is
//     counted and finished (repairCounted).
//
// Running it twice is harmless: the second run finds the slot changed.
//
// # The Len counter
//
// The count in the live word (layout.go) must equal the keys in the map
// once recovery has run, whatever instruction a writer died at: capacity
// is enforced by it, so each unit it drifts up is capacity lost for good.
// The old scheme could not be repaired: an insert added 1 before it took
// an intent or a slot, and gave it back on every path that did not insert
// (another insert of its key won, the map was full, the record could not
// be allocated), a delete took 1 off after clearing its pending bit, and
// repair never knew whether a dead writer's add had landed. Recording it
// in the intent cannot fix that alone: whichever of the add and the record
// comes first, a kill between them leaves the other undone, and an add to
// a word other processes add to leaves no trace of who added.
//
// So the count changes only in a CAS that also writes a mark, the slot
// index of the write (countChange), and only while that write's slot holds
// its uncounted word, one no other writer may change: a reserved claim
// (INSERTING|pending) or a deleted key (DELETING|pending). The write then
// moves its slot to the counted word (LIVE|pending, TOMB|pending: a claim
// promoted, a tombstone), takes its mark off the live word (unmark), and
// finishes. Two rules keep the mark truthful:
//
//   - whoever replaces a mark (countChange) first helps (help): if the
//     marked slot still holds an uncounted word and the live word still
//     marks it, it moves that slot to the counted word, as the marked write
//     does next. So a mark never goes while its write's slot still says
//     uncounted.
//   - a write (or the repair of a dead one) takes its mark off after its
//     slot says counted and before the slot leaves pending, so before the
//     slot can change hands.
//
// Two facts follow, for a slot i and its uncounted word u:
//
//	M: while the live word marks i, slot i holds the uncounted or counted
//	   word of the write that made the mark: only a write whose slot is
//	   uncounted makes a mark, and its mark goes (replaced after help, or
//	   taken off) before its slot leaves pending. So a helper that reads an
//	   uncounted word in slot i, and then still finds the mark, holds the
//	   marked write's word, and that write has counted.
//	U: if the live word does not mark i, and slot i, read after it, still
//	   holds u of a dead write, that write never changed the count: had it,
//	   its mark would be there, or the slot would have moved on before the
//	   mark went (rules above). Nothing can change that afterwards, since
//	   only the dead write would count it.
//
// Every window of a write that changes the count, what repair sees there
// and what it does (i is the slot, w its word, g the live word, read
// before w, as U needs):
//
//	insert, intent taken, claim CAS not landed: w is not the claim: nothing.
//	    The count was never touched (and the record is the allocator's).
//	insert, claim landed (INSERTING): w == c: yield the claim. Not counted.
//	insert, claim yielded or killed, or lost to another claim of its key
//	    and waiting for it (hkInsertLost): the intent is ended, nothing to
//	    repair, and nothing counted: an insert counts only once its claim
//	    is reserved, which no other insert can take from it.
//	insert, reserved, count not raised (hkInsertReserved), or refused as
//	    full and not yet given back (hkInsertFull): w is the reserved word,
//	    g has no mark of i: by U uncounted: give the claim back (TOMB).
//	insert, count raised and marked (hkCounted): w is the reserved word, g
//	    marks i: counted (M): promote (LIVE|pending), unmark, finish. The
//	    key is in the map, and in the count.
//	insert, promoted by itself or a helper, mark on or off
//	    (hkInsertPromoted, hkPublished): unmark, finish.
//	insert, pending cleared (hkCleared on), or full and given back: w is
//	    none of these: nothing; the count is already right.
//	delete, intent taken, CAS not landed: w is not c: nothing. Not counted.
//	delete, key gone (DELETING), count not lowered (hkDeleteLinked): w == c,
//	    g has no mark of i: by U uncounted: lower the count (marking i, as
//	    the writer would), then as below.
//	delete, count lowered and marked (hkCounted): w == c, g marks i:
//	    counted (M): move to TOMB|pending, unmark, finish.
//	delete, TOMB|pending, by itself or a helper, mark on or off
//	    (hkDeleteMarked): unmark, finish.
//	delete, pending cleared (hkTombCleared on): nothing; the count is
//	    right.
//	replace: never changes the count.
//
// A repairer killed anywhere leaves one of these states for the next
// recovery (which repeats the dead writer's intent): after its own
// countChange for a dead delete (hkRepairCounted) the slot holds the
// uncounted word with g marking i, which the next one reads as counted.
// Capacity follows the count, so a kill loses none.
//
// The high-water mark: whoever takes a mark off the live word (the writer,
// a helper that replaces it, repair) first raises the high-water mark to
// the marked count. Every count is first written with a mark, so once the
// marks are gone the high-water mark is the largest count there was; Stats
// adds the current one. Only a claim that holds its key counts, so a
// losing insert no longer raises it.
//
// Not exact: Stats.Stores and Stats.Deletes are counted on per-process
// lines after a write clears its pending bit, and Stats.Repaired after a
// repair's last CAS, so a writer (or repairer) killed between the two
// leaves one write uncounted. They are activity figures that nothing is
// enforced by; exactness would take a marked CAS on a shared word per
// write, which the per-process lines exist to avoid.
func repair(seg *segment.Segment, rec segment.IntentRecord) error {
	obj, err := seg.ObjectAt(rec.Object)
	if errors.Is(err, segment.ErrNotFound) {
		return nil // the map was deleted; its records went with it
	}
	if err != nil {
		return err
	}
	if obj.Kind != segment.KindHashMap {
		return fmt.Errorf("%w: hashmap intent names object %q, a %v", ErrCorrupt, obj.Name, obj.Kind)
	}
	al, err := alloc.Of(seg)
	if err != nil {
		return err
	}
	// Publish and free under the dead writer's name: the repairing process
	// may hold no slot yet (segment.Open repairs the slot it is about to
	// take), and if it dies too, what it left names the dead writer, whose
	// slot is still dead, for the next recovery.
	al = al.ActingFor(rec.Slot, rec.Gen)
	t, err := attachTable(seg, al, obj)
	if err != nil {
		return err
	}
	i := rec.A
	if i > t.mask {
		return t.corrupt("intent names slot %d of %d", i, t.mask+1)
	}
	switch rec.Op {
	case opReplace:
		if w := t.slots[i].Load(); w == rec.C && t.finish(i, w, recOff(rec.B), false) {
			t.hdr.repaired.Add(1)
		}
	case opDelete:
		return t.repairCounted(i, rec.C, recOff(rec.B))
	case opInsert:
		if w := t.slots[i].Load(); w == rec.C {
			if t.slots[i].CompareAndSwap(w, next(w, stTomb, false, 0, 0)) {
				if testHook != nil {
					testHook(hkRepairYielded)
				}
				t.hdr.repaired.Add(1)
				t.cleanup(i)
			}
			return nil
		}
		return t.repairCounted(i, next(rec.C, stInserting, true, recOff(rec.C), tagOfWord(rec.C)), 0)
	default:
		return t.corrupt("intent with operation %d", rec.Op)
	}
	return nil
}

// repairCounted repairs a dead insert or delete whose uncounted word in
// slot i is uw (see repair): it counts it, or gives back an uncounted
// claim, and finishes it. old is the record a delete removed.
func (t *table) repairCounted(i, uw, old uint64) error {
	cw := countedWord(uw)
	// A helper may move the slot from uw to cw while we look, once; so
	// three rounds settle it.
	for range 3 {
		g := t.hdr.live.Load() // before the slot, as U needs
		switch t.slots[i].Load() {
		case uw:
			if markOf(g) != i+1 { // uncounted (U)
				if stateOf(uw) == stInserting {
					if t.slots[i].CompareAndSwap(uw, next(uw, stTomb, false, 0, 0)) {
						t.hdr.repaired.Add(1)
						t.cleanup(i)
						return nil
					}
					continue
				}
				t.countChange(i, -1)
				if testHook != nil {
					testHook(hkRepairCounted)
				}
			}
			t.markCounted(i, uw)
		case cw:
			t.unmarkSlot(i)
			if t.finish(i, cw, old, false) {
				t.hdr.repaired.Add(1)
			}
			return nil
		default:
			return nil // finished, or never landed
		}
	}
	return t.corrupt("slot %d keeps changing under the repair of its dead writer", i)
}

// unmarkSlot takes slot i's mark off the live word, if it is there, raising
// the high-water mark first (see unmark).
func (t *table) unmarkSlot(i uint64) {
	for {
		g := t.hdr.live.Load()
		if markOf(g) != i+1 {
			return
		}
		t.raiseHighWater(g)
		if t.hdr.live.CompareAndSwap(g, g&countMask) {
			return
		}
	}
}
