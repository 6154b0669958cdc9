package stack

import (
	"fmt"
	"runtime/debug"
	"sync/atomic"

	"github.com/posixshm/posixshm/segment"
)

// Inspection for tools (shmctl) that do not know a stack's element type.
// Everything here but RepairCells only reads the stack's words, without
// claiming a cell, so it works on a segment opened with segment.ReadOnly
// and never disturbs pushers or poppers.

// Info describes a stack for tools; see Inspect.
type Info struct {
	Name     string
	Version  uint32 // the stack's layout version
	Cap      int
	SlotSize int
	Len      int    // the height
	Tag      uint32 // the top word's ABA tag: it changes on every push and pop
	Lost     uint64 // items lost with dead processes
	// Codec is the fingerprint of the element codec's ID
	// (codec.Fingerprint); the ID itself is not stored.
	Codec uint64
	// Claimed counts cells claimed by a pusher or popper right now (or
	// left claimed by a dead one).
	Claimed int
}

// Item is one item of a stack as Items reads it: its height index (0 is
// the bottom) and its encoded bytes, a copy.
type Item struct {
	Index uint64
	Data  []byte
}

type inspectView struct {
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
		return inspectView{}, fmt.Errorf("stack %q: %w", name, err)
	}
	return inspectObject(seg, obj)
}

func inspectObject(seg *segment.Segment, obj segment.Object) (inspectView, error) {
	if obj.Kind != segment.KindStack || obj.Version != layoutVersion {
		return inspectView{}, fmt.Errorf("%w: object %q: want stack v%d, found %v v%d", ErrMismatch, obj.Name, layoutVersion, obj.Kind, obj.Version)
	}
	capacity, slot := obj.Params[0], obj.Params[1]
	if capacity == 0 || capacity > MaxCapacity || slot < 8 || slot > MaxSlotSize || slot%8 != 0 {
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
	if h.magic != sMagic || h.version != layoutVersion || uint64(h.slotSize) != slot || h.capacity != capacity || h.fingerprint != obj.Params[2] {
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
	return inspectView{obj: obj, hdr: h, words: words, data: data, cap: capacity, slot: int(slot), stride: int(stride / 8)}, nil
}

// Inspect describes the stack called name in seg without knowing its
// element type. It only reads, so it works on a segment opened with
// segment.ReadOnly; under concurrent use the result is approximate.
func Inspect(seg *segment.Segment, name string) (_ Info, err error) {
	defer seg.Catch(&err, debug.SetPanicOnFault(true))
	v, err := lookupView(seg, name)
	if err != nil {
		return Info{}, err
	}
	t := v.hdr.top.Load()
	in := Info{
		Name: v.obj.Name, Version: v.hdr.version, Cap: int(v.cap), SlotSize: v.slot,
		Len: int(min(height(t), v.cap)), Tag: uint32(t >> 32), Lost: v.hdr.lost.Load(), Codec: v.hdr.fingerprint,
	}
	for i := range int(v.cap) {
		if st := cellState(v.words[i*v.stride].Load()); st == stWriting || st == stReading {
			in.Claimed++
		}
	}
	return in, nil
}

// Items returns up to max items of the stack called name (all if max <= 0),
// top first, as encoded bytes, without removing them. A cell is kept only
// if it was full and did not change while it was copied. It is not a
// consistent snapshot under concurrent use: an item pushed or popped
// meanwhile may or may not appear. Every length is checked; a bad one is
// an ErrCorrupt error naming the cell. It works on a segment opened with
// segment.ReadOnly.
func Items(seg *segment.Segment, name string, max int) (_ []Item, err error) {
	defer seg.Catch(&err, debug.SetPanicOnFault(true))
	v, err := lookupView(seg, name)
	if err != nil {
		return nil, err
	}
	return v.items(max)
}

func (v inspectView) items(max int) ([]Item, error) {
	h := min(height(v.hdr.top.Load()), v.cap)
	var out []Item
	for i := h; i > 0; i-- {
		if max > 0 && len(out) >= max {
			break
		}
		sw := &v.words[int(i-1)*v.stride]
		w := sw.Load()
		if cellState(w) != stFull {
			continue
		}
		b, err := v.payload(i - 1)
		if err != nil {
			return out, err
		}
		if sw.Load() != w {
			continue
		}
		out = append(out, Item{Index: i - 1, Data: b})
	}
	return out, nil
}

func (v inspectView) payload(i uint64) ([]byte, error) {
	n := v.words[int(i)*v.stride+1].Load()
	if n > uint64(v.slot) {
		return nil, fmt.Errorf("%w: stack %q: cell %d holds %d bytes in a %d-byte slot", ErrCorrupt, v.obj.Name, i, n, v.slot)
	}
	off := int(i)*v.stride*8 + cellHeader
	return append([]byte(nil), v.data[off:off+int(n)]...), nil
}

// Snapshot returns up to max items (all if max <= 0), top first, without
// removing them. It is not a consistent snapshot under concurrent use: an
// item pushed or popped meanwhile may or may not appear. It works on a
// stack of a segment opened with segment.ReadOnly.
func (s *Stack[T]) Snapshot(max int) (_ []T, err error) {
	defer s.seg.Catch(&err, debug.SetPanicOnFault(true))
	v, err := inspectObject(s.seg, s.obj)
	if err != nil {
		return nil, err
	}
	items, err := v.items(max)
	out := make([]T, 0, len(items))
	for _, it := range items {
		x, derr := s.codec.Decode(it.Data)
		if derr != nil {
			return out, fmt.Errorf("%w: stack %q: item at height %d: %w", ErrCorrupt, s.obj.Name, it.Index, derr)
		}
		out = append(out, x)
	}
	return out, err
}

// ownerLive reports whether the owner stamped in a cell is a live
// attachment.
func ownerLive(ps []segment.Process, owner uint32) bool {
	for _, p := range ps {
		if p.Slot == stampSlot(owner) {
			return p.Gen&genMask == stampGen(owner) && p.Alive
		}
	}
	return false
}

// Check verifies what can be verified of a stack without writing: its
// header against the directory, the height against the capacity, cells
// below the top full and above it free, lengths within the slot, and cells
// claimed by processes no longer alive (which RepairCells, or the next
// push or pop that reaches them, settles). It returns one line per
// problem. Under concurrent use it may report cells in flight. A memory
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
	h := height(v.hdr.top.Load())
	if h > v.cap {
		return []string{fmt.Sprintf("stack %q: height %d exceeds capacity %d", obj.Name, h, v.cap)}
	}
	ps := seg.Processes()
	gate := v.hdr.lostGate.Load()
	if gate&gateHeld != 0 {
		if h := uint32(gate >> 32); !ownerLive(ps, h) {
			probs = append(probs, fmt.Sprintf("stack %q: a count of a lost item left half done by a dead process (registry slot %d); run recover", obj.Name, stampSlot(h)))
		}
	} else if lo := v.hdr.lost.Load() & gateSnapMask; gate != lo {
		probs = append(probs, fmt.Sprintf("stack %q: lost gate %#x disagrees with the lost count %d", obj.Name, gate, v.hdr.lost.Load()))
	}
	for i := range v.cap {
		w := v.words[int(i)*v.stride].Load()
		st := cellState(w)
		if w&lostBit != 0 && (st != stReading || gate&gateHeld == 0) {
			probs = append(probs, fmt.Sprintf("stack %q: cell %d: counted bit set outside a count in progress (%#x)", obj.Name, i, w))
		}
		switch {
		case st == stWriting || st == stReading:
			if !ownerLive(ps, cellOwner(w)) {
				what := "push"
				if st == stReading {
					what = "pop"
				}
				probs = append(probs, fmt.Sprintf("stack %q: cell %d: %s left in flight by a dead process (registry slot %d); run recover", obj.Name, i, what, stampSlot(cellOwner(w))))
			}
		case st == stFull && i >= h:
			probs = append(probs, fmt.Sprintf("stack %q: cell %d is full above the height %d", obj.Name, i, h))
		case st == stFree && i < h:
			probs = append(probs, fmt.Sprintf("stack %q: cell %d is free below the height %d", obj.Name, i, h))
		case st == stFull:
			if _, err := v.payload(i); err != nil {
				probs = append(probs, err.Error())
			}
		}
	}
	return probs
}

// RepairCells settles the cells of the stack called name that processes no
// longer alive left claimed, as the next push or pop reaching them would:
// below the height a claimed cell holds a published item and becomes full
// again; at or above it the claim never took effect (a push: the cell
// becomes free) or took the item (a pop: the item is counted lost, exactly
// once, repair.go). It needs a writable segment and returns how many cells
// it settled.
func RepairCells(seg *segment.Segment, name string) (n int, err error) {
	defer seg.Catch(&err, debug.SetPanicOnFault(true))
	if !seg.Writable() {
		return 0, fmt.Errorf("stack %q: %w", name, segment.ErrReadOnly)
	}
	v, err := lookupView(seg, name)
	if err != nil {
		return 0, err
	}
	s := toolSettler(seg)
	v.settleGate(s)
	ps := seg.Processes()
	for i := range v.cap {
		sw := v.stateWord(i)
		w := sw.Load()
		st := cellState(w)
		if (st != stWriting && st != stReading) || w&lostBit != 0 || ownerLive(ps, cellOwner(w)) {
			continue // a marked cell is its gate holder's, settled above if it died
		}
		below := i < height(v.hdr.top.Load())
		if st == stReading && !below {
			if v.countLost(s, i, w) == lostCounted {
				n++
			}
			continue
		}
		next := makeState(stFree, 0)
		if below {
			next = makeState(stFull, 0)
		}
		if sw.CompareAndSwap(w, next) {
			n++
			v.hdr.repaired.Add(1)
		}
	}
	return n, nil
}
