package queue

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
// segment.Alive). The owner stamp is the intent record of the fast path:
// BeginIntent (a CAS on a process-wide bitmap plus an atomic OR to end)
// would add two contended RMWs to every operation. Since the counters are
// hints, the claimer advances them with a plain store, not a CAS
// (advanceHint in queue.go), publishes and releases with a plain store
// where sleepers fence for us (hand), and a Pop of an inline 8-byte value
// reads it before one CAS from full(p) to free(p+cap), with no reading
// state (popWord in word.go). So an int64 push+pop pair costs two locked
// instructions, the push's claim CAS and the pop's CAS, and a third where
// the kernel refuses membarrier and the publish is an atomic store.
//
// # Where an item is the queue's, and where the caller's
//
// An item is the queue's from the store that publishes it (its cell
// becomes full(p)) to the write that frees its cell after a pop (the cell
// becomes free(p+cap)): the store that releases a cell the pop had
// claimed, or the word Pop's one CAS that takes the item and frees the
// cell at once. In between, the item is in its cell, full or claimed by
// its consumer, and a process killed at any instruction leaves it either
// in the queue, to be delivered, or claimed by a dead consumer and then
// counted in Stats().Lost, exactly once. Outside that span it is the
// caller's: a push killed before its publish pushed nothing (the caller
// never saw it return nil), a push killed after its publish pushed its
// item (although the caller never saw nil), and a pop killed after the
// write that freed the cell holds the item only in its own memory, like a
// process killed just after Pop returned. Each window, and why it is
// settled:
//
//   - Push, PushWait, PushBatch, PushFunc, inline: claim writing(p, X),
//     write, publish full(p). Killed before the publish: the cell says
//     writing(p, X) with X dead; whoever reaches it (the consumer of p, the
//     producer of p+cap, RepairCells) CASes it to free(p+cap). Nothing
//     was pushed, so nothing is counted lost (layout version 2 counted
//     it, so an item nobody pushed showed up in Lost). Killed after: the
//     item is full in its cell. PushBatch publishes item by item; each is
//     pushed once published.
//   - Push of a spilled value (pushSpill): the block is covered by an
//     intent record (opPushSpill, A = block, B = p+1 once the cell is
//     claimed), taken before the block is published to the allocator and
//     ended after the cell is published. A waiter that finds a dead
//     writer's spilled cell runs seg.Recover first, and recycles the cell
//     itself only once X's slot has been released (its blocks are then
//     accounted for). So the repair tells "published" from "never
//     published" by cell p: still writing(p, X) means never published,
//     and it recycles the cell and frees the block, counting nothing;
//     anything else means a consumer owns the block. With B = 0 the cell
//     was never published (publish comes after SetB): the block is freed
//     and the cell left to whoever reaches it. The allocator frees blocks
//     never published to it on its own (its recovery hook); Free accepts
//     those too and frees before the hook runs, so no block is freed twice.
//   - Pop, PopWait, Drain, inline or spilled (claimPop, finishPop): claim
//     reading(p, X), decode, release free(p+cap), free the spill block,
//     return. Killed between the claim and the release: reading(p, X), X
//     dead; the item counts lost (below), and whoever counts it frees its
//     block, whose offset is still in the cell (consumers free a block
//     only after releasing its cell). Killed after the release: the
//     caller's. A consumer killed between its release and its Free leaks
//     that block (a window of a few instructions; alloc.Check reports it).
//     PopWait and Drain pop as Pop does: each item is released before it
//     is returned or yielded.
//   - Pop of an inline 8-byte word (popWord): read, then one CAS from
//     full(p) to free(p+cap). Killed before the CAS it took nothing;
//     after it the item is the caller's, as after any release. The item
//     is never claimed in a cell, so there is nothing for the queue to
//     count (word.go says why it does not claim first).
//   - PopFunc: fn runs while the cell is claimed and the release follows
//     its return, so a process killed in fn leaves the item counted lost
//     although fn saw its bytes. The item is the caller's once PopFunc
//     returns, like any pop's.
//   - PopBatch: holds every cell it claimed until it returns, then
//     releases them all (each release is a single store; a process killed
//     among them has released some, which are then the caller's, and the
//     rest count lost). Releasing each item as it went, as version 2 did,
//     let a batch killed before its return take released items along
//     uncounted.
//   - The settling itself (recycle, the recovery hook, RepairCells): the
//     process counting a dead consumer's item can be killed too. The lost
//     gate (below) makes that count exactly once whoever dies.
//   - PopWait/PushWait count themselves in popWaiters/pushWaiters (for
//     Stats); the intent (opWaitPop/opWaitPush, A = 1 once counted) lets
//     the repair take a dead sleeper off the count. Who makes the wake
//     system call is decided by the sleepers bit of notEmpty/notFull
//     (queue.go, wake): a dead sleeper's bit costs the next push or pop one
//     wake call, which clears it.
//
// When a dead consumer's item is counted: by segment.Recover (the recovery
// hook below, run for every dead attachment, settles each reading cell it
// owned in every queue of the segment), or earlier by the first operation
// that reaches the cell (recycle), whichever comes first. Until layout
// version 3 only the second happened, so an item whose cell no operation
// reached again (the last lap's, after a final drain) was never counted.
// So after a Recover, with nobody operating, delivered + Lost = pushed
// holds exactly, where pushed counts the publishes and delivered the
// writes that freed a popped item's cell.
//
// # Lost, exactly once
//
// Counting a lost item changes two words, the cell and the lost counter,
// and no order of two stores survives a death between them: cell first
// and a death leaves the item uncounted (version 2's recycle did that),
// counter first and the next settler counts it again. So the count goes
// through the lost gate (layout.go): a header word that one settler at a
// time holds, stamped with its owner, and that keeps the low bits of lost
// as they were when it was taken. The holder (countLost):
//
//  1. takes the gate (CAS free(n) -> held(me, n)); a gate held by a live
//     process is waited for briefly, one held by a dead one is settled
//     first (settleGate);
//  2. checks that the cell still says reading(p, X); if not, someone
//     else settled it: gives the gate back unchanged;
//  3. marks the cell counted (CAS reading(p, X) -> reading(p, X)|counted);
//  4. adds one to lost (now n+1);
//  5. frees the cell (free(p+cap)) and its spill block;
//  6. gives the gate back as free(n+1).
//
// Every state a death leaves is told apart by a settler that takes the
// gate from the dead holder (settleGate): a marked cell and lost = n:
// add one, free the cell and its block; a marked cell and lost = n+1: free
// the cell and its block; no marked cell: give the gate back as lost now
// says. Only the gate holder marks or frees a marked cell, and it frees it
// before it gives the gate back, so at most one cell is marked and only
// while the gate is held, and the settler finds it by scanning the cells.
// A settler that dies is settled the same way, from the state it left. The
// cost is all on the slow path: a gate CAS and a scan only after deaths.
//
// Why not an intent record for the holder: a settler that finds the gate
// held by a dead process must settle it then and there, often from inside
// segment.Recover (the recovery hook), and an intent record is repaired
// only by a Recover of its own slot, which cannot run nested in another.
// The gate's stamp and the marked cell carry what an intent would.
//
// The one window left is a block, not an item: a settler killed between
// freeing the counted cell and freeing its block leaks the block, as a
// consumer killed between its release and its Free does.
//
// # Recovery by a process without a slot
//
// segment.Open repairs the slot it is about to take before the attaching
// process holds one. The hook then acts under the dead attachment's name,
// as the allocator's recovery does (hookSettler): the process holds that
// slot's lock meanwhile, so the name looks alive to everyone else, and if
// it dies too the name is dead again. Spill blocks are freed the same way,
// through alloc's ActingFor view under the dead name, so a repair needs no
// slot of its own and leaks nothing.
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

func init() {
	segment.RegisterRepair(segment.KindQueue, repair)
	segment.RegisterRecoveryHook("queue: count the items dead consumers held", recoverConsumers)
	segment.RegisterCheck(segment.KindQueue, Check)
}

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
		al = al.ActingFor(rec.Slot, rec.Gen) // under the dead name: see "Recovery by a process without a slot"
		blk := segment.Offset(rec.A)
		if rec.B == 0 {
			al.Free(blk) // never reached a cell; ErrInvalidFree means it is already free
			return nil
		}
		pos := rec.B - 1
		ci := int(pos & (v.cap - 1))
		sw := v.stateWord(ci)
		w := sw.Load()
		if cellState(w) == stWriting && posDiff(cellPos(w), pos) == 0 && cellOwner(w) == stamp(rec.Slot, rec.Gen) {
			// Never published: nothing was pushed, so nothing is lost.
			if sw.CompareAndSwap(w, makeState(pos+v.cap, stFree, false, 0)) {
				v.hdr.repaired.Add(1)
				al.Free(blk)
				wakeSleepers(seg, &v.hdr.notFull)
			}
		}
	}
	return nil
}

// recoverConsumers is the queue's recovery hook: for the dead attachment
// (slot, gen) it counts lost, in every queue of the segment, each item the
// attachment held claimed for a pop, and settles any lost gate a dead
// process held. It runs inside segment.Recover, once per dead attachment,
// before its slot is released; it is idempotent (a cell once settled no
// longer names the dead owner). It leaves dead producers' cells alone:
// they hold no item, and the next push or pop that reaches them, or
// RepairCells, recycles them. It costs a pass over every cell of every
// queue in the segment, per dead process.
func recoverConsumers(seg *segment.Segment, slot int, gen uint32) (int, error) {
	dead := stamp(slot, gen)
	var (
		s    settler
		n    int
		errs []error
	)
	for _, obj := range seg.Objects() {
		if obj.Kind != segment.KindQueue {
			continue
		}
		v, err := openView(seg, obj)
		if err != nil {
			continue // another layout version, or corrupt: nothing safe to do
		}
		if s.seg == nil {
			al, err := alloc.Of(seg)
			if err != nil {
				return n, err
			}
			s = hookSettler(seg, al.ActingFor(slot, gen), dead)
		}
		v.settleGate(s)
		for ci := range int(v.cap) {
			w := v.stateWord(ci).Load()
			if cellState(w) != stReading || w&lostBit != 0 || cellOwner(w) != dead {
				continue
			}
			switch v.countLost(s, ci, w, nearest(cellPos(w), v.hdr.deq.Load())) {
			case lostCounted:
				n++
			case lostBusy:
				errs = append(errs, fmt.Errorf("queue %q: cell %d: another process holds the lost gate; recover again", obj.Name, ci))
			}
		}
	}
	return n, errors.Join(errs...)
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

// recycle settles cell ci, found in state w (stWriting or stReading of
// position pos), if its owner is dead: a dead writer's cell is freed for
// pos+cap, a dead reader's item is counted lost (countLost). It reports
// whether the cell changed (settled by us or anyone), so the caller
// retries; false means a live process is finishing with it.
func (q *Queue[T]) recycle(ci int, w uint64, pos uint64) bool {
	sw := q.state(ci)
	if w&lostBit != 0 {
		// A settler is counting this item: it is a few instructions from
		// done, or dead, and then we finish for it.
		q.view().settleGate(q.settler())
		return sw.Load() != w
	}
	owner := cellOwner(w)
	switch q.live.state(owner, q.me) {
	case ownerAlive:
		return sw.Load() != w
	case ownerDead:
		// Let recovery repair the dead process first: its intents (the
		// blocks it allocated) and its claimed items (recoverConsumers).
		// Required before a spilled writing cell may be recycled,
		// worthwhile in any case.
		q.seg.Recover()
		q.live.forget(owner)
		if sw.Load() != w {
			return true
		}
		// If its slot could not be released, settle anyway: the block of
		// a spilled write then leaks rather than stalling the queue.
	}
	if cellState(w) == stWriting {
		// A push that never published: nothing was pushed, nothing lost.
		if sw.CompareAndSwap(w, makeState(pos+q.cap, stFree, false, 0)) {
			q.hdr.repaired.Add(1)
			q.wakePushers()
		}
		return true
	}
	return q.view().countLost(q.settler(), ci, w, pos) != lostBusy
}

// settler is who settles a dead process's leftovers, and how it tells
// whether a stamped owner lives.
type settler struct {
	seg   *segment.Segment
	al    *alloc.Allocator
	me    uint32
	alive func(owner uint32) bool
	// borrowed: me is the name of the dead attachment being recovered,
	// used by a process without a slot of its own (hookSettler); a gate
	// held under that name is the dead attachment's leftover.
	borrowed bool
}

// holderLive reports whether the stamped holder of the lost gate is alive
// and so must be waited for.
func (s settler) holderLive(h uint32) bool {
	if h == s.me {
		return !s.borrowed
	}
	return s.alive(h)
}

func (q *Queue[T]) settler() settler {
	return settler{seg: q.seg, al: q.al, me: q.me, alive: func(o uint32) bool { return q.live.state(o, q.me) == ownerAlive }}
}

// toolSettler is the settler of code without a Queue (the recovery hook,
// RepairCells): it asks the registry afresh each time.
func toolSettler(seg *segment.Segment, al *alloc.Allocator) settler {
	slot, gen := seg.Slot()
	me := stamp(slot, gen)
	return settler{seg: seg, al: al, me: me, alive: func(o uint32) bool {
		return o == me || ownerStatus(seg.Processes(), o) == ownerLive
	}}
}

// hookSettler is the settler of the recovery hook, which repairs the dead
// attachment dead; al is an allocator view acting for it (ActingFor).
// segment runs recovery hooks for the slot an attaching process is about
// to take before that process holds one; then it acts under the dead
// attachment's name, as the allocator's recovery does: it holds that
// slot's lock meanwhile, so to every other process the name looks alive,
// and if this process dies too the name is dead again and the next
// recovery finds what it left.
func hookSettler(seg *segment.Segment, al *alloc.Allocator, dead uint32) settler {
	s := toolSettler(seg, al)
	if slot, _ := seg.Slot(); slot < 0 {
		s.me, s.borrowed = dead, true
	}
	return s
}

// view returns the queue's geometry for the slow paths shared with code
// that does not know T.
func (q *Queue[T]) view() view {
	return view{hdr: q.hdr, words: q.words, data: q.data, hb: q.hb, cap: q.cap, slot: q.slot}
}

func (v view) stateWord(ci int) *atomic.Uint64 { return &v.words[ci*(cellHeader+v.slot)/8] }

// spillBlock returns the block offset a spilled cell ci holds.
func (v view) spillBlock(ci int) segment.Offset {
	off := ci*(cellHeader+v.slot) + cellHeader
	return segment.Offset(binary.NativeEndian.Uint64(v.data[off : off+8]))
}

type lostResult int

const (
	lostCounted lostResult = iota // we counted the item and freed its cell
	lostSettled                   // the cell had changed: someone else settled it
	lostBusy                      // a live process holds the gate; try later
)

// gateSpins bounds how long countLost waits for a live gate holder, a few
// instructions from giving the gate back unless it was descheduled.
const gateSpins = 1 << 12

// countLost counts the item of cell ci lost and frees the cell for
// pos+cap, where w is the cell's state, reading(pos, X) with X dead. It
// is exactly once however many settlers race and whoever of them dies
// ("Lost, exactly once" above); the numbered steps are those.
func (v view) countLost(s settler, ci int, w, pos uint64) lostResult {
	gate, sw := &v.hdr.lostGate, v.stateWord(ci)
	var g uint64
	for i := 0; ; i++ { // 1
		if i == maxSpins {
			return lostBusy
		}
		backoff(i)
		g = gate.Load()
		if g&gateHeld == 0 {
			if lo := v.hdr.lost.Load() & gateSnapMask; g != lo {
				// A free gate holds lost's low bits; only a write outside
				// the protocol (corruption) breaks that. Mend it.
				gate.CompareAndSwap(g, lo)
				continue
			}
			if gate.CompareAndSwap(g, g|gateHeld|uint64(s.me)<<32) {
				break
			}
			continue
		}
		if !s.holderLive(uint32(g >> 32)) {
			v.settleGate(s)
			continue
		}
		if i >= gateSpins {
			return lostBusy
		}
	}
	snap := g & gateSnapMask
	if sw.Load() != w { // 2
		gate.Store(snap)
		return lostSettled
	}
	var blk segment.Offset
	if cellSpill(w) {
		blk = v.spillBlock(ci)
	}
	if !sw.CompareAndSwap(w, w|lostBit) { // 3
		gate.Store(snap)
		return lostSettled
	}
	if crashHook != nil {
		crashHook(hookLostMarked)
	}
	v.hdr.lost.Add(1) // 4
	if crashHook != nil {
		crashHook(hookLostCounted)
	}
	if blk != 0 {
		s.al.Adopt(blk) // owned by the settler until freed: a death after 5 leaks nothing
	}
	sw.Store(makeState(pos+v.cap, stFree, false, 0)) // 5
	v.hdr.repaired.Add(1)
	if blk != 0 {
		s.al.Free(blk) // an error means the block was bad: nothing to free
	}
	if crashHook != nil {
		crashHook(hookLostFreed)
	}
	gate.Store((snap + 1) & gateSnapMask) // 6
	wakeSleepers(s.seg, &v.hdr.notFull)   // a cell came free
	return lostCounted
}

// settleGate finishes what a dead holder of the lost gate left: it takes
// the gate over, keeping the holder's snap, finds the one cell the holder
// may have marked, counts it if lost still says snap, frees it, and gives
// the gate back. A gate that is free or held by a live process is left
// alone. Idempotent: a settler killed here is settled the same way.
func (v view) settleGate(s settler) {
	gate := &v.hdr.lostGate
	g := gate.Load()
	if g&gateHeld == 0 {
		return
	}
	if s.holderLive(uint32(g >> 32)) {
		return
	}
	snap := g & gateSnapMask
	if !gate.CompareAndSwap(g, snap|gateHeld|uint64(s.me)<<32) {
		return // another settler took it, or the holder gave it back
	}
	if crashHook != nil {
		crashHook(hookSettleTaken)
	}
	for ci := range int(v.cap) {
		sw := v.stateWord(ci)
		w := sw.Load()
		if w&lostBit == 0 || cellState(w) != stReading {
			continue
		}
		var blk segment.Offset
		if cellSpill(w) {
			blk = v.spillBlock(ci)
		}
		if v.hdr.lost.Load()&gateSnapMask == snap {
			v.hdr.lost.Add(1)
		}
		if blk != 0 {
			s.al.Adopt(blk) // as countLost does
		}
		// The cell keeps 28 bits of its position; a claimed cell is
		// within a lap of deq, which nearest needs.
		if sw.CompareAndSwap(w, makeState(nearest(cellPos(w), v.hdr.deq.Load())+v.cap, stFree, false, 0)) {
			v.hdr.repaired.Add(1)
			if blk != 0 {
				s.al.Free(blk)
			}
			wakeSleepers(s.seg, &v.hdr.notFull)
		} else if blk != 0 {
			s.al.Publish(blk) // the cell moved on: it still refers to the block
		}
		break // only one cell is marked at a time
	}
	gate.Store(v.hdr.lost.Load() & gateSnapMask)
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
