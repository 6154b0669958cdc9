package queue

import (
	"runtime/debug"

	"github.com/posixshm/posixshm/segment"
)

// Stats describes a queue, for programs and tools (shmctl prints it). None
// of it costs the push and pop fast paths an extra shared write: pushes and
// pops are counted from the cells' own position words when Stats is called,
// the high-water mark is sampled every 64th push, and the other counters
// move only on slow paths (sleeps, repairs).
type Stats struct {
	Cap      int // capacity in items
	Len      int // items in the queue now
	SlotSize int // inline bytes per item; larger encodings spill to the allocator
	// HighWater is the largest length seen. It is sampled every 64th push,
	// so a short peak between samples can be missed.
	HighWater int
	// Pushed and Popped count positions since creation: every push and
	// pop that claimed a cell. An item lost with a dead consumer counts
	// in Pushed, in Popped and in Lost; a push abandoned before its
	// publish (its process died, or PushFunc's fill panicked) counts in
	// Pushed and, once recycled, in Popped, and is no item. Exact when no
	// operation is in flight.
	Pushed, Popped uint64
	// Lost counts items a consumer had claimed (taken out of the queue
	// but not yet freed their cell) when its process died: neither
	// delivered nor still in the queue. Each is counted once, by
	// segment.Recover or by the next operation that reaches its cell; a
	// push cut short is never counted (see "Crashes" in the package
	// documentation).
	Lost uint64
	// Repaired counts leftovers of dead processes that were repaired:
	// cells recycled, waiter counts and spill blocks settled.
	Repaired uint64
	// Sleeps counts futex sleeps in PushWait and PopWait.
	Sleeps uint64
	// PopWaiters and PushWaiters count goroutines in PopWait / PushWait.
	PopWaiters, PushWaiters uint32
}

// highWaterEvery is how often a push samples the queue's length.
const highWaterEvery = 64

// sampleHighWater records the length seen by the push that claimed pos. It
// reads the consumers' hint line, which is why it runs only now and then.
func (q *Queue[T]) sampleHighWater(pos uint64) {
	d := q.hdr.deq.Load()
	if pos+1 > d {
		segment.Max(&q.hdr.highWater, min(pos+1-d, q.cap))
	}
}

// Stats returns the queue's statistics. It reads every cell's state word
// (no lock; the one word it writes is the high-water mark, raised by CAS if
// the length it counted is higher), so it costs time in proportion to Cap; under
// concurrent use the counts are a moment's approximation. On a memory
// fault (the segment's file truncated by a peer) it returns the zero Stats.
func (q *Queue[T]) Stats() Stats {
	defer q.seg.Catch(nil, debug.SetPanicOnFault(true))
	st := Stats{
		Cap: q.Cap(), Len: q.len(), SlotSize: q.slot,
		Lost: q.hdr.lost.Load(), Repaired: q.hdr.repaired.Load(), Sleeps: q.hdr.sleeps.Load(),
		PopWaiters: q.hdr.popWaiters.Load(), PushWaiters: q.hdr.pushWaiters.Load(),
	}
	st.Pushed, st.Popped = q.countPositions()
	segment.Max(&q.hdr.highWater, uint64(st.Len))
	st.HighWater = int(min(q.hdr.highWater.Load(), q.cap))
	return st
}

// countPositions sums, over the cells, the positions each has served: cell
// i serves positions i, i+cap, i+2cap, ..., and its state word names the
// one it serves now. Cells whose word is inconsistent (corrupt shared
// memory) are skipped.
func (q *Queue[T]) countPositions() (pushed, popped uint64) {
	enq, deq := q.hdr.enq.Load(), q.hdr.deq.Load()
	for ci := 0; ci < int(q.cap); ci++ {
		w := q.state(ci).Load()
		var p uint64
		switch cellState(w) {
		case stFree, stFull:
			p = uint64(w>>ownShift)<<posBits | uint64(cellPos(w))
		case stWriting:
			p = nearest(cellPos(w), enq)
		case stReading:
			p = nearest(cellPos(w), deq)
		}
		if p < uint64(ci) || (p-uint64(ci))&q.mask != 0 {
			continue
		}
		laps := (p - uint64(ci)) / q.cap
		pushed += laps
		popped += laps
		if st := cellState(w); st == stFull || st == stReading {
			pushed++ // item p is in the queue (or being popped)
		}
	}
	return pushed, popped
}

// nearest returns the position whose low posBits bits are low and which is
// closest to ref: a claimed cell keeps only the low bits of its position.
func nearest(low uint32, ref uint64) uint64 {
	p := ref&^posMask | uint64(low)
	const half = 1 << (posBits - 1)
	switch {
	case p > ref+half && p >= 1<<posBits:
		p -= 1 << posBits
	case p+half < ref:
		p += 1 << posBits
	}
	return p
}
