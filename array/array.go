package array

import (
	"fmt"
	"iter"
	"math"
	"runtime/debug"
	"sync/atomic"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/segment"
)

// Elem is the set of element types an Array holds: fixed-size numbers whose
// atomic operations sync/atomic provides. Named types (type Celsius
// float64) are not included, so that the type recorded in shared memory
// always names one Go type.
type Elem interface {
	int32 | int64 | uint32 | uint64 | float32 | float64
}

// Array is a fixed-length array of numbers in shared memory that any number
// of goroutines and processes may use concurrently.
//
// Create or attach one with New, attach only with Open. An *Array is a
// handle into the segment: it must not outlive the Segment's Close, which
// unmaps the elements.
//
// Load, Store, Add, Swap and CompareAndSwap are each atomic on one element
// and sequentially consistent, like sync/atomic; Add on a float is a
// compare-and-swap loop on its bits. A process killed mid-call has either
// done the operation or not; nothing is left half done, so the array needs
// no intent records.
//
// All, CopyFrom and CopyTo visit the elements one at a time, each
// atomically: they are not a snapshot. Slice returns the elements as a plain
// Go slice for fast non-atomic bulk work; see its doc for the rules.
//
// No method blocks. An index outside [0, Len()) panics, as indexing a Go
// slice does (with the same runtime error).
type Array[T Elem] struct {
	data []T             // the elements as plain values; Slice's view
	w64  []atomic.Uint64 // the same memory, for 8-byte T; nil otherwise
	w32  []atomic.Uint32 // the same memory, for 4-byte T; nil otherwise
	name string
}

func elemOf[T Elem]() ElemType {
	var zero T
	switch any(zero).(type) {
	case int32:
		return Int32
	case int64:
		return Int64
	case uint32:
		return Uint32
	case uint64:
		return Uint64
	case float32:
		return Float32
	default: // float64, the only type left in Elem
		return Float64
	}
}

// New returns the array of T called name in seg, creating it with length
// zero elements if there is none. Among processes racing New on one name,
// one creates it and the others attach to it once it is complete.
//
// Length 0 attaches to an existing array of any length, like Open. An array
// that exists with another element type or length is an ErrMismatch naming
// both; a length below 0 or above MaxLen is an ErrInvalidLength. The
// elements live in seg's heap, managed by the alloc module.
func New[T Elem](seg *segment.Segment, name string, length int) (*Array[T], error) {
	et := elemOf[T]()
	if length < 0 || length > MaxLen {
		return nil, fmt.Errorf("%w: array %q: length %d is outside [1, %d]", ErrInvalidLength, name, length, MaxLen)
	}
	if length == 0 {
		a, err := Open[T](seg, name)
		if err != nil {
			return nil, fmt.Errorf("array: New(%q, 0) attaches only: %w", name, err)
		}
		return a, nil
	}
	heap, err := alloc.Of(seg)
	if err != nil {
		return nil, fmt.Errorf("array %q: %w", name, err)
	}
	n := uint64(length)
	spec := segment.Spec{
		Kind:    segment.KindArray,
		Version: LayoutVersion,
		Params:  [4]uint64{n, uint64(et)},
		Size:    blockSize(et, n),
	}
	obj, created, err := seg.FindOrCreate(name, spec, heap, func(obj segment.Object) error {
		return initBlock(seg, obj, et, n)
	})
	if err != nil {
		return nil, fmt.Errorf("array %q: %w", name, err)
	}
	if !created {
		if found := ElemType(obj.Params[1]); found != et || obj.Params[0] != n {
			return nil, fmt.Errorf("%w: array %q: want %d x %v, found %d x %v", ErrMismatch, name, n, et, obj.Params[0], found)
		}
	}
	return attach[T](seg, obj)
}

// Open attaches to the existing array called name in seg. It is ErrNotFound
// if there is none, and ErrMismatch if the object is not an array of this
// layout version or holds another element type than T.
func Open[T Elem](seg *segment.Segment, name string) (*Array[T], error) {
	obj, err := seg.Lookup(name)
	if err != nil {
		return nil, err
	}
	return attach[T](seg, obj)
}

// initBlock writes a new array's header and zeroes its elements. It runs
// inside FindOrCreate, before any other process can see the object; the
// heap does not zero blocks.
func initBlock(seg *segment.Segment, obj segment.Object, et ElemType, n uint64) error {
	h, err := segment.At[header](seg, obj.Offset)
	if err != nil {
		return err
	}
	data, err := seg.Bytes(obj.Offset+headerSize, obj.Size-headerSize)
	if err != nil {
		return err
	}
	clear(data)
	*h = header{magic: Magic, version: LayoutVersion, elem: uint32(et), length: n, elemSize: uint32(et.Size())}
	return nil
}

// attach checks obj's header, which is untrusted, and resolves its
// elements. Each header field is read once and only the checked copy is
// used.
func attach[T Elem](seg *segment.Segment, obj segment.Object) (_ *Array[T], err error) {
	defer seg.Catch(&err, debug.SetPanicOnFault(true)) // reads the header
	et := elemOf[T]()
	if obj.Kind != segment.KindArray || obj.Version != LayoutVersion {
		return nil, fmt.Errorf("%w: object %q: want %v v%d, found %v v%d", ErrMismatch, obj.Name, segment.KindArray, LayoutVersion, obj.Kind, obj.Version)
	}
	if found := ElemType(obj.Params[1]); found != et {
		return nil, fmt.Errorf("%w: array %q: want %v elements, found %v", ErrMismatch, obj.Name, et, found)
	}
	if obj.Size < headerSize {
		return nil, fmt.Errorf("%w: array %q: block of %d bytes is smaller than its %d-byte header", ErrCorrupt, obj.Name, obj.Size, headerSize)
	}
	h, err := segment.At[header](seg, obj.Offset)
	if err != nil {
		return nil, fmt.Errorf("array %q: %w", obj.Name, err)
	}
	magic, version, elem, n, size := h.magic, h.version, ElemType(h.elem), h.length, uint64(h.elemSize)
	switch {
	case magic != Magic:
		return nil, fmt.Errorf("%w: array %q: magic %#x, want %#x", ErrCorrupt, obj.Name, magic, Magic)
	case version != LayoutVersion:
		return nil, fmt.Errorf("%w: array %q: header says layout v%d, directory says v%d", ErrCorrupt, obj.Name, version, LayoutVersion)
	case elem != et:
		return nil, fmt.Errorf("%w: array %q: header says %v elements, directory says %v", ErrCorrupt, obj.Name, elem, et)
	case size != et.Size():
		return nil, fmt.Errorf("%w: array %q: header says %d-byte elements, %v has %d", ErrCorrupt, obj.Name, size, et, et.Size())
	case n != obj.Params[0]:
		return nil, fmt.Errorf("%w: array %q: header says %d elements, directory says %d", ErrCorrupt, obj.Name, n, obj.Params[0])
	case n == 0 || n > MaxLen:
		return nil, fmt.Errorf("%w: array %q: length %d is outside [1, %d]", ErrCorrupt, obj.Name, n, MaxLen)
	case n > (obj.Size-headerSize)/size:
		return nil, fmt.Errorf("%w: array %q: %d x %v do not fit its %d-byte block", ErrCorrupt, obj.Name, n, et, obj.Size)
	}
	a := &Array[T]{name: obj.Name}
	off := obj.Offset + headerSize
	if a.data, err = segment.Slice[T](seg, off, int(n)); err == nil {
		if size == 8 {
			a.w64, err = segment.Slice[atomic.Uint64](seg, off, int(n))
		} else {
			a.w32, err = segment.Slice[atomic.Uint32](seg, off, int(n))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("array %q: %w", obj.Name, err)
	}
	return a, nil
}

// Name returns the array's name in its segment.
func (a *Array[T]) Name() string { return a.name }

// Len returns the number of elements, fixed at creation.
func (a *Array[T]) Len() int { return len(a.data) }

// The element operations below switch on T. Inside an instantiation for
// one T the switch is resolved at compile time: once the method is inlined
// into a caller that names T (Load, Store, Swap and CompareAndSwap inline),
// only the case for T is left, and the operation compiles to a bounds check
// and one atomic instruction. T(x) between same-sized integers keeps the
// bits; floats go through math's bit casts. A conversion that would be
// wrong for some T sits in a case never taken for that T.

// Load returns element i. It is one atomic load.
func (a *Array[T]) Load(i int) T {
	var z T
	switch any(z).(type) {
	case int64, uint64:
		return T(a.w64[i].Load())
	case float64:
		return T(math.Float64frombits(a.w64[i].Load()))
	case float32:
		return T(math.Float32frombits(a.w32[i].Load()))
	default: // int32, uint32
		return T(a.w32[i].Load())
	}
}

// Store sets element i to v. It is one atomic store.
func (a *Array[T]) Store(i int, v T) {
	var z T
	switch any(z).(type) {
	case int64, uint64:
		a.w64[i].Store(uint64(v))
	case float64:
		a.w64[i].Store(math.Float64bits(float64(v)))
	case float32:
		a.w32[i].Store(math.Float32bits(float32(v)))
	default: // int32, uint32
		a.w32[i].Store(uint32(v))
	}
}

// Add adds delta to element i and returns the new value. Integers wrap
// around on overflow, as Go's + does, in one atomic add. Floats are added
// by a compare-and-swap loop on the element's bits, which retries while
// other writers change the element.
func (a *Array[T]) Add(i int, delta T) T {
	var z T
	switch any(z).(type) {
	case int64, uint64:
		return T(a.w64[i].Add(uint64(delta)))
	case int32, uint32:
		return T(a.w32[i].Add(uint32(delta)))
	}
	return a.addFloat(i, delta)
}

func (a *Array[T]) addFloat(i int, delta T) T {
	var z T
	if _, ok := any(z).(float64); ok {
		w := &a.w64[i]
		for {
			old := w.Load()
			n := math.Float64frombits(old) + float64(delta)
			if w.CompareAndSwap(old, math.Float64bits(n)) {
				return T(n)
			}
		}
	}
	w := &a.w32[i]
	for {
		old := w.Load()
		n := math.Float32frombits(old) + float32(delta)
		if w.CompareAndSwap(old, math.Float32bits(n)) {
			return T(n)
		}
	}
}

// Swap sets element i to v and returns its previous value, atomically.
func (a *Array[T]) Swap(i int, v T) T {
	var z T
	switch any(z).(type) {
	case int64, uint64:
		return T(a.w64[i].Swap(uint64(v)))
	case float64:
		return T(math.Float64frombits(a.w64[i].Swap(math.Float64bits(float64(v)))))
	case float32:
		return T(math.Float32frombits(a.w32[i].Swap(math.Float32bits(float32(v)))))
	default: // int32, uint32
		return T(a.w32[i].Swap(uint32(v)))
	}
}

// CompareAndSwap sets element i to new if it holds old, and reports whether
// it did, atomically. Floats are compared by their bits: a NaN matches the
// same NaN, and 0.0 does not match -0.0.
func (a *Array[T]) CompareAndSwap(i int, old, new T) bool {
	var z T
	switch any(z).(type) {
	case int64, uint64:
		return a.w64[i].CompareAndSwap(uint64(old), uint64(new))
	case float64:
		return a.w64[i].CompareAndSwap(math.Float64bits(float64(old)), math.Float64bits(float64(new)))
	case float32:
		return a.w32[i].CompareAndSwap(math.Float32bits(float32(old)), math.Float32bits(float32(new)))
	default: // int32, uint32
		return a.w32[i].CompareAndSwap(uint32(old), uint32(new))
	}
}

// All returns an iterator over the indexes and values of the elements, in
// order. Each element is loaded atomically when the iteration reaches it:
// not a snapshot. The iterator may be used more than once.
func (a *Array[T]) All() iter.Seq2[int, T] {
	return func(yield func(int, T) bool) {
		for i := range a.data {
			if !yield(i, a.Load(i)) {
				return
			}
		}
	}
}

// CopyFrom stores src's elements into elements 0, 1, ... of a, each with an
// atomic store, and returns how many it copied: min(len(src), a.Len()), as
// copy does. To copy into another range, pass a sub-slice of src or use
// Slice.
func (a *Array[T]) CopyFrom(src []T) int {
	n := min(len(src), len(a.data))
	for i, v := range src[:n] {
		a.Store(i, v)
	}
	return n
}

// CopyTo loads elements 0, 1, ... of a into dst, each with an atomic load,
// and returns how many it copied: min(len(dst), a.Len()), as copy does. It
// is not a snapshot.
func (a *Array[T]) CopyTo(dst []T) int {
	n := min(len(dst), len(a.data))
	for i := range dst[:n] {
		dst[i] = a.Load(i)
	}
	return n
}

// Slice returns the elements as a Go slice over the shared memory itself,
// with no copy: writes through it are seen by every process, as with the
// Python library's NumPy view. Its length and capacity are Len().
//
// Accesses through the slice are plain, not atomic: use it for bulk work
// (sums, vector maths, gonum) in phases when no other goroutine or process
// writes the elements, or when reading a value that is momentarily stale is
// acceptable. Aligned 4- and 8-byte loads and stores do not tear on the
// 64-bit platforms Go supports, but the Go memory model gives plain accesses
// no ordering, and the race detector reports plain accesses that race with
// atomic ones in the same process. The slice must not be used after the
// Segment is closed.
func (a *Array[T]) Slice() []T { return a.data }
