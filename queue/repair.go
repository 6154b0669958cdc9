package queue

import (
	"encoding/binary"
	"errors"
	"sync"
	"time"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/segment"
)

// Crash repair.
//
// The problem. In Vyukov's bounded queue a producer claims a position by a
// CAS on the tail counter and then writes and publishes the cell; a
// consumer claims by a CAS on the head counter and then reads and frees
// the cell. A process killed between the claim and the publish (or free)
// leaves a cell that the next consumer (or the producer one lap later)
// waits on forever, and nothing in shared memory says who claimed it.
//
// The fix: claim the cell, not the counter. A producer CASes the cell's
// state word from free(p) to writing(p, owner) where owner is its registry
// (slot, generation) stamp, and only then advances the tail counter, which
// is a hint that anyone may advance past a claimed cell. A consumer
// likewise CASes full(p) to reading(p, owner). The claim and the owner's
// name are one atomic write, so at every instant a claimed cell names a
// registry attachment, whose liveness the kernel vouches for (its OFD lock,
// segment.Alive). This costs one CAS more per operation than Vyukov's
// algorithm (the counter CAS cannot fail the operation, it only helps) and
// no intent record; BeginIntent (a CAS on a process-wide bitmap plus an
// atomic OR to end) would add two contended RMWs per operation. Since the
// counters are hints, the claimer advances them with a plain store, not a
// CAS (advanceHint in queue.go), and a Pop of an inline 8-byte value reads
// it before one CAS from full(p) to free(p+cap), with no reading state
// (popWord in word.go). So an int64 push+pop pair costs three locked
// instructions: the push's claim CAS and publishing store, the pop's CAS.
//
// Who repairs what, and why every case is safe:
//
//   - writing(p, X), X dead, inline value: X never published, so no
//     consumer has or will see its bytes. Whoever waits on the cell (the
//     consumer of p, or the producer of p+cap) CASes it to free(p+cap) and
//     counts one lost item. The CAS makes the recycle happen once; a
//     (slow) live owner is never recycled because liveness is decided by
//     the kernel lock, not by time.
//   - A word Pop (popWord) has no reading state: a consumer killed before
//     its CAS took nothing (the item stays for others), one killed after
//     it holds the value in its own memory only, like a consumer killed
//     just after Pop returned: not counted in Lost, the same window every
//     queue has between handing over an item and the caller using it.
//   - reading(p, X), X dead: X claimed the item and died before releasing
//     the cell, so it may or may not have used the value; the item counts
//     as lost (at most once delivered holds either way). Whoever waits
//     CASes it to free(p+cap); if the spill bit is set the winner of that
//     CAS frees the block, whose offset is still in the cell (consumers
//     free a block only after releasing its cell, so a reading cell's block
//     has not been freed). A consumer killed after its release and before
//     its Free leaks that one block (a window of a few instructions).
//   - writing(p, X, spill), X dead: the block's ownership is tracked by an
//     intent record (op opPushSpill, A = block, B = p+1 once the cell is
//     claimed), taken before the block is published to the allocator and
//     ended after the cell is published. Only the repair function (run by
//     segment.Recover, with X's slot lock held) recycles such a cell while
//     X's intents are unrepaired: a waiter that finds one calls
//     seg.Recover first, and recycles it itself only once X's slot has been
//     released (then its blocks are accounted for). Hence the repair can
//     tell "published" from "never published" by looking at cell p: if it
//     still says writing(p, X) the value was never published, so it
//     recycles the cell (lost) and frees the block; otherwise a consumer
//     owns the block. With B = 0 the cell was never published (publish
//     comes after SetB), so the block is freed. The allocator frees blocks
//     never published to it on its own (its recovery hook); Free accepts
//     those too, and frees before the hook runs, so no block is freed twice.
//   - PopWait/PushWait count themselves in popWaiters/pushWaiters (for
//     Stats); the intent (opWaitPop/opWaitPush, A = 1 once counted) lets
//     the repair take a dead sleeper off the count. Who makes the wake
//     system call is decided by the sleepers bit of notEmpty/notFull
//     (queue.go, wake): a dead sleeper's bit costs the next push or pop one
//     wake call, which clears it.
//
// Bounded waiting. A consumer that finds the head cell writing spins 128
// loads, then asks whether the owner lives (a cached answer for a live
// owner is trusted for 2 ms; one seg.Processes scan otherwise). A live
// owner makes Pop return ErrEmpty, as Vyukov's queue does while a push is
// in flight; a dead one is recycled at once. So a dead process stalls
// others only until the next Pop or Push that reaches its cell, and
// PopWait re-checks at least every 100 ms (segment's longest futex sleep).
//
// Counters. enq and deq are hints: every decision is made on a cell's
// state word, and anyone may advance a counter past a cell that is no
// longer free for it (CAS pos -> pos+1); the claimer of pos advances it
// with a plain store, which may move it back a step under a race and is
// then corrected the same way. Cells keep 28 bits of their
// position; a process stalled for 2^28 operations that then CASes a cell
// still succeeds only if the cell is in exactly the state it expects, which
// is then a correct claim of that later position.

// Intent operations of kind segment.KindQueue.
const (
	opPushSpill uint8 = 1 // A: spill block; B: claimed position + 1, or 0
	opWaitPop   uint8 = 2 // A: 1 once counted in popWaiters
	opWaitPush  uint8 = 3 // A: 1 once counted in pushWaiters
)

func init() { segment.RegisterRepair(segment.KindQueue, repair) }

// repair finishes or undoes the queue operation rec describes, for a dead
// process. It is idempotent, and errs on the side of leaking a block.
func repair(seg *segment.Segment, rec segment.IntentRecord) error {
	obj, err := seg.ObjectAt(rec.Object)
	if errors.Is(err, segment.ErrNotFound) {
		return nil // the queue was deleted; its cells with it
	}
	if err != nil {
		return err
	}
	v, err := openView(seg, obj)
	if err != nil {
		return nil // not a queue we can read: nothing safe to do
	}
	switch rec.Op {
	case opWaitPop:
		if rec.A == 1 {
			decrement(&v.hdr.popWaiters)
			v.hdr.repaired.Add(1)
		}
	case opWaitPush:
		if rec.A == 1 {
			decrement(&v.hdr.pushWaiters)
			v.hdr.repaired.Add(1)
		}
	case opPushSpill:
		al, err := alloc.Of(seg)
		if err != nil {
			return err
		}
		blk := segment.Offset(rec.A)
		if rec.B == 0 {
			al.Free(blk) // never reached a cell; ErrInvalidFree means it is already free
			return nil
		}
		pos := rec.B - 1
		ci := int(pos & (v.cap - 1))
		stride := (cellHeader + v.slot) / 8
		sw := &v.words[ci*stride]
		w := sw.Load()
		if cellState(w) == stWriting && posDiff(cellPos(w), pos) == 0 && cellOwner(w) == stamp(rec.Slot, rec.Gen) {
			if sw.CompareAndSwap(w, makeState(pos+v.cap, stFree, false, 0)) {
				v.hdr.lost.Add(1)
				v.hdr.repaired.Add(1)
				al.Free(blk)
			}
		}
	}
	return nil
}

// decrement lowers a waiter count without wrapping below zero.
func decrement(w interface {
	Load() uint32
	CompareAndSwap(old, new uint32) bool
}) {
	for {
		n := w.Load()
		if n == 0 || w.CompareAndSwap(n, n-1) {
			return
		}
	}
}

// recycle frees cell ci, found in state w (stWriting or stReading of
// position pos), if its owner is dead, counting the item lost. It reports
// whether the cell changed (recycled by us or anyone), so the caller
// retries; false means the owner lives.
func (q *Queue[T]) recycle(ci int, w uint64, pos uint64) bool {
	sw := q.state(ci)
	owner := cellOwner(w)
	switch q.live.state(owner, q.me) {
	case ownerAlive:
		return sw.Load() != w
	case ownerDead:
		// Let recovery repair the dead process's intents first (and free
		// the blocks it allocated); required before a spilled writing cell
		// may be recycled, worthwhile in any case.
		q.seg.Recover()
		q.live.forget(owner)
		if sw.Load() != w {
			return true
		}
		// If its slot could not be released, recycle anyway: the block of
		// a spilled write then leaks rather than stalling the queue.
	}
	var blk segment.Offset
	if cellState(w) == stReading && cellSpill(w) {
		blk = segment.Offset(binary.NativeEndian.Uint64(q.slotBytes(ci)))
	}
	if sw.CompareAndSwap(w, makeState(pos+q.cap, stFree, false, 0)) {
		q.hdr.lost.Add(1)
		q.hdr.repaired.Add(1)
		if blk != 0 {
			q.al.Free(blk) // an error means the block was bad: nothing to free
		}
		q.wakePushers()
	}
	return true
}

type ownerState int

const (
	ownerAlive ownerState = iota // attached and holding its lock (or being repaired)
	ownerDead                    // its slot is active but its lock is gone: died, not yet repaired
	ownerGone                    // its slot was released or taken by a later attachment
)

// liveness answers "is the owner stamped in a cell alive?" for one handle,
// caching answers: gone is final, alive is trusted for aliveTTL.
type liveness struct {
	seg   *segment.Segment
	mu    sync.Mutex
	cache map[uint32]liveEntry
}

type liveEntry struct {
	st ownerState
	at time.Time
}

const aliveTTL = 2 * time.Millisecond

func (l *liveness) state(owner, me uint32) ownerState {
	if owner == me {
		return ownerAlive // a goroutine of this process
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if e, ok := l.cache[owner]; ok && (e.st == ownerGone || time.Since(e.at) < aliveTTL) {
		return e.st
	}
	st := ownerGone
	for _, p := range l.seg.Processes() {
		if p.Slot != stampSlot(owner) {
			continue
		}
		if p.Gen&genMask == stampGen(owner) {
			st = ownerDead
			if p.Alive {
				st = ownerAlive
			}
		}
		break
	}
	if l.cache == nil || len(l.cache) > 1024 {
		l.cache = make(map[uint32]liveEntry)
	}
	l.cache[owner] = liveEntry{st, time.Now()}
	return st
}

func (l *liveness) forget(owner uint32) {
	l.mu.Lock()
	delete(l.cache, owner)
	l.mu.Unlock()
}
