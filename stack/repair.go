package stack

import (
	"sync"
	"time"

	"github.com/posixshm/posixshm/segment"
)

// Crash repair.
//
// A Treiber stack over a node pool (the textbook design) cannot be made
// crash-safe cheaply: a process killed between taking a node off a list and
// recording that it holds it leaves a node that belongs to nobody, and no
// survivor can tell it from one a live process is using without an intent
// record on every operation. This stack is an array instead: cell i holds
// the item at height i, and the top word packs the height with an ABA tag
// (layout.go). Every change of a cell is a CAS that also stamps the
// claimer's registry (slot, generation), and an operation takes effect only
// through the CAS on top that follows its claim. So at every instant a
// claimed cell names a live or dead attachment, and what a dead claimer
// left is decided by the cell's state and its place relative to top:
//
//   - writing at the top's height: the pusher never moved top, so its push
//     never happened. The cell is made free again. Nothing is lost.
//   - writing just below the top: the pusher moved top (published) and died
//     before marking the cell full. Its bytes were written before the CAS
//     on top, so a popper takes the cell as if it were full. Nothing is lost.
//   - reading just below the top: the popper claimed but never moved top, so
//     the item is still on the stack; the cell is made full again.
//   - reading at the top's height: the popper moved top and died while
//     reading. The item is lost, counted in Stats().Lost, and the cell is
//     made free.
//
// A cell claimed by a live process is waited for briefly (it is a few
// instructions from done); liveness comes from the kernel's OFD locks
// (segment.Alive, through seg.Processes), never from timing, so a slow
// process is never mistaken for a dead one. Since the stack stores values
// inline, there is no block to reclaim and it takes no intent records; the
// repair function registered below has nothing to do and exists so that a
// future intent of this kind is not reported as unhandled.

// Not done yet: spilling values larger than the slot. The plan, so that a
// killed pusher or popper still leaks nothing unaccounted for (the queue's
// opPushSpill, in queue/repair.go, is the model):
//
//   - Push: allocate block B and fill it; BeginIntent(KindStack,
//     opPushSpill, A = B) before al.Publish(B); claim the cell at height h
//     with the spill bit in its state word; write B's offset into the slot;
//     SetB(h+1) before the CAS on top; End after the cell is marked full.
//   - Repair of a dead pusher's opPushSpill: B = 0 (no cell yet) frees B.
//     Otherwise look at cell h: writing(X) at the top's height means the
//     push never happened, so recycle the cell and free B; anything else
//     (writing below the top, full, or already popped) means the item was
//     published and whoever pops it owns B. As in the queue, a waiter that
//     finds a dead pusher's spilled writing cell at the top must run
//     seg.Recover and leave the cell to the repair, never free it itself,
//     or the repair could free B a second time.
//   - Pop of a spilled cell: claim, CAS top down, decode from B, mark the
//     cell free, then al.Free(B). A popper dead after its CAS on top leaves
//     reading at the top's height: the settler that recycles it (lost)
//     also frees B, whose offset is still in the slot; a popper dead
//     between marking the cell free and freeing B leaks one block (the
//     queue has the same few-instruction window).
//   - Peek of a spilled cell copies from B while a popper may free it and
//     a pusher reuse it: bounds-check B with al.UsableSize, copy, and trust
//     the copy only if top (whose tag every pop changes) is unchanged.
//
// Precise-point crash tests (a child killed after each step above, as
// queue_test.go's TestCrashRecovery does with PushFunc/PopFunc callbacks)
// need such a callback hook in the stack first; they are not written yet.

func init() {
	segment.RegisterRepair(segment.KindStack, func(*segment.Segment, segment.IntentRecord) error { return nil })
}

// liveness answers "is the owner stamped in a cell dead?" for one handle.
// A dead answer is final; a live one is trusted for aliveTTL.
type liveness struct {
	seg   *segment.Segment
	mu    sync.Mutex
	cache map[uint32]time.Time // owner -> when it was last seen alive
}

const aliveTTL = 2 * time.Millisecond

func (l *liveness) dead(owner, me uint32) bool {
	if owner == me {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if at, ok := l.cache[owner]; ok && time.Since(at) < aliveTTL {
		return false
	}
	alive := false
	for _, p := range l.seg.Processes() {
		if p.Slot == stampSlot(owner) {
			alive = p.Gen&genMask == stampGen(owner) && p.Alive
			break
		}
	}
	if alive {
		if l.cache == nil || len(l.cache) > 1024 {
			l.cache = make(map[uint32]time.Time)
		}
		l.cache[owner] = time.Now()
	}
	return !alive
}
