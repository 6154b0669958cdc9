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
//   - opReplace/opDelete: if the slot still holds c (LIVE|pending or
//     TOMB|pending), the CAS landed and the writer died before finishing:
//     publish the new record, clear the pending bit, free the displaced
//     record. Since nobody but the writer clears a pending bit, any other
//     value means the CAS never landed (the new record is still owned by the
//     dead process, and the allocator's recovery hook, which runs after
//     this, frees it) or the writer finished.
//   - opInsert: a slot still holding the claim c is yielded (its record is
//     freed by the allocator's hook); a claim promoted to LIVE|pending is
//     finished as above; anything else was killed or finished already.
//
// Running it twice is harmless: the second run finds the slot changed.
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
	t, err := attachTable(seg, al, obj)
	if err != nil {
		return err
	}
	i := rec.A
	if i > t.mask {
		return t.corrupt("intent names slot %d of %d", i, t.mask+1)
	}
	w := t.slots[i].Load()
	switch rec.Op {
	case opReplace, opDelete:
		if w == rec.C && t.finish(i, w, recOff(rec.B), false) {
			t.hdr.repaired.Add(1)
		}
	case opInsert:
		switch {
		case w == rec.C:
			if t.slots[i].CompareAndSwap(w, next(w, stTomb, false, 0, 0)) {
				t.hdr.live.Add(-1)
				t.hdr.repaired.Add(1)
				t.cleanup(i)
			}
		case w == next(rec.C, stLive, true, recOff(rec.C), tagOfWord(rec.C)):
			if t.finish(i, w, 0, false) {
				t.hdr.repaired.Add(1)
			}
		}
	default:
		return t.corrupt("intent with operation %d", rec.Op)
	}
	return nil
}
