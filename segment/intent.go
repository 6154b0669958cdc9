//go:build linux

package segment

import (
	"math/bits"
	"runtime"
)

// Intent is an intent record of this handle's registry slot, taken by
// BeginIntent and given back by End. While it is held, the record says
// which operation this process has in flight; if the process dies, Recover
// hands the record to the RepairFunc registered for its kind.
//
// An Intent is a small value; copy it freely within one goroutine, but End it
// exactly once.
type Intent struct {
	rec  *intentRecord
	bit  uint64        // our bit in free
	free *paddedUint64 // the intentFree word that holds bit
}

// BeginIntent records that this process starts operation op of kind on the
// object at directory index object, with arguments a, b and c, and returns
// the record. The arguments become visible to a repairer before the record
// does. A handle has 62 records; a goroutine that finds none free yields
// until one is.
func (s *Segment) BeginIntent(kind Kind, op uint8, object uint32, a, b, c uint64) Intent {
	if s.slot < 0 {
		panic("segment: BeginIntent on a segment opened ReadOnly")
	}
	for {
		w, i, ok := s.takeIntent()
		if !ok {
			runtime.Gosched() // every record taken or contended: let other goroutines run
			continue
		}
		// Release stores: a reader that sees the word sees the arguments
		// (HasIntent reads the word first), and the CAS on shared state
		// that the caller makes next orders all four before it; a repairer
		// reads them after this process died, when every store has landed.
		// Four XCHGs cost a hashmap write more than its own CASes did.
		rec := &s.reg[s.slot].intents[i]
		StoreRelease(&rec.a, a)
		StoreRelease(&rec.b, b)
		StoreRelease(&rec.c, c)
		StoreRelease(&rec.word, intentWord(kind, op, object))
		return Intent{rec: rec, bit: 1 << (i % intentsPerShard), free: w}
	}
}

// takeIntent takes a free intent record of this handle and returns its
// intentFree word and index. It tries each word once, starting at the one
// of the caller's P (ProcHint). So goroutines running at once start on
// different words, and one that keeps running on a P keeps reusing the
// same warm record. It fails when every word was empty or contended.
func (s *Segment) takeIntent() (*paddedUint64, int, bool) {
	k := ProcHint() % intentShards
	for range intentShards {
		w := &s.intentFree[k]
		if free := w.Load(); free != 0 {
			i := bits.TrailingZeros64(free)
			if w.CompareAndSwap(free, free&^(1<<i)) {
				return w, k*intentsPerShard + i, true
			}
		}
		k = (k + 1) % intentShards
	}
	return nil, 0, false
}

// SetA updates the record's first argument, as an operation learns more
// (a position it claimed, a block it allocated). SetB and SetC update the
// others.
func (in Intent) SetA(v uint64) { StoreRelease(&in.rec.a, v) }

// SetB updates the record's second argument.
func (in Intent) SetB(v uint64) { StoreRelease(&in.rec.b, v) }

// SetC updates the record's third argument.
func (in Intent) SetC(v uint64) { StoreRelease(&in.rec.c, v) }

// SetOp changes the record's operation code, keeping its kind and object,
// for operations that pass through stages a repairer must tell apart.
func (in Intent) SetOp(op uint8) {
	w := in.rec.word.Load()
	in.rec.word.Store(w&^(0xff<<16) | uint64(op)<<16)
}

// End clears the record: the operation is complete and nothing needs repair.
func (in Intent) End() {
	StoreRelease(&in.rec.word, 0) // after the operation's own atomics; the Or below fences it
	in.free.Or(in.bit)
}

// HasIntentOp reports whether any attached process, alive or dead and not
// yet recovered, holds an intent record of kind and op on object: whether
// such an operation is in flight anywhere. Like HasIntent it reads every
// registry slot; use it off the fast path.
func (s *Segment) HasIntentOp(kind Kind, object uint32, op uint8) bool {
	want := intentWord(kind, op, object)
	return s.anyIntent(func(_ *intentRecord, w uint64) bool { return w == want })
}

// HasIntent reports whether any attached process, alive or dead and not
// yet recovered, holds an intent record of kind on object whose first
// argument is a. A structure that finds shared state marked as "in
// progress" uses it to tell an operation really in flight (there is an
// intent for it) from a corrupt word (there is none). It reads every
// registry slot; use it off the fast path.
func (s *Segment) HasIntent(kind Kind, object uint32, a uint64) bool {
	return s.anyIntent(func(in *intentRecord, w uint64) bool {
		return w != 0 && Kind(w&0xffff) == kind && uint32(w>>32) == object && in.a.Load() == a
	})
}

// anyIntent reports whether match holds for any intent record, with its
// word, of any registry slot in use.
func (s *Segment) anyIntent(match func(in *intentRecord, w uint64) bool) bool {
	for i := range s.reg {
		sl := &s.reg[i]
		if slotState(sl.ctl.Load()) == slotFree {
			continue
		}
		for j := range sl.intents {
			in := &sl.intents[j]
			if match(in, in.word.Load()) {
				return true
			}
		}
	}
	return false
}
