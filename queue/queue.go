package queue

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"math/bits"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/codec"
	"github.com/posixshm/posixshm/segment"
)

// Queue is a bounded multi-producer, multi-consumer FIFO queue of T in
// shared memory. Any number of goroutines in any number of processes may
// push and pop at once; a Queue value is safe for concurrent use by multiple
// goroutines. Create or attach one with New or Open; do not copy it.
//
// A Push that returns nil synchronizes before the Pop that returns its
// item. Items pushed by one goroutine are popped in the order they were
// pushed. Push, Pop and their batch and Func forms never block and return
// immediately; PushWait and PopWait block (sleeping, without CPU) until they
// succeed or their context ends.
//
// If a process dies in the middle of an operation, the others never wait on
// it for long: a cell it had claimed is recognised by the owner stamp in its
// state word and recycled, and an item it had claimed for a pop is counted
// in Stats().Lost. The package documentation ("Crashes") says exactly
// which items are the queue's and which the caller's; repair.go argues it.
type Queue[T any] struct {
	seg   *segment.Segment
	al    *alloc.Allocator
	obj   segment.Object
	hdr   *header
	words []atomic.Uint64 // the cells as words: state at i*strideW, meta at i*strideW+1
	data  []byte          // the cells as bytes
	hb    []byte          // the header as bytes (for advanceHint)
	mask  uint64
	cap   uint64
	slot  int // slot size in bytes
	strW  int // cell stride in words
	codec codec.Codec[T]
	fixed int  // codec.FixedSize(), when it fits a slot; else 0
	word  bool // T is a plain 8-byte number with the default codec (word.go)
	// plainPub: publish with a plain store (segment.StoreRelease), since this
	// process is registered for sleepers' fences (segment.PlainPublishOK)
	plainPub bool
	me       uint32
	max      int // largest encoded value this handle pushes
	live     liveness
	pool     sync.Pool // *[]byte scratch buffers for variable-size encodings
}

// Option configures New and Open.
type Option func(*options)

type options struct {
	capacity int
	slotSize int
	maxValue int
	codec    any // codec.Codec[T], checked against T in New
}

// Capacity sets how many items a new queue holds, rounded up to a power of
// two (Cap reports the result). When attaching, a non-zero Capacity must
// match the existing queue's. Default 1024.
func Capacity(n int) Option { return func(o *options) { o.capacity = n } }

// SlotSize sets how many bytes of an encoded value a new queue stores
// inline, rounded up to a multiple of 8; larger values spill to a block of
// the segment's allocator. When attaching, a non-zero SlotSize must match.
// Default 48 (one 64-byte cache line per cell).
func SlotSize(n int) Option { return func(o *options) { o.slotSize = n } }

// MaxValueSize sets the largest encoded value this handle pushes; larger
// ones are ErrTooLarge. It is a property of the handle, not of the shared
// queue. Default 16 MiB.
func MaxValueSize(n int) Option { return func(o *options) { o.maxValue = n } }

// WithCodec sets the codec of the elements (default codec.For[T]()). Every
// process must use a codec with the same ID: the queue stores its
// fingerprint and refuses to attach with another.
func WithCodec[T any](c codec.Codec[T]) Option { return func(o *options) { o.codec = c } }

// New returns the queue called name in seg, creating it if it does not
// exist. When it exists, the element codec must be the same and any
// Capacity or SlotSize given must match; options left out mean "whatever it
// has". Among processes calling New at once exactly one creates it.
//
// Errors, each a sentinel for errors.Is: ErrInvalidOption for a bad
// option (a capacity that is not a power of two, a slot size out of
// range, a codec for another type); ErrMismatch when the object exists
// with another kind, layout version, codec, capacity or slot size (the
// message names both sides); ErrCorrupt for a header that fails its
// checks; segment.ErrInvalidName, ErrDirectoryFull, ErrReadOnly from the
// segment; alloc.ErrOutOfMemory when the heap has no room for the ring.
func New[T any](seg *segment.Segment, name string, opts ...Option) (_ *Queue[T], err error) {
	defer seg.Catch(&err, debug.SetPanicOnFault(true)) // attach reads the header
	o, c, err := buildOptions[T](opts)
	if err != nil {
		return nil, err
	}
	capacity, slot := o.capacity, o.slotSize
	if capacity == 0 {
		capacity = DefaultCapacity
	}
	if slot == 0 {
		slot = DefaultSlotSize
	}
	al, err := alloc.Of(seg)
	if err != nil {
		return nil, err
	}
	fp := codec.Fingerprint(c.ID())
	spec := segment.Spec{
		Kind:    segment.KindQueue,
		Version: layoutVersion,
		Params:  [4]uint64{uint64(capacity), uint64(slot), fp, 0},
		Size:    headerSize + uint64(capacity)*uint64(cellHeader+slot),
	}
	obj, created, err := seg.FindOrCreate(name, spec, al, func(obj segment.Object) error {
		return initialise(seg, obj, uint64(capacity), slot, fp)
	})
	if err != nil {
		if errors.Is(err, segment.ErrMismatch) {
			return nil, fmt.Errorf("%w: %w", ErrMismatch, err)
		}
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	_ = created
	return attach(seg, al, obj, o, c)
}

// Open attaches to the existing queue called name in seg; it is
// segment.ErrNotFound if there is none. Options are checked as in New.
func Open[T any](seg *segment.Segment, name string, opts ...Option) (_ *Queue[T], err error) {
	defer seg.Catch(&err, debug.SetPanicOnFault(true)) // attach reads the header
	o, c, err := buildOptions[T](opts)
	if err != nil {
		return nil, err
	}
	obj, err := seg.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("queue %q: %w", name, err)
	}
	al, err := alloc.Of(seg)
	if err != nil {
		return nil, err
	}
	return attach(seg, al, obj, o, c)
}

func buildOptions[T any](opts []Option) (options, codec.Codec[T], error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.capacity < 0 || o.capacity > MaxCapacity {
		return o, nil, fmt.Errorf("%w: capacity %d, want 1 to %d", ErrInvalidOption, o.capacity, MaxCapacity)
	}
	if o.capacity > 0 {
		o.capacity = 1 << bits.Len(uint(o.capacity-1))
	}
	if o.slotSize < 0 || o.slotSize > MaxSlotSize {
		return o, nil, fmt.Errorf("%w: slot size %d, want 1 to %d", ErrInvalidOption, o.slotSize, MaxSlotSize)
	}
	o.slotSize = (o.slotSize + 7) &^ 7
	if o.maxValue < 0 {
		return o, nil, fmt.Errorf("%w: max value size %d", ErrInvalidOption, o.maxValue)
	}
	if o.maxValue == 0 {
		o.maxValue = DefaultMaxValueSize
	}
	var c codec.Codec[T]
	switch oc := o.codec.(type) {
	case nil:
		c = codec.For[T]()
	case codec.Codec[T]:
		c = oc
	default:
		return o, nil, fmt.Errorf("%w: WithCodec for another element type (%T)", ErrInvalidOption, o.codec)
	}
	return o, c, nil
}

// initialise writes a new queue's header and cells. It runs inside
// FindOrCreate, before any other process can see the object.
func initialise(seg *segment.Segment, obj segment.Object, capacity uint64, slot int, fp uint64) error {
	// The heap does not zero blocks: clear the whole header, so that every
	// field this code does not set (the lost gate, counters, reserved
	// bytes) starts at zero, not at a freed block's bytes.
	hb, err := seg.Bytes(obj.Offset, headerSize)
	if err != nil {
		return err
	}
	clear(hb)
	h, err := segment.At[header](seg, obj.Offset)
	if err != nil {
		return err
	}
	stride := uint64(cellHeader + slot)
	words, err := segment.Slice[atomic.Uint64](seg, obj.Offset+headerSize, int(capacity*stride/8))
	if err != nil {
		return err
	}
	h.magic, h.version, h.slotSize, h.capacity, h.fingerprint = qMagic, layoutVersion, uint32(slot), capacity, fp
	h.enq.Store(0)
	h.deq.Store(0)
	h.lost.Store(0)
	h.notEmpty.Store(0)
	h.popWaiters.Store(0)
	h.notFull.Store(0)
	h.pushWaiters.Store(0)
	sw := int(stride / 8)
	for i := range int(capacity) {
		words[i*sw].Store(makeState(uint64(i), stFree, false, 0))
		words[i*sw+1].Store(0)
	}
	return nil
}

// view is the validated geometry of a queue object, shared by attach and
// the repair function.
type view struct {
	hdr   *header
	words []atomic.Uint64
	data  []byte
	hb    []byte // the header
	cap   uint64
	slot  int
}

func openView(seg *segment.Segment, obj segment.Object) (view, error) {
	if obj.Kind != segment.KindQueue || obj.Version != layoutVersion {
		return view{}, fmt.Errorf("%w: object %q: want queue v%d, found %v v%d", ErrMismatch, obj.Name, layoutVersion, obj.Kind, obj.Version)
	}
	capacity, slot := obj.Params[0], obj.Params[1]
	if capacity == 0 || capacity > MaxCapacity || capacity&(capacity-1) != 0 || slot < 8 || slot > MaxSlotSize || slot%8 != 0 {
		return view{}, fmt.Errorf("%w: object %q: capacity %d, slot size %d", ErrCorrupt, obj.Name, capacity, slot)
	}
	stride := cellHeader + slot
	if need := headerSize + capacity*stride; obj.Size < need {
		return view{}, fmt.Errorf("%w: object %q: block of %d bytes, capacity %d needs %d", ErrCorrupt, obj.Name, obj.Size, capacity, need)
	}
	h, err := segment.At[header](seg, obj.Offset)
	if err != nil {
		return view{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if h.magic != qMagic || h.version != layoutVersion || uint64(h.slotSize) != slot || h.capacity != capacity || h.fingerprint != obj.Params[2] {
		return view{}, fmt.Errorf("%w: object %q: header (magic %#x v%d cap %d slot %d) disagrees with its directory entry (cap %d slot %d)",
			ErrCorrupt, obj.Name, h.magic, h.version, h.capacity, h.slotSize, capacity, slot)
	}
	words, err := segment.Slice[atomic.Uint64](seg, obj.Offset+headerSize, int(capacity*stride/8))
	if err != nil {
		return view{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	data, err := seg.Bytes(obj.Offset+headerSize, capacity*stride)
	if err != nil {
		return view{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	hb, err := seg.Bytes(obj.Offset, headerSize)
	if err != nil {
		return view{}, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return view{hdr: h, words: words, data: data, hb: hb, cap: capacity, slot: int(slot)}, nil
}

func attach[T any](seg *segment.Segment, al *alloc.Allocator, obj segment.Object, o options, c codec.Codec[T]) (*Queue[T], error) {
	v, err := openView(seg, obj)
	if err != nil {
		return nil, err
	}
	if fp := codec.Fingerprint(c.ID()); fp != obj.Params[2] {
		return nil, fmt.Errorf("%w: queue %q: want elements of codec %q (fingerprint %#x), found fingerprint %#x", ErrMismatch, obj.Name, c.ID(), fp, obj.Params[2])
	}
	if o.capacity != 0 && uint64(o.capacity) != v.cap {
		return nil, fmt.Errorf("%w: queue %q: want capacity %d, found %d", ErrMismatch, obj.Name, o.capacity, v.cap)
	}
	if o.slotSize != 0 && o.slotSize != v.slot {
		return nil, fmt.Errorf("%w: queue %q: want slot size %d, found %d", ErrMismatch, obj.Name, o.slotSize, v.slot)
	}
	slot, gen := seg.Slot()
	q := &Queue[T]{
		seg: seg, al: al, obj: obj, hdr: v.hdr, words: v.words, data: v.data, hb: v.hb,
		mask: v.cap - 1, cap: v.cap, slot: v.slot, strW: (cellHeader + v.slot) / 8,
		codec: c, me: stamp(slot, gen), max: o.maxValue,
	}
	if n := c.FixedSize(); n > 0 && n <= v.slot {
		q.fixed = n
	}
	q.word = codec.IsWord(c)
	q.plainPub = segment.PlainPublishOK()
	q.live.seg = seg
	return q, nil
}

// maxSpins bounds the retries of one operation. A correct queue never comes
// near it (each retry means another process made progress); a corrupted one
// returns ErrCorrupt instead of looping forever.
const maxSpins = 1 << 22

var errNoProgress = fmt.Errorf("%w: no progress after %d retries (positions or cell states are inconsistent)", ErrCorrupt, maxSpins)

func (q *Queue[T]) state(ci int) *atomic.Uint64 { return &q.words[ci*q.strW] }

// The meta word is written with a plain store before the state word's
// atomic publish, and read after the atomic claim, which orders it: an
// atomic store here would be a second locked instruction per push.
func (q *Queue[T]) setMeta(ci int, n int) {
	binary.NativeEndian.PutUint64(q.data[ci*q.strW*8+8:], uint64(uint32(n)))
}

func (q *Queue[T]) getMeta(ci int) uint64 {
	return binary.NativeEndian.Uint64(q.data[ci*q.strW*8+8:])
}

// slotBytes returns cell ci's data, capacity slotSize.
func (q *Queue[T]) slotBytes(ci int) []byte {
	off := ci*q.strW*8 + cellHeader
	return q.data[off : off+q.slot : off+q.slot]
}

// Byte offsets of the hint words in the header (layout_test.go pins them).
const (
	hintEnq = 64
	hintDeq = 128
)

// advanceHint moves the hint h (whose bytes are b) from pos to pos+1 after
// this handle claimed the cell of pos (or from below pos, after claimPush
// stepped over cells other producers had claimed).
//
// The hints are only hints: every decision is made by a CAS on a cell's
// state word, and a claimer that finds the cell at the hint already taken
// moves the hint on itself (the d >= 0 cases below). So the owner of a
// claim need not win a race to advance it, and a plain store does the job
// at a fraction of a CAS (a locked instruction, ~5 ns here, and two of the
// six a push+pop pair used to pay). The store is one aligned 8-byte MOV, so
// readers see the old or the new value, never a mix. Its only race: a
// claimer that loaded pos, then was overtaken by others that moved the hint
// further, stores pos+1 late and moves the hint back a little; the next
// claimer finds that cell taken and steps forward by CAS. Len may then read
// a little low or high for a moment, as it may anyway.
func advanceHint(h *atomic.Uint64, b []byte, pos uint64) {
	if h.Load() <= pos {
		binary.NativeEndian.PutUint64(b, pos+1)
	}
}

// crashHook, set only by this package's tests (export_test.go), is called
// at points where a process killed there leaves a different state for the
// survivors to settle (repair.go lists them). A nil check of a package
// variable is all it costs the others; none sits on the word push and pop,
// whose windows the tests reach through PushFunc's fill instead (a push
// claimed and not published leaves the same cell whichever path claimed
// it).
var crashHook func(point int)

const (
	hookPushClaimed   = iota + 1 // a spilled push claimed its cell, its intent's B not set
	hookPushWritten              // a spilled push set B and wrote its cell, not published
	hookPushPublished            // a spilled push published, its intent not ended
	hookPopClaimed               // a pop (claimPop) claimed its item, cell not released
	hookBatchClaimed             // PopBatch claimed one more item
	hookLostMarked               // a settler marked a dead consumer's cell, Lost not counted
	hookLostCounted              // ... counted in Lost, cell not freed
	hookLostFreed                // ... cell freed, gate not released
	hookSettleTaken              // a settler took over a dead settler's gate
	hookPopReleased              // a pop released a spilled item's cell, its block not freed
)

// claimSteps bounds how many cells claimPush steps over before it falls
// back to its loop.
const claimSteps = 16

func backoff(i int) {
	if i&63 == 63 {
		runtime.Gosched()
	}
}

// claimPush claims the cell of the next push position for this process.
func (q *Queue[T]) claimPush(spill bool) (pos uint64, ci int, err error) {
	// First try: CAS the cell at the hint from the one free word it holds
	// when it is ready for pos (free words name their position exactly:
	// layout.go), without loading it first. Across cores that saves a
	// transfer of the cell's line, which a consumer wrote last: a load
	// fetches it shared and the CAS then fetches it again to own it. Any
	// other state fails the CAS, and the loop below sorts it out.
	//
	// A CAS lost to another producer (the cell is claimed for pos, or
	// later) steps to pos+1 at once, without the hint: producers racing
	// for the tail then spread over the next cells instead of all
	// re-reading and CASing the hint's line. The claims stay in position
	// order, since a step passes only cells already claimed.
	pos = q.hdr.enq.Load()
	for range claimSteps {
		ci = int(pos & q.mask)
		sw := q.state(ci)
		if sw.CompareAndSwap(makeState(pos, stFree, false, 0), makeState(pos, stWriting, spill, q.me)) {
			q.claimedPush(pos)
			return pos, ci, nil
		}
		w := sw.Load()
		if d := posDiff(cellPos(w), pos); d < 0 || d == 0 && cellState(w) == stFree {
			break // not ready for pos (full, a dead claimer's) or unexpected: the loop decides
		}
		pos++
	}
	for i := 0; i < maxSpins; i++ {
		backoff(i)
		pos = q.hdr.enq.Load()
		ci = int(pos & q.mask)
		sw := q.state(ci)
		w := sw.Load()
		d := posDiff(cellPos(w), pos)
		st := cellState(w)
		switch {
		case d == 0 && st == stFree:
			if sw.CompareAndSwap(w, makeState(pos, stWriting, spill, q.me)) {
				q.claimedPush(pos)
				return pos, ci, nil
			}
		case d >= 0:
			// Claimed for pos already, or recycled ahead: enq is behind.
			q.hdr.enq.CompareAndSwap(pos, pos+1)
		case d == -int32(q.cap) && st != stFree:
			// The previous round's item is still there.
			if q.hdr.enq.Load() != pos {
				continue
			}
			if st == stFull {
				return 0, 0, ErrFull
			}
			if !q.recycle(ci, w, pos-q.cap) {
				return 0, 0, ErrFull // a live process is finishing with it
			}
		default:
			if q.hdr.enq.Load() == pos && sw.Load() == w {
				return 0, 0, fmt.Errorf("%w: push position %d finds cell %d in state %#x", ErrCorrupt, pos, ci, w)
			}
		}
	}
	return 0, 0, errNoProgress
}

// claimedPush moves the push hint past pos, which this handle claimed.
func (q *Queue[T]) claimedPush(pos uint64) {
	advanceHint(&q.hdr.enq, q.hb[hintEnq:hintEnq+8], pos)
	if pos&(highWaterEvery-1) == 0 {
		q.sampleHighWater(pos)
	}
}

// claimPop claims the cell of the next pop position; w is its state as
// claimed (stReading).
func (q *Queue[T]) claimPop() (pos uint64, ci int, w uint64, err error) {
	for i := 0; i < maxSpins; i++ {
		backoff(i)
		pos = q.hdr.deq.Load()
		ci = int(pos & q.mask)
		sw := q.state(ci)
		w = sw.Load()
		d := posDiff(cellPos(w), pos)
		st := cellState(w)
		switch {
		case d == 0 && st == stFull:
			nw := makeState(pos, stReading, cellSpill(w), q.me)
			if sw.CompareAndSwap(w, nw) {
				advanceHint(&q.hdr.deq, q.hb[hintDeq:hintDeq+8], pos)
				if crashHook != nil {
					crashHook(hookPopClaimed)
				}
				return pos, ci, nw, nil
			}
		case d == 0 && st == stFree:
			if q.hdr.deq.Load() == pos {
				return 0, 0, 0, ErrEmpty
			}
		case d == 0 && st == stWriting:
			// A producer is between its claim and its publish. Give a live
			// one a moment; recycle a dead one's cell.
			if q.waitChange(sw, w) {
				continue
			}
			if q.hdr.deq.Load() != pos {
				continue
			}
			if !q.recycle(ci, w, pos) {
				return 0, 0, 0, ErrEmpty
			}
		case d >= 0:
			// Taken by another consumer, or recycled: deq is behind.
			q.hdr.deq.CompareAndSwap(pos, pos+1)
		case d == -int32(q.cap) && st == stReading:
			// The previous round's reader has not released the cell, so
			// nothing was pushed at pos yet.
			if q.hdr.deq.Load() != pos {
				continue
			}
			if !q.recycle(ci, w, pos-q.cap) {
				return 0, 0, 0, ErrEmpty
			}
		default:
			if q.hdr.deq.Load() == pos && sw.Load() == w {
				return 0, 0, 0, fmt.Errorf("%w: pop position %d finds cell %d in state %#x", ErrCorrupt, pos, ci, w)
			}
		}
	}
	return 0, 0, 0, errNoProgress
}

// waitChange spins briefly while *sw == w, and reports whether it changed.
func (q *Queue[T]) waitChange(sw *atomic.Uint64, w uint64) bool {
	for i := range 128 {
		if sw.Load() != w {
			return true
		}
		if i&31 == 31 {
			runtime.Gosched()
		}
	}
	return false
}

// publish makes the cell ci, claimed for pos, available to consumers.
// The store is the push's point of no return: before it the push has no
// effect, after it the item is the queue's (repair.go).
func (q *Queue[T]) publish(ci int, pos uint64, spill bool) {
	q.hand(ci, makeState(pos, stFull, spill, 0))
	q.wake(&q.hdr.notEmpty)
}

// release frees cell ci after a pop of pos, for the push of pos+cap.
func (q *Queue[T]) release(ci int, pos uint64) {
	q.hand(ci, makeState(pos+q.cap, stFree, false, 0))
	q.wakePushers()
}

// hand stores w, the state that hands cell ci to the other side, with a
// release store where sleepers fence for us (plainPub), else with an
// atomic exchange (wake says why either is enough).
func (q *Queue[T]) hand(ci int, w uint64) {
	if q.plainPub {
		segment.StoreRelease(q.state(ci), w)
	} else {
		q.state(ci).Store(w)
	}
}

func (q *Queue[T]) wakePushers() {
	q.wake(&q.hdr.notFull)
}

// abandon gives back a cell this process claimed for pos but will not
// publish: it becomes the free cell of pos+cap, and consumers skip pos.
func (q *Queue[T]) abandon(ci int, pos uint64) {
	q.state(ci).Store(makeState(pos+q.cap, stFree, false, 0))
}

// Push adds v at the tail, or returns ErrFull. Does not block.
//
// Other errors: ErrTooLarge for a value whose encoding exceeds this
// handle's MaxValueSize; alloc.ErrOutOfMemory when a value that spills
// finds no room in the heap; an encoding error from the codec; ErrCorrupt
// for a cell whose state no correct process wrote; segment.ErrTruncated or
// segment.ErrClosed when the segment is gone. Nothing is pushed when Push
// returns an error.
func (q *Queue[T]) Push(v T) (err error) {
	defer q.seg.Catch(&err, debug.SetPanicOnFault(true))
	if q.word {
		w := codec.WordBits(v)
		return q.pushWord(w)
	}
	return q.pushValue(v)
}

// push is Push without the fault guard, for guarded callers (PushWait,
// PushBatch).
func (q *Queue[T]) push(v T) error {
	if q.word {
		w := codec.WordBits(v)
		return q.pushWord(w)
	}
	return q.pushValue(v)
}

// pushValue is push for every queue but the word fast path's.
func (q *Queue[T]) pushValue(v T) error {
	if q.fixed > 0 {
		// Encode straight into the claimed cell: no copy, no allocation.
		pos, ci, err := q.claimPush(false)
		if err != nil {
			return err
		}
		b := q.slotBytes(ci)
		out, err := q.codec.Append(b[:0], v)
		if err != nil || len(out) > q.slot {
			q.abandon(ci, pos)
			if err != nil {
				return err
			}
			return q.pushBytes(out)
		}
		q.setMeta(ci, len(out))
		q.publish(ci, pos, false)
		return nil
	}
	bp := q.getBuf()
	defer q.pool.Put(bp)
	out, err := q.codec.Append((*bp)[:0], v)
	if err != nil {
		return err
	}
	*bp = out[:0]
	return q.pushBytes(out)
}

func (q *Queue[T]) getBuf() *[]byte {
	if bp, ok := q.pool.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, max(q.slot, 256))
	return &b
}

// pushBytes pushes an encoded value, inline or spilled.
func (q *Queue[T]) pushBytes(b []byte) error {
	if len(b) <= q.slot {
		pos, ci, err := q.claimPush(false)
		if err != nil {
			return err
		}
		copy(q.slotBytes(ci), b)
		q.setMeta(ci, len(b))
		q.publish(ci, pos, false)
		return nil
	}
	blk, dst, err := q.allocSpill(len(b))
	if err != nil {
		return err
	}
	copy(dst, b)
	return q.pushSpill(blk, len(b))
}

// allocSpill allocates a block for an n-byte value.
func (q *Queue[T]) allocSpill(n int) (segment.Offset, []byte, error) {
	if n > q.max || n > 1<<32-1 {
		return 0, nil, fmt.Errorf("%w: %d bytes, this handle's limit is %d (MaxValueSize)", ErrTooLarge, n, q.max)
	}
	blk, err := q.al.Alloc(uint64(n))
	if err != nil {
		if errors.Is(err, alloc.ErrTooLarge) {
			return 0, nil, fmt.Errorf("%w: %w", ErrTooLarge, err)
		}
		return 0, nil, fmt.Errorf("queue: spill %d bytes: %w", n, err)
	}
	dst, err := q.seg.Bytes(blk, uint64(n))
	if err != nil {
		q.al.Free(blk)
		return 0, nil, err
	}
	return blk, dst, nil
}

// pushSpill publishes the filled block blk of n bytes through a cell. The
// intent record covers the block from before it is published to the
// allocator until its cell is published (repair.go).
func (q *Queue[T]) pushSpill(blk segment.Offset, n int) error {
	in := q.seg.BeginIntent(segment.KindQueue, opPushSpill, q.obj.Index, uint64(blk), 0, 0)
	if err := q.al.Publish(blk); err != nil {
		in.End()
		q.al.Free(blk)
		return err
	}
	pos, ci, err := q.claimPush(true)
	if err != nil {
		in.End() // first: a death after End leaks the block, never frees it twice
		q.al.Free(blk)
		return err
	}
	if crashHook != nil {
		crashHook(hookPushClaimed)
	}
	in.SetB(pos + 1)
	binary.NativeEndian.PutUint64(q.slotBytes(ci), uint64(blk))
	q.setMeta(ci, n)
	if crashHook != nil {
		crashHook(hookPushWritten)
	}
	q.publish(ci, pos, true)
	if crashHook != nil {
		crashHook(hookPushPublished)
	}
	in.End()
	return nil
}

// PushFunc pushes an n-byte value written in place by fill: the slice fill
// receives is the queue's own memory (the cell, or a spill block when n
// exceeds the slot size), valid only during the call. The item becomes
// visible when fill returns. This is the zero-copy path for []byte queues;
// the bytes must be what the queue's codec would produce (for Queue[[]byte]
// and Queue[string], the raw bytes). If fill panics, the position is
// skipped and the panic goes on. Does not block; ErrFull when full.
func (q *Queue[T]) PushFunc(n int, fill func(b []byte)) (err error) {
	defer q.seg.Catch(&err, debug.SetPanicOnFault(true))
	if n < 0 {
		return fmt.Errorf("%w: negative length %d", ErrInvalidOption, n)
	}
	if n <= q.slot {
		pos, ci, err := q.claimPush(false)
		if err != nil {
			return err
		}
		done := false
		defer func() {
			if !done {
				q.abandon(ci, pos)
			}
		}()
		fill(q.slotBytes(ci)[:n])
		done = true
		q.setMeta(ci, n)
		q.publish(ci, pos, false)
		return nil
	}
	blk, dst, err := q.allocSpill(n)
	if err != nil {
		return err
	}
	fill(dst) // a panic here leaks nothing: the block is unpublished, and freed below or by recovery
	return q.pushSpill(blk, n)
}

// Pop removes and returns the item at the head, or returns ErrEmpty. Does
// not block. An item that cannot be decoded is removed and returned as an
// error wrapping codec.ErrDecode (or ErrCorrupt).
func (q *Queue[T]) Pop() (v T, err error) {
	defer q.seg.Catch(&err, debug.SetPanicOnFault(true))
	if q.word {
		return q.popWord()
	}
	return q.popValue()
}

// pop is Pop without the fault guard, for guarded callers (PopWait,
// PopBatch, Drain).
func (q *Queue[T]) pop() (T, error) {
	if q.word {
		return q.popWord()
	}
	return q.popValue()
}

// popValue is pop for every queue but the word fast path's.
func (q *Queue[T]) popValue() (T, error) {
	pos, ci, w, err := q.claimPop()
	if err != nil {
		var zero T
		return zero, err
	}
	return q.finishPop(pos, ci, w)
}

// finishPop decodes the item of cell ci, claimed for pos in state w, and
// releases the cell; from the release on, the item is the caller's.
func (q *Queue[T]) finishPop(pos uint64, ci int, w uint64) (T, error) {
	v, blk, err := q.take(pos, ci, w)
	q.releaseSpilled(ci, pos, blk)
	return v, err
}

// releaseSpilled releases cell ci, claimed for pos, and frees blk, its
// spill block (0: none). The block is adopted (alloc.Adopt) before the
// release drops its last shared reference, so a process killed between
// the release and the free leaves a block owned by a dead attachment,
// which recovery frees, not a published one nobody can reach.
func (q *Queue[T]) releaseSpilled(ci int, pos uint64, blk segment.Offset) {
	if blk != 0 {
		q.al.Adopt(blk) // an error means a bad block: Free below refuses it too
	}
	q.release(ci, pos)
	if blk != 0 {
		if crashHook != nil {
			crashHook(hookPopReleased)
		}
		q.al.Free(blk)
	}
}

// take decodes the item of cell ci, claimed for pos in state w, without
// releasing the cell; blk is its spill block, to free after the release.
func (q *Queue[T]) take(pos uint64, ci int, w uint64) (T, segment.Offset, error) {
	var v T
	if q.word && !cellSpill(w) {
		// As popWord reads it (word.go), without the codec.
		off := ci*q.strW*8 + 8
		b := q.data[off : off+16 : off+16]
		if binary.NativeEndian.Uint64(b[0:8]) == 8 {
			return codec.FromWordBits[T](binary.NativeEndian.Uint64(b[8:16])), 0, nil
		}
	}
	b, blk, err := q.payload(ci, w)
	if err == nil {
		// Codecs never panic on bad input. The element codec was checked
		// on attach (its fingerprint), so bytes it cannot decode are bytes
		// no correct pusher wrote.
		if v, err = q.codec.Decode(b); err != nil {
			err = fmt.Errorf("%w: queue %q: item at position %d: %w", ErrCorrupt, q.obj.Name, pos, err)
		}
	}
	return v, blk, err
}

// PopFunc removes the item at the head and calls fn with its encoded bytes,
// which are the queue's own memory, valid only during the call (the
// zero-copy path for []byte queues). The item is removed whatever fn
// returns; PopFunc returns fn's error. ErrEmpty when empty; does not block.
func (q *Queue[T]) PopFunc(fn func(b []byte) error) (err error) {
	defer q.seg.Catch(&err, debug.SetPanicOnFault(true))
	return q.popFunc(fn)
}

func (q *Queue[T]) popFunc(fn func([]byte) error) error {
	pos, ci, w, err := q.claimPop()
	if err != nil {
		return err
	}
	b, blk, err := q.payload(ci, w)
	if err == nil {
		done := false
		defer func() {
			if !done {
				q.releaseSpilled(ci, pos, blk)
			}
		}()
		err = fn(b)
		done = true
	}
	q.releaseSpilled(ci, pos, blk)
	return err
}

// payload returns the encoded bytes of cell ci (state w) after checking
// every length and offset; blk is the spill block to free after use.
func (q *Queue[T]) payload(ci int, w uint64) ([]byte, segment.Offset, error) {
	n := q.getMeta(ci)
	if !cellSpill(w) {
		if n > uint64(q.slot) {
			return nil, 0, fmt.Errorf("%w: cell %d holds %d bytes in a %d-byte slot", ErrCorrupt, ci, n, q.slot)
		}
		return q.slotBytes(ci)[:n], 0, nil
	}
	blk := segment.Offset(binary.NativeEndian.Uint64(q.slotBytes(ci)))
	size, err := q.al.UsableSize(blk)
	if err != nil || n > size {
		return nil, 0, fmt.Errorf("%w: cell %d spills %d bytes to block %d (usable %d): %v", ErrCorrupt, ci, n, blk, size, err)
	}
	b, err := q.seg.Bytes(blk, n)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return b, blk, nil
}

// Futex words. notEmpty and notFull count wake-ups in their upper 31
// bits; bit 0 (sleepersBit) says that some PopWait / PushWait may be
// asleep on the word since the last wake-up. A sleeper sets the bit
// (announce), re-checks the queue, and sleeps while the word keeps the
// value it set. The first push (or pop) after that clears the bit and
// bumps the count in one CAS, and only the winner of that CAS makes the
// wake system call, for every sleeper; pushes that find the bit clear pay
// one load. So a producer makes one system call per sleep of its
// consumers, where a waiter count alone (the layout v1 scheme) made it
// call on every push until the woken consumer got a CPU to decrement the
// count: thousands of futex calls per sleep on a busy machine.
// popWaiters and pushWaiters still count the waiters, for Stats and so
// that the repair can account for a dead one.
const sleepersBit = 1

// announce sets the sleepers bit of w and returns the value to sleep on.
func announce(w *atomic.Uint32) uint32 {
	for {
		v := w.Load()
		if v&sleepersBit != 0 || w.CompareAndSwap(v, v|sleepersBit) {
			return v | sleepersBit
		}
	}
}

// wake wakes every sleeper on w if the sleepers bit is set. A sleeper's
// announce and re-check and a waker's change of the queue and its load of
// w cannot both miss each other: either the re-check sees the change, or
// this load sees the bit. That needs store-load order on both sides. Go's
// atomics give it where the change is an atomic Store or a CAS (in a
// process that could not register for fences); a push or pop that
// published or released with a plain store (segment.StoreRelease) relies on the
// PopWait or PushWait sleeper's segment.OtherProcessesFence between its
// announce and its re-check.
func (q *Queue[T]) wake(w *atomic.Uint32) { wakeSleepers(q.seg, w) }

// wakeSleepers is wake for code without a Queue (the repair, inspection
// tools): anything that frees or fills a cell outside Push and Pop should
// call it on notFull or notEmpty, so that every sleeper wakes.
func wakeSleepers(seg *segment.Segment, w *atomic.Uint32) {
	for {
		v := w.Load()
		if v&sleepersBit == 0 {
			return
		}
		if w.CompareAndSwap(v, (v+2)&^sleepersBit) {
			seg.Wake(w, 1<<30)
			return
		}
	}
}

// waitSpins is how many times PushWait and PopWait retry, yielding the
// processor between tries, before they announce themselves and sleep: a
// few microseconds, less than a futex sleep and wake cost the sleeper and
// the waker together (two system calls, and the announcement's RMWs on the
// waiter words). A queue that stays empty or full still finds its waiters
// asleep within those microseconds, using no CPU.
const waitSpins = 32

// fence is segment.OtherProcessesFence; tests replace it to run the
// fallback of a kernel that refuses membarrier.
var fence = segment.OtherProcessesFence

// unfencedSleep bounds a PopWait or PushWait sleep that could not fence
// (PopWait): the most a missed wake-up can delay an item or a free cell.
const unfencedSleep = time.Millisecond

// sleep waits on the futex word w while it holds seq. A sleeper whose
// fence failed bounds its sleep at unfencedSleep, since a waker that
// published with a plain store may not have seen its announcement.
func (q *Queue[T]) sleep(ctx context.Context, w *atomic.Uint32, seq uint32, fenced bool) error {
	if fenced {
		return q.seg.Wait(ctx, w, seq)
	}
	return q.seg.WaitAtMost(ctx, w, seq, unfencedSleep)
}

// PushWait is Push that waits while the queue is full, sleeping on a futex
// until a consumer makes room or ctx ends; then it returns ctx.Err().
func (q *Queue[T]) PushWait(ctx context.Context, v T) (err error) {
	defer q.seg.Catch(&err, debug.SetPanicOnFault(true))
	for {
		err := q.push(v)
		for i := 0; i < waitSpins && errors.Is(err, ErrFull); i++ {
			runtime.Gosched()
			err = q.push(v)
		}
		if !errors.Is(err, ErrFull) {
			return err
		}
		in := q.seg.BeginIntent(segment.KindQueue, opWaitPush, q.obj.Index, 0, 0, 0)
		q.hdr.pushWaiters.Add(1)
		in.SetA(1)
		seq := announce(&q.hdr.notFull)
		fenced := fence() // as in PopWait: pops release with plain stores
		err = q.push(v)
		if !errors.Is(err, ErrFull) {
			q.hdr.pushWaiters.Add(^uint32(0))
			in.End()
			return err
		}
		q.hdr.sleeps.Add(1)
		werr := q.sleep(ctx, &q.hdr.notFull, seq, fenced)
		q.hdr.pushWaiters.Add(^uint32(0))
		in.End()
		if werr != nil {
			return werr
		}
	}
}

// PopWait is Pop that waits while the queue is empty, sleeping on a futex
// until a producer pushes or ctx ends; then it returns ctx.Err(). A waiter
// uses no CPU while asleep; a push in any process wakes it.
func (q *Queue[T]) PopWait(ctx context.Context) (_ T, err error) {
	defer q.seg.Catch(&err, debug.SetPanicOnFault(true))
	for {
		v, err := q.pop()
		for i := 0; i < waitSpins && errors.Is(err, ErrEmpty); i++ {
			runtime.Gosched()
			v, err = q.pop()
		}
		if !errors.Is(err, ErrEmpty) {
			return v, err
		}
		in := q.seg.BeginIntent(segment.KindQueue, opWaitPop, q.obj.Index, 0, 0, 0)
		q.hdr.popWaiters.Add(1)
		in.SetA(1)
		// Re-check after announcing ourselves: a producer that published
		// before it could see the sleepers bit is seen by this Pop; one that
		// publishes later moves notEmpty past seq and wakes us.
		// The fence orders the announcement before the re-check in every
		// producer's eyes, which their plain-store publishes do not (wake).
		// Where the kernel refuses it, sleep briefly instead: a producer
		// might not see the bit, but the next re-check sees its item.
		seq := announce(&q.hdr.notEmpty)
		fenced := fence()
		v, err = q.pop()
		if !errors.Is(err, ErrEmpty) {
			q.hdr.popWaiters.Add(^uint32(0))
			in.End()
			return v, err
		}
		q.hdr.sleeps.Add(1)
		werr := q.sleep(ctx, &q.hdr.notEmpty, seq, fenced)
		q.hdr.popWaiters.Add(^uint32(0))
		in.End()
		if werr != nil {
			var zero T
			return zero, werr
		}
	}
}

// PushBatch pushes vs in order until the queue is full or an error occurs,
// and returns how many it pushed with the error (ErrFull if it stopped
// there). Does not block.
func (q *Queue[T]) PushBatch(vs []T) (n int, err error) {
	defer q.seg.Catch(&err, debug.SetPanicOnFault(true))
	for _, v := range vs {
		if err := q.push(v); err != nil {
			return n, err
		}
		n++ // counted as we go: a fault returns the items pushed before it
	}
	return n, nil
}

// PopBatch pops up to len(dst) items into dst and returns how many. It
// returns a nil error when it stopped because the queue was empty, and
// ErrEmpty only if it popped nothing. Does not block.
//
// It holds the cells of the items it takes until it returns, and releases
// them all then: a process killed inside PopBatch leaves every item it
// had taken counted in Stats().Lost, none of them in limbo (doc.go,
// "Crashes"). So it takes at most Cap items, and producers that reach
// its cells a lap later see the queue full until it returns.
func (q *Queue[T]) PopBatch(dst []T) (n int, err error) {
	defer q.seg.Catch(&err, debug.SetPanicOnFault(true))
	type claim struct {
		pos uint64
		ci  int
		blk segment.Offset
	}
	var buf [16]claim
	claims := buf[:0]
	defer func() {
		// Also on a fault: a live process must not keep cells claimed.
		if len(claims) == 0 {
			return
		}
		for _, c := range claims {
			if c.blk != 0 {
				q.al.Adopt(c.blk) // as releaseSpilled does
			}
			q.hand(c.ci, makeState(c.pos+q.cap, stFree, false, 0))
		}
		q.wakePushers() // one wake-up for all (it wakes every sleeper)
		for _, c := range claims {
			if c.blk != 0 {
				q.al.Free(c.blk)
			}
		}
	}()
	for i := range dst {
		pos, ci, w, err := q.claimPop()
		if err != nil {
			if errors.Is(err, ErrEmpty) && i > 0 {
				return i, nil
			}
			return i, err
		}
		v, blk, err := q.take(pos, ci, w)
		claims = append(claims, claim{pos, ci, blk})
		if crashHook != nil {
			crashHook(hookBatchClaimed)
		}
		if err != nil {
			return i, err // the undecodable item is removed, as Pop removes it
		}
		dst[i] = v
		n++ // counted as we go: a fault returns the items popped before it
	}
	return n, nil
}

// Drain returns an iterator that pops items until the queue is empty. It
// is single-use in effect: each item it yields is removed from the queue,
// so ranging again yields only items pushed since. It stops at the first
// error other than ErrEmpty as well (an item that cannot be decoded is
// then lost); use Pop to see errors.
func (q *Queue[T]) Drain() iter.Seq[T] {
	return func(yield func(T) bool) {
		defer q.seg.Catch(nil, debug.SetPanicOnFault(true)) // a fault ends the iteration
		for {
			v, err := q.pop()
			if err != nil || !yield(v) {
				return
			}
		}
	}
}

// Len returns the number of items in the queue, including pushes and pops
// in progress. It is a snapshot that may be stale by the time it returns.
func (q *Queue[T]) Len() int {
	defer q.seg.Catch(nil, debug.SetPanicOnFault(true)) // 0 on a fault
	return q.len()
}

// len is Len without the fault guard.
func (q *Queue[T]) len() int {
	d := q.hdr.deq.Load()
	e := q.hdr.enq.Load()
	if e <= d {
		return 0
	}
	return int(min(e-d, q.cap))
}

// Cap returns the capacity of the queue.
func (q *Queue[T]) Cap() int { return int(q.cap) }

// Empty reports whether Len is zero.
func (q *Queue[T]) Empty() bool {
	defer q.seg.Catch(nil, debug.SetPanicOnFault(true)) // false on a fault
	return q.len() == 0
}

// Full reports whether Len equals Cap.
func (q *Queue[T]) Full() bool {
	defer q.seg.Catch(nil, debug.SetPanicOnFault(true)) // false on a fault
	return q.len() == q.Cap()
}

// SlotSize returns the inline slot size in bytes; encoded values larger
// than this spill to the allocator.
func (q *Queue[T]) SlotSize() int { return q.slot }
