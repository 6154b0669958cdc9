package stack

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
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
//   - reading below the top: the popper claimed but never moved top (or
//     its CAS on top failed and it died before putting the cell back), so
//     the item is still on the stack; the cell is made full again.
//   - reading at or above the top: the popper moved top and died while
//     reading. The item is lost, counted in Stats().Lost, and the cell is
//     made free.
//
// The place relative to top cannot change under a dead claimer: top moves
// past height i only by a push that claims cell i or a pop that claims
// cell i, and cell i is claimed by the dead process.
//
// # Where an item is the stack's, and where the caller's
//
// An item is the stack's from the CAS on top that publishes its push to
// the store that frees its cell after the pop that moved top below it. In
// between, a process killed at any instruction leaves the item on the
// stack or counted in Lost, exactly once. A push killed before its CAS on
// top pushed nothing (its caller never saw nil); one killed after it
// pushed its item although its caller never saw nil. A pop killed after
// its free store holds the item only in its own memory, like a process
// killed just after Pop returned. Peek changes nothing.
//
// Until layout version 2, a dead popper's item at or above the top was
// counted only when a later push reached its height: a stack drained by
// pops alone never counted it. Now segment.Recover counts it (the recovery
// hook below settles every reading cell the dead process left, in every
// stack of the segment), or the first push that reaches it does, whichever
// comes first.
//
// # Lost, exactly once
//
// Counting a lost item changes two words, the cell and the lost counter,
// and no order of two stores survives a death between them (version 1's
// settle freed the cell first, so a settler killed before its count left
// the item uncounted). The count goes through the lost gate (layout.go),
// exactly as in the queue (queue/repair.go gives the argument): the holder
// takes the gate, which keeps lost's low bits as they were; checks the cell
// still says reading(X) at or above the top; marks it counted; adds one to
// lost; frees the cell; gives the gate back with lost's new low bits. A
// settler that finds the gate held by a dead process takes it over,
// scans for the one marked cell, counts it if lost still says the old
// bits, frees it and gives the gate back. Only gate holders mark or free a
// marked cell, and they free it before they give the gate back, so at most
// one cell is marked, and only while the gate is held.
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
//     reading at the top's height: the gate holder that counts it lost
//     also frees B, whose offset is still in the slot, before it frees the
//     cell; a popper dead between marking the cell free and freeing B
//     leaks one block (the queue has the same few-instruction window).
//   - Peek of a spilled cell copies from B while a popper may free it and
//     a pusher reuse it: bounds-check B with al.UsableSize, copy, and trust
//     the copy only if top (whose tag every pop changes) is unchanged.

func init() {
	segment.RegisterRepair(segment.KindStack, func(*segment.Segment, segment.IntentRecord) error { return nil })
	segment.RegisterRecoveryHook("stack: settle the items dead poppers held", recoverPoppers)
	segment.RegisterCheck(segment.KindStack, Check)
}

// recoverPoppers is the stack's recovery hook: for the dead attachment
// (slot, gen) it settles, in every stack of the segment, each cell the
// attachment held claimed for a pop: below the top the item goes back
// (full), at or above it the item is counted lost. It also settles any lost
// gate a dead process held. It runs inside segment.Recover, once per dead
// attachment, before its slot is released, and is idempotent. A dead
// pusher's claim holds no published item unless it is below the top, where
// Pop takes it as full; the next push or pop that reaches it, or
// RepairCells, settles it. It costs a pass over every cell of every stack
// in the segment, per dead process.
func recoverPoppers(seg *segment.Segment, slot int, gen uint32) (int, error) {
	dead := stamp(slot, gen)
	s := toolSettler(seg)
	if mine, _ := seg.Slot(); mine < 0 {
		// segment runs recovery hooks for the slot an attaching process
		// is about to take before that process holds one. Act under the
		// dead attachment's name then, as the allocator's recovery does:
		// this process holds that slot's lock meanwhile, so to every
		// other process the name looks alive, and if this one dies too
		// the name is dead again and the next recovery finds what it left.
		s.me, s.borrowed = dead, true
	}
	var (
		n    int
		errs []error
	)
	for _, obj := range seg.Objects() {
		if obj.Kind != segment.KindStack {
			continue
		}
		v, err := inspectObject(seg, obj)
		if err != nil {
			continue // another layout version, or corrupt: nothing safe to do
		}
		v.settleGate(s)
		for i := range v.cap {
			sw := v.stateWord(i)
			w := sw.Load()
			if cellState(w) != stReading || w&lostBit != 0 || cellOwner(w) != dead {
				continue
			}
			if height(v.hdr.top.Load()) > i {
				if sw.CompareAndSwap(w, makeState(stFull, 0)) {
					v.hdr.repaired.Add(1)
					n++
				}
				continue
			}
			switch v.countLost(s, i, w) {
			case lostCounted:
				n++
			case lostBusy:
				errs = append(errs, fmt.Errorf("stack %q: cell %d: another process holds the lost gate; recover again", obj.Name, i))
			}
		}
	}
	return n, errors.Join(errs...)
}

// settler is who settles a dead process's leftovers, and how it tells
// whether a stamped owner lives.
type settler struct {
	me    uint32
	alive func(owner uint32) bool
	// borrowed: me is the name of the dead attachment being recovered
	// (recoverPoppers); a gate held under that name is its leftover.
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

func (s *Stack[T]) settler() settler {
	return settler{me: s.me, alive: func(o uint32) bool { return !s.live.dead(o, s.me) }}
}

// toolSettler is the settler of code without a Stack (the recovery hook,
// RepairCells): it asks the registry afresh each time.
func toolSettler(seg *segment.Segment) settler {
	slot, gen := seg.Slot()
	me := stamp(slot, gen)
	return settler{me: me, alive: func(o uint32) bool { return o == me || ownerLive(seg.Processes(), o) }}
}

// view returns the stack's geometry for the slow paths shared with code
// that does not know T.
func (s *Stack[T]) view() inspectView {
	return inspectView{obj: s.obj, hdr: s.hdr, words: s.words, data: s.data, cap: s.cap, slot: s.slot, stride: s.strW}
}

func (v inspectView) stateWord(i uint64) *atomic.Uint64 { return &v.words[int(i)*v.stride] }

type lostResult int

const (
	lostCounted lostResult = iota // we counted the item and freed its cell
	lostSettled                   // the cell had changed, or is below the top: not ours to count
	lostBusy                      // a live process holds the gate; try later
)

// gateSpins bounds how long countLost waits for a live gate holder, a few
// instructions from giving the gate back unless it was descheduled.
const gateSpins = 1 << 12

// countLost counts the item of cell i lost and frees the cell, where w is
// the cell's state, reading(X) with X dead, and i is at or above the top.
// It is exactly once however many settlers race and whoever of them dies
// ("Lost, exactly once" above).
func (v inspectView) countLost(s settler, i uint64, w uint64) lostResult {
	gate, sw := &v.hdr.lostGate, v.stateWord(i)
	var g uint64
	for n := 0; ; n++ {
		if n == maxSpins {
			return lostBusy
		}
		backoff(n)
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
		if n >= gateSpins {
			return lostBusy
		}
	}
	snap := g & gateSnapMask
	// Under the gate, check the cell is still the dead popper's and at or
	// above the top (below it, the pop never happened: not lost).
	if sw.Load() != w || height(v.hdr.top.Load()) > i || !sw.CompareAndSwap(w, w|lostBit) {
		gate.Store(snap)
		return lostSettled
	}
	if crashHook != nil {
		crashHook(hookLostMarked)
	}
	v.hdr.lost.Add(1)
	if crashHook != nil {
		crashHook(hookLostCounted)
	}
	sw.Store(makeState(stFree, 0))
	v.hdr.repaired.Add(1)
	if crashHook != nil {
		crashHook(hookLostFreed)
	}
	gate.Store((snap + 1) & gateSnapMask)
	return lostCounted
}

// settleGate finishes what a dead holder of the lost gate left: it takes
// the gate over, keeping the holder's snap, finds the one cell the holder
// may have marked, counts it if lost still says snap, frees it, and gives
// the gate back. A gate that is free or held by a live process is left
// alone. Idempotent: a settler killed here is settled the same way.
func (v inspectView) settleGate(s settler) {
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
	for i := range v.cap {
		sw := v.stateWord(i)
		w := sw.Load()
		if w&lostBit == 0 || cellState(w) != stReading {
			continue
		}
		if v.hdr.lost.Load()&gateSnapMask == snap {
			v.hdr.lost.Add(1)
		}
		if sw.CompareAndSwap(w, makeState(stFree, 0)) {
			v.hdr.repaired.Add(1)
		}
		break // only one cell is marked at a time
	}
	gate.Store(v.hdr.lost.Load() & gateSnapMask)
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
