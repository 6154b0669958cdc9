//go:build linux

package segment

import (
	"fmt"
	"unsafe"
)

// This file holds every conversion between mapped bytes and typed Go
// values in posixshm. Structures call At and Slice instead of using unsafe
// themselves.
//
// Why it is sound: the mapping is not Go heap memory, so the garbage
// collector neither moves nor scans it, and a pointer into it stays valid
// until Close unmaps it. Each function checks bounds and alignment first,
// so sync/atomic never sees a misaligned word. Types placed in shared memory
// must hold no Go pointers (invariant 1: offsets, never pointers), since
// another process would read them as garbage.

// Offset is a byte offset from the start of a segment. Shared memory holds
// offsets, never pointers, because each process maps the segment at its own
// address.
type Offset uint64

func headerAt(mem []byte) *header {
	return (*header)(unsafe.Pointer(&mem[0]))
}

// sliceAt views n values of T at off in mem. Callers have checked bounds
// and alignment (validateHeader does for the fixed regions).
func sliceAt[T any](mem []byte, off uint64, n int) []T {
	return unsafe.Slice((*T)(unsafe.Pointer(&mem[off])), n)
}

// At returns a pointer to the T at off in s, after checking that it lies
// within the segment and is aligned for T.
func At[T any](s *Segment, off Offset) (*T, error) {
	var zero T
	size, align := uint64(unsafe.Sizeof(zero)), uint64(unsafe.Alignof(zero))
	if err := s.check(uint64(off), size, align); err != nil {
		return nil, err
	}
	return (*T)(unsafe.Pointer(&s.mem[off])), nil
}

// Slice returns a slice of n values of T starting at off in s, after checking
// bounds and alignment. Writes through it are writes to shared memory.
func Slice[T any](s *Segment, off Offset, n int) ([]T, error) {
	var zero T
	size, align := uint64(unsafe.Sizeof(zero)), uint64(unsafe.Alignof(zero))
	if n < 0 || (size != 0 && uint64(n) > s.size/size) {
		return nil, fmt.Errorf("%w: %d elements of %d bytes at offset %d exceed the segment", ErrCorrupt, n, size, off)
	}
	if err := s.check(uint64(off), size*uint64(n), align); err != nil {
		return nil, err
	}
	if n == 0 {
		return []T{}, nil
	}
	return unsafe.Slice((*T)(unsafe.Pointer(&s.mem[off])), n), nil
}

// Bytes returns the n bytes at off, capacity n, after a bounds check.
func (s *Segment) Bytes(off Offset, n uint64) ([]byte, error) {
	if err := s.check(uint64(off), n, 1); err != nil {
		return nil, err
	}
	return s.mem[off : uint64(off)+n : uint64(off)+n], nil
}

// InBounds reports whether [off, off+n) lies inside the segment.
func (s *Segment) InBounds(off Offset, n uint64) bool {
	return uint64(off) <= s.size && n <= s.size-uint64(off)
}

func (s *Segment) check(off, n, align uint64) error {
	if s.Closed() {
		return ErrClosed
	}
	if !s.InBounds(Offset(off), n) {
		return fmt.Errorf("%w: [%d, +%d) is outside the %d-byte segment", ErrCorrupt, off, n, s.size)
	}
	if off%align != 0 {
		return fmt.Errorf("%w: offset %d is not %d-byte aligned", ErrCorrupt, off, align)
	}
	return nil
}

// contains reports whether p points into s's mapping.
func (s *Segment) contains(p unsafe.Pointer, n uintptr) bool {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(s.mem)))
	q := uintptr(p)
	return q >= base && q-base+n <= uintptr(s.size)
}
