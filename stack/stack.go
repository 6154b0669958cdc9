package stack

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/codec"
	"github.com/posixshm/posixshm/segment"
)

// Stack is a bounded LIFO stack of T in shared memory. Any number of
// goroutines in any number of processes may push, pop and peek at once; a
// Stack value is safe for concurrent use by multiple goroutines. Create or
// attach one with New or Open; do not copy it.
//
// A Push that returns nil synchronizes before the Pop that returns its
// item. Push, Pop and Peek do not block on other operations except for a
// short spin while another process finishes with the cell at the top; a
// dead process's claim is recycled, never waited for (repair.go).
type Stack[T any] struct {
	seg   *segment.Segment
	obj   segment.Object
	hdr   *header
	words []atomic.Uint64
	data  []byte
	cap   uint64
	slot  int
	strW  int
	codec codec.Codec[T]
	word  bool // T is a plain 8-byte number with the default codec: no codec call, no buffer
	me    uint32
	live  liveness
	pool  sync.Pool
}

// Option configures New and Open.
type Option func(*options)

type options struct {
	capacity int
	slotSize int
	codec    any
}

// Capacity sets how many items a new stack holds (default 1024). When
// attaching, a non-zero Capacity must match.
func Capacity(n int) Option { return func(o *options) { o.capacity = n } }

// SlotSize sets the bytes of encoded value each cell holds, rounded up to a
// multiple of 8 (default 48). Larger values are ErrTooLarge: the stack
// stores values inline only. When attaching, a non-zero SlotSize must match.
func SlotSize(n int) Option { return func(o *options) { o.slotSize = n } }

// WithCodec sets the element codec (default codec.For[T]()); every process
// must use one with the same ID.
func WithCodec[T any](c codec.Codec[T]) Option { return func(o *options) { o.codec = c } }

// New returns the stack called name in seg, creating it if it does not
// exist. When it exists, the element codec must match and any Capacity or
// SlotSize given must match; options left out mean "whatever it has".
func New[T any](seg *segment.Segment, name string, opts ...Option) (_ *Stack[T], err error) {
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
		Kind:    segment.KindStack,
		Version: layoutVersion,
		Params:  [4]uint64{uint64(capacity), uint64(slot), fp, 0},
		Size:    headerSize + uint64(capacity)*uint64(cellHeader+slot),
	}
	obj, _, err := seg.FindOrCreate(name, spec, al, func(obj segment.Object) error {
		// The heap does not zero blocks: clear the whole header, so that
		// every field this code does not set (the lost gate, counters,
		// reserved bytes) starts at zero, not at a freed block's bytes.
		hb, err := seg.Bytes(obj.Offset, headerSize)
		if err != nil {
			return err
		}
		clear(hb)
		h, err := segment.At[header](seg, obj.Offset)
		if err != nil {
			return err
		}
		words, err := segment.Slice[atomic.Uint64](seg, obj.Offset+headerSize, capacity*(cellHeader+slot)/8)
		if err != nil {
			return err
		}
		h.magic, h.version, h.slotSize, h.capacity, h.fingerprint = sMagic, layoutVersion, uint32(slot), uint64(capacity), fp
		h.top.Store(0)
		h.lost.Store(0)
		for i := range words {
			words[i].Store(0) // every cell stFree, length 0
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, segment.ErrMismatch) {
			return nil, fmt.Errorf("%w: %w", ErrMismatch, err)
		}
		return nil, fmt.Errorf("stack %q: %w", name, err)
	}
	return attach(seg, obj, o, c)
}

// Open attaches to the existing stack called name; segment.ErrNotFound if
// there is none. Options are checked as in New.
func Open[T any](seg *segment.Segment, name string, opts ...Option) (_ *Stack[T], err error) {
	defer seg.Catch(&err, debug.SetPanicOnFault(true)) // attach reads the header
	o, c, err := buildOptions[T](opts)
	if err != nil {
		return nil, err
	}
	obj, err := seg.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("stack %q: %w", name, err)
	}
	return attach(seg, obj, o, c)
}

func buildOptions[T any](opts []Option) (options, codec.Codec[T], error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	if o.capacity < 0 || o.capacity > MaxCapacity {
		return o, nil, fmt.Errorf("%w: capacity %d, want 1 to %d", ErrInvalidOption, o.capacity, MaxCapacity)
	}
	if o.slotSize < 0 || o.slotSize > MaxSlotSize {
		return o, nil, fmt.Errorf("%w: slot size %d, want 1 to %d", ErrInvalidOption, o.slotSize, MaxSlotSize)
	}
	o.slotSize = (o.slotSize + 7) &^ 7
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

func attach[T any](seg *segment.Segment, obj segment.Object, o options, c codec.Codec[T]) (*Stack[T], error) {
	if obj.Kind != segment.KindStack || obj.Version != layoutVersion {
		return nil, fmt.Errorf("%w: object %q: want stack v%d, found %v v%d", ErrMismatch, obj.Name, layoutVersion, obj.Kind, obj.Version)
	}
	capacity, slot := obj.Params[0], obj.Params[1]
	if capacity == 0 || capacity > MaxCapacity || slot < 8 || slot > MaxSlotSize || slot%8 != 0 {
		return nil, fmt.Errorf("%w: object %q: capacity %d, slot size %d", ErrCorrupt, obj.Name, capacity, slot)
	}
	if fp := codec.Fingerprint(c.ID()); fp != obj.Params[2] {
		return nil, fmt.Errorf("%w: stack %q: want elements of codec %q (fingerprint %#x), found fingerprint %#x", ErrMismatch, obj.Name, c.ID(), fp, obj.Params[2])
	}
	if o.capacity != 0 && uint64(o.capacity) != capacity {
		return nil, fmt.Errorf("%w: stack %q: want capacity %d, found %d", ErrMismatch, obj.Name, o.capacity, capacity)
	}
	if o.slotSize != 0 && uint64(o.slotSize) != slot {
		return nil, fmt.Errorf("%w: stack %q: want slot size %d, found %d", ErrMismatch, obj.Name, o.slotSize, slot)
	}
	stride := cellHeader + slot
	if need := headerSize + capacity*stride; obj.Size < need {
		return nil, fmt.Errorf("%w: object %q: block of %d bytes, capacity %d needs %d", ErrCorrupt, obj.Name, obj.Size, capacity, need)
	}
	h, err := segment.At[header](seg, obj.Offset)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	if h.magic != sMagic || h.version != layoutVersion || uint64(h.slotSize) != slot || h.capacity != capacity || h.fingerprint != obj.Params[2] {
		return nil, fmt.Errorf("%w: object %q: header (magic %#x v%d cap %d slot %d) disagrees with its directory entry (cap %d slot %d)",
			ErrCorrupt, obj.Name, h.magic, h.version, h.capacity, h.slotSize, capacity, slot)
	}
	words, err := segment.Slice[atomic.Uint64](seg, obj.Offset+headerSize, int(capacity*stride/8))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	data, err := seg.Bytes(obj.Offset+headerSize, capacity*stride)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	s, g := seg.Slot()
	st := &Stack[T]{seg: seg, obj: obj, hdr: h, words: words, data: data, cap: capacity, slot: int(slot), strW: int(stride / 8), codec: c, me: stamp(s, g)}
	st.word = codec.IsWord(c)
	st.live.seg = seg
	return st, nil
}

const maxSpins = 1 << 22

var errNoProgress = fmt.Errorf("%w: no progress after %d retries (the top or cell states are inconsistent, or a live process holds the top cell)", ErrCorrupt, maxSpins)

func (s *Stack[T]) state(i uint64) *atomic.Uint64 { return &s.words[int(i)*s.strW] }
func (s *Stack[T]) meta(i uint64) *atomic.Uint64  { return &s.words[int(i)*s.strW+1] }

// setMeta writes cell i's length with a plain store: the CAS on top that
// publishes the push orders it (as it does the data bytes) before any
// popper's or peeker's read, and an aligned 8-byte store is never seen
// half done by Peek's optimistic read. An atomic store here would be one
// more locked instruction per push.
func (s *Stack[T]) setMeta(i uint64, n int) {
	binary.NativeEndian.PutUint64(s.data[int(i)*s.strW*8+8:], uint64(n))
}
func (s *Stack[T]) slotBytes(i uint64) []byte {
	off := int(i)*s.strW*8 + cellHeader
	return s.data[off : off+s.slot : off+s.slot]
}

// crashHook, set only by this package's tests (crash_test.go), is called
// at each point where a process killed there leaves a different state for
// the survivors to repair (the cases of repair.go). A nil check of a
// package variable is all it costs the others.
var crashHook func(point int)

const (
	hookPushClaimed   = iota + 1 // cell claimed and written, top not moved
	hookPushPublished            // top moved up, cell not yet marked full
	hookPopClaimed               // cell claimed, top not moved
	hookPopMoved                 // top moved down, cell not yet freed
	hookLostMarked               // a settler marked a dead popper's cell, Lost not counted
	hookLostCounted              // ... counted in Lost, cell not freed
	hookLostFreed                // ... cell freed, gate not released
	hookSettleTaken              // a settler took over a dead settler's gate
)

func backoff(i int) {
	if i&63 == 63 {
		runtime.Gosched()
	}
}

// Push adds v on top, or returns ErrFull. Does not block.
//
// A pusher claims the cell at the current height (free -> writing, stamped
// with its registry slot), writes the value, and then CASes top from the
// value it read to height+1 with a new tag; only that CAS makes the item
// visible, and from it on the item is the stack's (doc.go, "Crashes"). If
// the CAS fails it puts the cell back and retries.
func (s *Stack[T]) Push(v T) (err error) {
	defer s.seg.Catch(&err, debug.SetPanicOnFault(true))
	if s.word {
		// The word fast path (codec.IsWord, checked on open): no codec call, no scratch buffer.
		x := codec.WordBits(v)
		return s.push(nil, x)
	}
	bp := s.getBuf()
	defer s.pool.Put(bp)
	enc, err := s.codec.Append((*bp)[:0], v)
	if err != nil {
		return err
	}
	*bp = enc[:0]
	if len(enc) > s.slot {
		return fmt.Errorf("%w: %d bytes, the slot holds %d (SlotSize)", ErrTooLarge, len(enc), s.slot)
	}
	return s.push(enc, 0)
}

// push pushes the encoded value enc, or, when enc is nil, the 8-byte word x.
func (s *Stack[T]) push(enc []byte, x uint64) error {
	for i := 0; i < maxSpins; i++ {
		backoff(i)
		t := s.hdr.top.Load()
		h := height(t)
		if h >= s.cap {
			if h > s.cap {
				return fmt.Errorf("%w: height %d exceeds capacity %d", ErrCorrupt, h, s.cap)
			}
			if s.hdr.top.Load() == t {
				return ErrFull
			}
			continue
		}
		sw := s.state(h)
		w := sw.Load()
		if s.hdr.top.Load() != t {
			continue
		}
		switch cellState(w) {
		case stFree:
			mine := makeState(stWriting, s.me)
			if !sw.CompareAndSwap(w, mine) {
				continue
			}
			if enc == nil {
				binary.NativeEndian.PutUint64(s.slotBytes(h), x)
				s.setMeta(h, 8)
			} else {
				copy(s.slotBytes(h), enc)
				s.setMeta(h, len(enc))
			}
			if crashHook != nil {
				crashHook(hookPushClaimed)
			}
			if s.hdr.top.CompareAndSwap(t, nextTop(t, h+1)) {
				if crashHook != nil {
					crashHook(hookPushPublished)
				}
				if uint64(h+1) > s.hdr.highWater.Load() {
					segment.Max(&s.hdr.highWater, uint64(h+1))
				}
				sw.Store(makeState(stFull, 0))
				return nil
			}
			sw.Store(w) // not published: give the cell back
		case stWriting:
			// Another pusher claimed this height and has not moved top
			// (if it had, the height would differ). Dead: it never
			// published, so the cell is simply free again.
			s.settle(sw, w, makeState(stFree, 0))
		case stReading:
			// A popper moved top down to h and is still reading the item.
			// Dead: the item is lost (repair.go).
			s.settleLost(h, sw, w)
		default: // stFull above the top: only corruption does that
			if s.hdr.top.Load() == t && sw.Load() == w {
				return fmt.Errorf("%w: cell %d is full at height %d", ErrCorrupt, h, h)
			}
		}
	}
	return errNoProgress
}

// settle waits for the owner of cell sw (state w) to finish; if it is dead
// it moves the cell to next, a change that neither loses nor counts an
// item (repair.go).
func (s *Stack[T]) settle(sw *atomic.Uint64, w, next uint64) {
	if s.waitOwner(sw, w) && sw.CompareAndSwap(w, next) {
		s.hdr.repaired.Add(1)
	}
}

// settleLost waits for the popper that claimed cell i (state w) at or
// above the top to finish; if it is dead, its item is counted lost and the
// cell freed, exactly once (countLost).
func (s *Stack[T]) settleLost(i uint64, sw *atomic.Uint64, w uint64) {
	if w&lostBit != 0 {
		s.view().settleGate(s.settler()) // a settler is counting it: done soon, or dead
		return
	}
	if s.waitOwner(sw, w) {
		s.view().countLost(s.settler(), i, w)
	}
}

// waitOwner spins briefly while cell sw holds w, and reports whether it
// still does and its owner is dead.
func (s *Stack[T]) waitOwner(sw *atomic.Uint64, w uint64) bool {
	for i := range 128 {
		if sw.Load() != w {
			return false
		}
		if i&31 == 31 {
			runtime.Gosched()
		}
	}
	return s.live.dead(cellOwner(w), s.me)
}

// Pop removes and returns the top item, or returns ErrEmpty. Does not
// block. An item that cannot be decoded is removed and returned as an
// error wrapping ErrCorrupt.
//
// A popper claims the top cell (full -> reading), CASes top down with a new
// tag, then reads the value and frees the cell; from that store on, the
// item is the caller's (doc.go, "Crashes"). If the CAS fails it puts the
// cell back and retries.
func (s *Stack[T]) Pop() (_ T, err error) {
	defer s.seg.Catch(&err, debug.SetPanicOnFault(true))
	var zero T
	for i := 0; i < maxSpins; i++ {
		backoff(i)
		t := s.hdr.top.Load()
		h := height(t)
		if h == 0 {
			if s.hdr.top.Load() == t {
				return zero, ErrEmpty
			}
			continue
		}
		if h > s.cap {
			return zero, fmt.Errorf("%w: height %d exceeds capacity %d", ErrCorrupt, h, s.cap)
		}
		sw := s.state(h - 1)
		w := sw.Load()
		if s.hdr.top.Load() != t {
			continue
		}
		switch cellState(w) {
		case stWriting:
			// Its pusher moved top (the height says so) and will mark it
			// full; its bytes are complete. Take it if the pusher is dead.
			if !s.live.dead(cellOwner(w), s.me) {
				runtime.Gosched()
				continue
			}
			fallthrough
		case stFull:
			mine := makeState(stReading, s.me)
			if !sw.CompareAndSwap(w, mine) {
				continue
			}
			if crashHook != nil {
				crashHook(hookPopClaimed)
			}
			if !s.hdr.top.CompareAndSwap(t, nextTop(t, h-1)) {
				sw.Store(w) // put it back as it was
				continue
			}
			if crashHook != nil {
				crashHook(hookPopMoved)
			}
			v, err := s.decode(h - 1)
			sw.Store(makeState(stFree, 0))
			return v, err
		case stReading:
			// A popper claimed it and has not moved top yet. Dead: the
			// item is still on the stack; make it full again. (A counted
			// cell is never below the top: countLost checks.)
			s.settle(sw, w, makeState(stFull, 0))
		default: // free below the top
			if s.hdr.top.Load() == t && sw.Load() == w {
				return zero, fmt.Errorf("%w: cell %d is free below height %d", ErrCorrupt, h-1, h)
			}
		}
	}
	return zero, errNoProgress
}

func (s *Stack[T]) decode(i uint64) (T, error) {
	if s.word {
		if b := s.slotBytes(i); s.meta(i).Load() == 8 {
			return codec.FromWordBits[T](binary.NativeEndian.Uint64(b)), nil
		}
	}
	b, err := s.payload(i)
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := s.codec.Decode(b)
	if err != nil {
		// The pusher encoded it with a codec of the same ID: bytes that do
		// not decode are corrupt shared memory.
		return v, fmt.Errorf("%w: stack %q: item at height %d: %w", ErrCorrupt, s.obj.Name, i, err)
	}
	return v, nil
}

func (s *Stack[T]) payload(i uint64) ([]byte, error) {
	n := s.meta(i).Load()
	if n > uint64(s.slot) {
		return nil, fmt.Errorf("%w: cell %d holds %d bytes in a %d-byte slot", ErrCorrupt, i, n, s.slot)
	}
	return s.slotBytes(i)[:n], nil
}

// Peek returns the top item without removing it, or ErrEmpty. It copies
// the item and then checks that top did not change meanwhile, as a seqlock
// reader does, so it never returns a torn value. Does not block.
func (s *Stack[T]) Peek() (_ T, err error) {
	defer s.seg.Catch(&err, debug.SetPanicOnFault(true))
	var zero T
	bp := s.getBuf()
	defer s.pool.Put(bp)
	for i := 0; i < maxSpins; i++ {
		backoff(i)
		t := s.hdr.top.Load()
		h := height(t)
		if h == 0 {
			if s.hdr.top.Load() == t {
				return zero, ErrEmpty
			}
			continue
		}
		if h > s.cap {
			return zero, fmt.Errorf("%w: height %d exceeds capacity %d", ErrCorrupt, h, s.cap)
		}
		st := cellState(s.state(h - 1).Load())
		if st != stFull && st != stWriting {
			continue // being popped or settled; look again
		}
		b, err := s.payload(h - 1)
		if err != nil {
			if s.hdr.top.Load() == t {
				return zero, err
			}
			continue
		}
		*bp = append((*bp)[:0], b...)
		if s.hdr.top.Load() != t {
			continue
		}
		v, err := s.codec.Decode(*bp)
		if err != nil {
			return v, fmt.Errorf("%w: stack %q: item at height %d: %w", ErrCorrupt, s.obj.Name, h-1, err)
		}
		return v, nil
	}
	return zero, errNoProgress
}

func (s *Stack[T]) getBuf() *[]byte {
	if bp, ok := s.pool.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, max(s.slot, 64))
	return &b
}

// Len returns the number of items, a snapshot (0 on a memory fault: the
// segment's file truncated by a peer).
func (s *Stack[T]) Len() int {
	defer s.seg.Catch(nil, debug.SetPanicOnFault(true))
	return int(min(height(s.hdr.top.Load()), s.cap))
}

// Cap returns the capacity.
func (s *Stack[T]) Cap() int { return int(s.cap) }

// SlotSize returns the largest encoded value the stack holds, in bytes.
func (s *Stack[T]) SlotSize() int { return s.slot }

// Stats describes a stack, for programs and tools. Counting costs the fast
// path nothing: operations are counted by the tag of the top word, which
// every push and pop increments anyway, and the high-water mark is written
// only when it rises.
type Stats struct {
	Len, Cap, SlotSize int
	// HighWater is the largest height the stack has reached.
	HighWater int
	// Ops counts successful pushes and pops, modulo 2^32 (the tag's width);
	// Pushed and Popped derive from it and the height, and so are exact
	// until 2^32 operations.
	Ops            uint32
	Pushed, Popped uint64
	// Lost counts items a popper had taken off the stack (its CAS on top
	// done) when its process died, before it freed the item's cell: items
	// neither delivered nor still on the stack. Each is counted once, by
	// segment.Recover or by the first push that reaches its cell (doc.go,
	// "Crashes").
	Lost uint64
	// Repaired counts cells that dead processes left claimed and that were
	// settled (made full again, or freed).
	Repaired uint64
}

// Stats returns the stack's counters, read without a lock; the zero Stats
// on a memory fault (the segment's file truncated by a peer).
func (s *Stack[T]) Stats() Stats {
	defer s.seg.Catch(nil, debug.SetPanicOnFault(true))
	t := s.hdr.top.Load()
	h := uint64(min(height(t), s.cap))
	ops := uint32(t >> 32)
	return Stats{
		Len: int(h), Cap: s.Cap(), SlotSize: s.slot,
		HighWater: int(min(max(s.hdr.highWater.Load(), h), s.cap)),
		Ops:       ops, Pushed: (uint64(ops) + h) / 2, Popped: (uint64(ops) - min(h, uint64(ops))) / 2,
		Lost: s.hdr.lost.Load(), Repaired: s.hdr.repaired.Load(),
	}
}
