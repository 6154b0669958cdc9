//go:build linux

package segment

import (
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Faults. A named or file-backed segment is a file that any peer allowed to
// write it can shrink with ftruncate. Touching a page past the new end is a
// SIGBUS, which Go treats as a fatal error: the process dies, whatever it
// was doing. Go can instead turn such a fault into a panic on the goroutine
// that faulted (runtime/debug.SetPanicOnFault), and Catch turns that panic
// into an error. The segment's own operations and the allocator's use it;
// structures use it on every operation that returns an error.
//
// Cost: a deferred call, two SetPanicOnFault calls and a recover that finds
// nothing, about 3 ns on a 2024 x86 core. Single-word bitset and array
// operations (a few ns each) do not pay it; see their packages' Caveats.
// Anonymous segments are sealed against resizing, so they never fault; a
// read-only hot path can skip the guard on those and, on linux/amd64, on
// named ones too (UnguardedReads, rescue.go).

// Sealed reports whether the kernel keeps s's file from shrinking: it is a
// memfd sealed with F_SEAL_SHRINK, as every anonymous segment is (also in
// the processes that attach to it with Inherited or AttachFD). Such a
// mapping cannot fault while s is open (UnguardedReads). After Close, the
// mapping of a sealed segment is replaced by read-only zero pages rather
// than removed, so a read that races Close, or follows it, reads zeros
// instead of crashing; such a reader checks Lost before it trusts what it
// read. The address range stays reserved until the process exits.
func (s *Segment) Sealed() bool { return s.sealed }

// Closed reports whether Close was called on s.
func (s *Segment) Closed() bool { return s.lost.Load()&lostClosed != 0 }

// shrinkSealed reports whether the file open on fd is sealed against
// shrinking. Files that cannot carry seals (anything but a memfd) are not.
func shrinkSealed(fd int) bool {
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	return err == nil && seals&unix.F_SEAL_SHRINK != 0
}

// leaveZeros replaces the mapping mem of a sealed segment by private,
// read-only zero pages in one mmap (MAP_FIXED), so that no instant passes
// with the range unmapped: see Sealed.
func leaveZeros(mem []byte) error {
	_, err := unix.MmapPtr(-1, 0, unsafe.Pointer(unsafe.SliceData(mem)), uintptr(len(mem)),
		unix.PROT_READ, unix.MAP_FIXED|unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
	return err
}

// ErrTruncated is returned when the file behind a segment became shorter
// than the segment while it was mapped (another process truncated it), and
// an operation touched the missing pages. The segment is unusable from then
// on: close it.
var ErrTruncated = errors.New("segment: file truncated under a mapped segment")

// Catch, deferred at the top of an operation, turns a memory fault inside
// s's mapping into an error stored in *err, and restores the goroutine's
// previous fault setting. Use it exactly as
//
//	func (x *Thing) Op() (err error) {
//		defer x.seg.Catch(&err, debug.SetPanicOnFault(true))
//		...
//	}
//
// The second argument is evaluated when the defer statement runs, so the
// fault setting is on for the whole operation and prev is its former value.
// Catch must be the deferred function itself (recover works only there).
//
// The error wraps ErrTruncated if the file is now shorter than the mapping
// (a peer truncated it), ErrClosed if s was closed (a use after Close), and
// ErrCorrupt otherwise. An operation that did not fault but ends on a lost
// segment (Lost: pages that read as zeros stood in for the faults) gets
// LostErr. Any other panic, and a fault outside the mapping,
// is re-raised unchanged: Catch never hides a bug in this process. err may
// be nil when the operation returns no error; the fault is then dropped
// and the operation returns its zero values.
//
// Callers of single-word bitset and array operations, which are not
// guarded, can guard a batch of them the same way.
func (s *Segment) Catch(err *error, prev bool) {
	debug.SetPanicOnFault(prev)
	r := recover()
	if r == nil {
		// Pages that read as zeros instead of faulting (UnguardedReads,
		// or a sealed segment after Close) may have fed the operation.
		if err != nil && s.lost.Load() != 0 {
			*err = s.LostErr()
		}
		return
	}
	if ferr := s.Fault(r); err != nil {
		*err = ferr
	}
}

// Fault is Catch for a hot path that inlines its own deferred closure,
// which saves the indirect call and the wrapper that deferring Catch costs
// (about 1.5 ns of Catch's 5):
//
//	prev := debug.SetPanicOnFault(true)
//	defer func() {
//		debug.SetPanicOnFault(prev)
//		if r := recover(); r != nil {
//			err = x.seg.Fault(r)
//		}
//	}()
//
// It returns the error Catch would store for the recovered value r, and
// re-panics with r when r is not a memory fault inside s's mapping.
func (s *Segment) Fault(r any) error {
	if ferr, ok := r.(runtime.Error); ok {
		if a, ok := ferr.(interface{ Addr() uintptr }); ok && s.inMapping(a.Addr()) {
			return s.faultError(a.Addr())
		}
	}
	panic(r)
}

// inMapping reports whether addr lies in s's mapping (also after Close:
// the address range is remembered, so a use after Close is recognised).
func (s *Segment) inMapping(addr uintptr) bool {
	base := uintptr(unsafe.Pointer(unsafe.SliceData(s.mem)))
	return base != 0 && addr >= base && addr-base < uintptr(s.size)
}

// faultError explains a fault at addr in s's mapping.
func (s *Segment) faultError(addr uintptr) error {
	off := addr - uintptr(unsafe.Pointer(unsafe.SliceData(s.mem)))
	if s.Closed() {
		return fmt.Errorf("%w: %s: memory access at offset %d after Close", ErrClosed, s.name, off)
	}
	var st unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err == nil && uint64(st.Size) < s.size {
		return fmt.Errorf("%w: %s: memory fault at offset %d: the file is %d bytes but the header says %d (another process truncated it)", ErrTruncated, s.name, off, st.Size, s.size)
	}
	return fmt.Errorf("%w: %s: memory fault at offset %d of the %d-byte mapping", ErrCorrupt, s.name, off, s.size)
}
