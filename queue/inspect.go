package queue

import (
	"encoding/binary"
	"fmt"
	"runtime/debug"
	"sync/atomic"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/segment"
)

// Inspection for tools (shmctl) that do not know a queue's element type.
// Everything here reads the queue's words without claiming a cell, so it
// works on a segment opened with segment.ReadOnly and never disturbs
// producers or consumers; only RepairCells writes.

// Info describes a queue for tools; see Inspect.
type Info struct {
	Name     string
	Version  uint32 // the queue's layout version
	Cap      int
	SlotSize int
	Len      int    // items between the pop and push counters, as Queue.Len
	Enq, Deq uint64 // the push and pop counters (hints, see repair.go)
	Lost     uint64 // items lost with dead processes
	// Codec is the fingerprint of the element codec's ID
	// (codec.Fingerprint); the ID itself is not stored.
	Codec                   uint64
	PopWaiters, PushWaiters uint32
	// Claimed counts cells claimed by a producer or consumer right now
	// (or left claimed by a dead one).
	Claimed int
}

// Item is one item of a queue as Items reads it: its position and its
// encoded bytes, a copy.
type Item struct {
	Pos     uint64
	Spilled bool // the value lived in an allocator block
	Data    []byte
}

// inspectView is the validated geometry of a queue, read without writing.
type inspectView struct {
	seg    *segment.Segment
	obj    segment.Object
	hdr    *header
	words  []atomic.Uint64
	data   []byte
	cap    uint64
	slot   int
	stride int // in words
}

func lookupView(seg *segment.Segment, name string) (inspectView, error) {
	obj, err := seg.Lookup(name)
	if err != nil {
		return inspectView{}, fmt.Errorf("queue %q: %w", name, err)
	}
	return inspectObject(seg, obj)
}

func inspectObject(seg *segment.Segment, obj segment.Object) (inspectView, error) {
	if obj.Kind != segment.KindQueue || obj.Version != layoutVersion {
		return inspectView{}, fmt.Errorf("%w: object %q: want queue v%d, found %v v%d", ErrMismatch, obj.Name, layoutVersion, obj.Kind, obj.Version)
	}
	capacity, slot := obj.Params[0], obj.Params[1]
	if capacity == 0 || capacity > MaxCapacity || capacity&(capacity-1) != 0 || slot < 8 || slot > MaxSlotSize || slot%8 != 0 {
		return inspectView{}, fmt.Errorf("%w: object %q: capacity %d, slot size %d", ErrCorrupt, obj.Name, capacity, slot)
	}
	stride := cellHeader + slot
	if need := headerSize + capacity*stride; obj.Size < need {
		return inspectView{}, fmt.Errorf("%w: object %q: block of %d bytes, capacity %d needs %d", ErrCorrupt, obj.Name, obj.Size, capacity, need)
	}
	h, err := segment.At[header](seg, obj.Offset)
	if err != nil {
		return inspectView{}, fmt.Errorf("%w: object %q: %w", ErrCorrupt, obj.Name, err)
	}
	if h.magic != qMagic || h.version != layoutVersion || uint64(h.slotSize) != slot || h.capacity != capacity || h.fingerprint != obj.Params[2] {
		return inspectView{}, fmt.Errorf("%w: object %q: header (magic %#x v%d cap %d slot %d) disagrees with its directory entry (cap %d slot %d)",
			ErrCorrupt, obj.Name, h.magic, h.version, h.capacity, h.slotSize, capacity, slot)
	}
	words, err := segment.Slice[atomic.Uint64](seg, obj.Offset+headerSize, int(capacity*stride/8))
	if err != nil {
		return inspectView{}, fmt.Errorf("%w: object %q: %w", ErrCorrupt, obj.Name, err)
	}
	data, err := seg.Bytes(obj.Offset+headerSize, capacity*stride)
	if err != nil {
		return inspectView{}, fmt.Errorf("%w: object %q: %w", ErrCorrupt, obj.Name, err)
	}
	return inspectView{seg: seg, obj: obj, hdr: h, words: words, data: data, cap: capacity, slot: int(slot), stride: int(stride / 8)}, nil
}

// Inspect describes the queue called name in seg without attaching to it
// as a producer or consumer, and without knowing its element type. It
// works on a segment opened with segment.ReadOnly. Counters are read one by
// one, so under concurrent use the result is approximate.
func Inspect(seg *segment.Segment, name string) (_ Info, err error) {
	defer seg.Catch(&err, debug.SetPanicOnFault(true))
	v, err := lookupView(seg, name)
	if err != nil {
		return Info{}, err
	}
	d, e := v.hdr.deq.Load(), v.hdr.enq.Load()
	n := 0
	if e > d {
		n = int(min(e-d, v.cap))
	}
	in := Info{
		Name: v.obj.Name, Version: v.hdr.version, Cap: int(v.cap), SlotSize: v.slot, Len: n, Enq: e, Deq: d,
		Lost: v.hdr.lost.Load(), Codec: v.hdr.fingerprint,
		PopWaiters: v.hdr.popWaiters.Load(), PushWaiters: v.hdr.pushWaiters.Load(),
	}
	for ci := range int(v.cap) {
		if st := cellState(v.words[ci*v.stride].Load()); st == stWriting || st == stReading {
			in.Claimed++
		}
	}
	return in, nil
}

// Items returns up to max items of the queue called name (all if max <= 0),
// oldest first, as encoded bytes, without removing them: it reads the cells
// that are full, from the pop counter on, and keeps a copy only if the
// cell did not change while it was copied. It works on a segment opened
// with segment.ReadOnly.
//
// Items is not a consistent snapshot under concurrent use: an item popped
// or pushed meanwhile may or may not appear. Every length and spill offset
// is checked; a bad one is an ErrCorrupt error naming the cell.
func Items(seg *segment.Segment, name string, max int) (_ []Item, err error) {
	defer seg.Catch(&err, debug.SetPanicOnFault(true))
	v, err := lookupView(seg, name)
	if err != nil {
		return nil, err
	}
	return v.items(max)
}

func (v inspectView) items(max int) ([]Item, error) {
	al, err := alloc.Of(v.seg)
	if err != nil {
		return nil, err
	}
	var out []Item
	start := v.hdr.deq.Load()
	for p := start; p < start+v.cap; p++ {
		if max > 0 && len(out) >= max {
			break
		}
		ci := int(p & (v.cap - 1))
		sw := &v.words[ci*v.stride]
		w := sw.Load()
		if cellState(w) != stFull || posDiff(cellPos(w), p) != 0 {
			continue
		}
		it, err := v.copyCell(al, ci, w, p)
		if err != nil {
			return out, err
		}
		if sw.Load() != w {
			continue // popped (or recycled) while we copied
		}
		out = append(out, it)
	}
	return out, nil
}

// copyCell copies the bytes of full cell ci (state w), checking the length
// and any spill block.
func (v inspectView) copyCell(al *alloc.Allocator, ci int, w uint64, p uint64) (Item, error) {
	base := ci * v.stride * 8
	n := binary.NativeEndian.Uint64(v.data[base+8:])
	slot := v.data[base+cellHeader : base+cellHeader+v.slot]
	if !cellSpill(w) {
		if n > uint64(v.slot) {
			return Item{}, fmt.Errorf("%w: queue %q: cell %d holds %d bytes in a %d-byte slot", ErrCorrupt, v.obj.Name, ci, n, v.slot)
		}
		return Item{Pos: p, Data: append([]byte(nil), slot[:n]...)}, nil
	}
	blk := segment.Offset(binary.NativeEndian.Uint64(slot))
	size, err := al.UsableSize(blk)
	if err != nil || n > size {
		return Item{}, fmt.Errorf("%w: queue %q: cell %d spills %d bytes to block %d (usable %d): %v", ErrCorrupt, v.obj.Name, ci, n, blk, size, err)
	}
	b, err := v.seg.Bytes(blk, n)
	if err != nil {
		return Item{}, fmt.Errorf("%w: queue %q: %w", ErrCorrupt, v.obj.Name, err)
	}
	return Item{Pos: p, Spilled: true, Data: append([]byte(nil), b...)}, nil
}

// Snapshot returns up to max items (all if max <= 0), oldest first,
// without removing them. It is not a consistent snapshot under concurrent
// use: an item pushed or popped meanwhile may or may not appear. It works
// on a queue of a segment opened with segment.ReadOnly.
func (q *Queue[T]) Snapshot(max int) (_ []T, err error) {
	defer q.seg.Catch(&err, debug.SetPanicOnFault(true))
	v, err := inspectObject(q.seg, q.obj)
	if err != nil {
		return nil, err
	}
	items, err := v.items(max)
	out := make([]T, 0, len(items))
	for _, it := range items {
		x, derr := q.codec.Decode(it.Data)
		if derr != nil {
			return out, fmt.Errorf("queue %q: item at position %d: %w", q.obj.Name, it.Pos, derr)
		}
		out = append(out, x)
	}
	return out, err
}

// ownerKind is how an owner stamp in a cell relates to the process registry.
type ownerKind int

const (
	ownerLive ownerKind = iota
	ownerDeadSlot
	ownerReleased
)

func ownerStatus(ps []segment.Process, owner uint32) ownerKind {
	for _, p := range ps {
		if p.Slot == stampSlot(owner) {
			if p.Gen&genMask != stampGen(owner) {
				return ownerReleased
			}
			if p.Alive {
				return ownerLive
			}
			return ownerDeadSlot
		}
	}
	return ownerReleased
}

// Check verifies what can be verified of the queue called name without
// writing: its header against the directory, every cell's position and
// length, spill blocks, and cells claimed by processes that are no longer
// alive (which RepairCells, or the next push or pop that reaches them,
// recycles). It returns one line per problem; none means the queue is
// sound. Under concurrent use it may report cells in flight. A memory
// fault (the segment's file truncated by a peer) is reported as a problem.
func Check(seg *segment.Segment, obj segment.Object) (probs []string) {
	var ferr error
	defer func() {
		if ferr != nil {
			probs = append(probs, ferr.Error())
		}
	}()
	defer seg.Catch(&ferr, debug.SetPanicOnFault(true))
	v, err := inspectObject(seg, obj)
	if err != nil {
		return []string{err.Error()}
	}
	al, err := alloc.Of(seg)
	if err != nil {
		return []string{err.Error()}
	}
	ps := seg.Processes()
	gate := v.hdr.lostGate.Load()
	if gate&gateHeld != 0 {
		if h := uint32(gate >> 32); ownerStatus(ps, h) != ownerLive {
			probs = append(probs, fmt.Sprintf("queue %q: a count of a lost item left half done by a dead process (registry slot %d); run recover", obj.Name, stampSlot(h)))
		}
	} else if lo := v.hdr.lost.Load() & gateSnapMask; gate != lo {
		probs = append(probs, fmt.Sprintf("queue %q: lost gate %#x disagrees with the lost count %d", obj.Name, gate, v.hdr.lost.Load()))
	}
	for ci := range int(v.cap) {
		w := v.words[ci*v.stride].Load()
		if uint64(cellPos(w))&(v.cap-1) != uint64(ci) {
			probs = append(probs, fmt.Sprintf("queue %q: cell %d holds position %d, which belongs to cell %d", obj.Name, ci, cellPos(w), uint64(cellPos(w))&(v.cap-1)))
			continue
		}
		if w&lostBit != 0 && (cellState(w) != stReading || gate&gateHeld == 0) {
			probs = append(probs, fmt.Sprintf("queue %q: cell %d: counted bit set outside a count in progress (%#x)", obj.Name, ci, w))
		}
		switch cellState(w) {
		case stFull:
			if _, err := v.copyCell(al, ci, w, 0); err != nil {
				probs = append(probs, err.Error())
			}
		case stWriting, stReading:
			what := "push"
			if cellState(w) == stReading {
				what = "pop"
			}
			switch ownerStatus(ps, cellOwner(w)) {
			case ownerDeadSlot:
				probs = append(probs, fmt.Sprintf("queue %q: cell %d: %s of position %d left in flight by dead process (registry slot %d); run recover", obj.Name, ci, what, cellPos(w), stampSlot(cellOwner(w))))
			case ownerReleased:
				probs = append(probs, fmt.Sprintf("queue %q: cell %d: %s of position %d left in flight by a process that has gone (registry slot %d); run recover", obj.Name, ci, what, cellPos(w), stampSlot(cellOwner(w))))
			}
		case stFree:
			if cellSpill(w) || cellOwner(w) != 0 {
				probs = append(probs, fmt.Sprintf("queue %q: cell %d: free cell with spill bit or owner set (%#x)", obj.Name, ci, w))
			}
		}
	}
	return probs
}

// RepairCells settles the cells of the queue called name that processes
// no longer alive left claimed, as the next push or pop reaching them
// would: a push that never published is recycled (it pushed nothing), and
// an item a dead consumer had taken is counted lost, exactly once
// (repair.go). Call it after seg.Recover, which repairs the dead
// processes' intents (a spilled push's block) and already counts their
// taken items: a spilled cell whose writer's slot is not yet released is
// left alone. It needs a writable segment and returns how many cells it
// settled.
func RepairCells(seg *segment.Segment, name string) (n int, err error) {
	defer seg.Catch(&err, debug.SetPanicOnFault(true))
	if !seg.Writable() {
		return 0, fmt.Errorf("queue %q: %w", name, segment.ErrReadOnly)
	}
	obj, err := seg.Lookup(name)
	if err != nil {
		return 0, fmt.Errorf("queue %q: %w", name, err)
	}
	v, err := openView(seg, obj)
	if err != nil {
		return 0, err
	}
	al, err := alloc.Of(seg)
	if err != nil {
		return 0, err
	}
	s := toolSettler(seg, al)
	v.settleGate(s)
	ps := seg.Processes()
	for ci := range int(v.cap) {
		sw := v.stateWord(ci)
		w := sw.Load()
		st := cellState(w)
		if st != stWriting && st != stReading || w&lostBit != 0 {
			continue // a marked cell is its gate holder's, settled above if it died
		}
		switch ownerStatus(ps, cellOwner(w)) {
		case ownerLive:
			continue
		case ownerDeadSlot:
			if st == stWriting && cellSpill(w) {
				continue // its intent owns the block: Recover first
			}
		}
		if st == stReading {
			if v.countLost(s, ci, w, nearest(cellPos(w), v.hdr.deq.Load())) == lostCounted {
				n++
			}
			continue
		}
		// The cell keeps 28 bits of its position; a claimed cell is
		// within a lap of enq, which nearest needs.
		if sw.CompareAndSwap(w, makeState(nearest(cellPos(w), v.hdr.enq.Load())+v.cap, stFree, false, 0)) {
			n++
			v.hdr.repaired.Add(1)
			wakeSleepers(seg, &v.hdr.notFull) // a cell came free
		}
	}
	return n, nil
}
