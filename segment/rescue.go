//go:build linux

package segment

import (
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Unguarded reads. Catch costs a read-only hot path such as a hash map's
// Load about 4 ns, most of that path's time. A sealed (anonymous) segment
// cannot fault, so such a path may skip it. A named segment can: any peer
// may shrink its file, and the next access past the new end is a SIGBUS.
//
// UnguardedReads lets a named segment skip the guard too. On linux/amd64
// the process gets a SIGBUS handler of its own (rescue_amd64.s), in front
// of Go's, passing on to Go's every fault that is not in a registered
// mapping. A fault in one is a truncated file: the handler puts read-only
// zero pages over the rest of the mapping, marks the segment lost and lets
// the faulting load run again, now reading zeros. So an unguarded reader
// never crashes; it may read zeros, and it checks Lost before it trusts
// what it read. The zeros are read-only so that a write still faults:
// a guarded one becomes ErrTruncated as before (Catch), an unguarded one
// (a single-word bitset or array write) still stops the process rather
// than vanish into private memory. Catch also reports a lost segment when
// an operation finishes, since a guarded read now reads zeros where it
// used to fault. C code that installs its own SIGBUS handler afterwards
// without chaining to the one before turns the rescue off; UnguardedReads
// checks that the handler is still in place when it registers a segment.

// rescueMax is the most segments a process can register at once; beyond
// it UnguardedReads reports false and structures keep their guard.
const rescueMax = 256

// rescueRange is one registered mapping, [start, end), and the word the
// handler marks (lostFaulted) when it rescues a fault there. A rescueRange
// never changes once published in rescueTab, and is never freed: a handler
// that loaded it just before Close unregistered it may still use it, and
// then puts zeros over the same range (which Close left reserved, as zeros)
// and marks the same word. The handler reads it by offset: start 0, end 8,
// lost 16.
type rescueRange struct {
	start, end uintptr
	lost       *atomic.Uint32
}

var (
	rescueTab     [rescueMax]atomic.Pointer[rescueRange] // nil: free; the handler scans them all
	rescueRetired []*rescueRange                         // unregistered ranges, kept for a late handler
	rescueMu      sync.Mutex                             // serialises registration
	rescueOnce    sync.Once
	rescueOK      bool // the handler is installed
)

// Read by the handler only (staticcheck cannot see assembly).
var (
	//lint:ignore U1000 read by rescue_amd64.s
	rescueNext uintptr // the SIGBUS handler installed before ours (Go's); the handler jumps there
	//lint:ignore U1000 read by rescue_amd64.s
	rescuePageMask uintptr // ^(page size - 1)
)

// Bits of Segment.lost.
const (
	lostClosed  = 1 // Close was called
	lostFaulted = 2 // the handler put zeros over pages that faulted (set in rescue_amd64.s)
)

// kernelSigaction is the kernel's struct sigaction on amd64 (rt_sigaction).
type kernelSigaction struct {
	handler, flags, restorer uintptr
	mask                     uint64
}

const (
	saSiginfo = 0x4
	saOnstack = 0x08000000
)

// installRescue puts rescueHandler in front of the SIGBUS handler Go
// installed at start-up. It declines, leaving everything as it was, where
// there is no handler for this architecture or the current one is not a
// handler of the kind Go installs (SA_SIGINFO on the signal stack).
func installRescue() bool {
	pc := rescueHandlerPC()
	if pc == 0 {
		return false
	}
	var old kernelSigaction
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGBUS), 0, uintptr(unsafe.Pointer(&old)), 8, 0, 0); e != 0 {
		return false
	}
	if old.handler <= 1 || old.flags&(saSiginfo|saOnstack) != saSiginfo|saOnstack {
		return false // SIG_DFL, SIG_IGN or a foreign handler: leave it alone
	}
	rescueNext = old.handler
	rescuePageMask = ^uintptr(os.Getpagesize() - 1)
	act := old
	act.handler = pc
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGBUS), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0)
	return e == 0
}

// UnguardedReads reports whether a structure may read s's mapping without
// Catch: whether no read of it can fault while s is open. It is true for a
// sealed segment (Sealed) and, on linux/amd64, for a named one, which it
// registers with the process's SIGBUS handler (see the comment above). It
// is false where that cannot be promised: another architecture, a race
// build (race_on.go), a closed segment, or rescueMax segments registered
// already.
//
// A reader that skips Catch must check Lost before it trusts what it read:
// after a peer truncated the file, or after Close, the mapping reads as
// zeros. Once UnguardedReads returned true, Close leaves read-only zero
// pages over the mapping instead of unmapping it, as it does for a sealed
// segment, so that a read racing Close reads zeros rather than crashing;
// the address range stays reserved until the process exits.
func (s *Segment) UnguardedReads() bool {
	if s.sealed {
		return true
	}
	rescueMu.Lock()
	defer rescueMu.Unlock()
	if s.Closed() {
		return false
	}
	if s.rescue >= 0 {
		return true
	}
	if raceBuild {
		return false
	}
	rescueOnce.Do(func() { rescueOK = installRescue() })
	if !rescueOK || !rescueInstalled() {
		return false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(s.mem)))
	r := &rescueRange{start: base, end: base + uintptr(s.size), lost: &s.lost}
	for i := range rescueTab {
		if rescueTab[i].CompareAndSwap(nil, r) {
			s.rescue = i
			return true
		}
	}
	return false
}

// rescueInstalled reports whether rescueHandler is still the SIGBUS
// handler: C code in the process may have put its own in front since.
func rescueInstalled() bool {
	var cur kernelSigaction
	_, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGBUS), 0, uintptr(unsafe.Pointer(&cur)), 8, 0, 0)
	return e == 0 && cur.handler == rescueHandlerPC()
}

// unmap removes s's mapping at Close: it unregisters it from the SIGBUS
// handler and, for a segment whose readers may be unguarded, leaves zero
// pages in its place (leaveZeros).
func (s *Segment) unmap() error {
	rescueMu.Lock()
	defer rescueMu.Unlock()
	if !s.sealed && s.rescue < 0 {
		return unix.Munmap(s.mem)
	}
	err := leaveZeros(s.mem)         // no SIGBUS can hit the range from here on
	if s.rescue >= 0 && err == nil { // if it failed, the file stays mapped: stay registered
		rescueRetired = append(rescueRetired, rescueTab[s.rescue].Swap(nil))
	}
	return err
}

// Lost reports whether s's mapping no longer holds the segment: s was
// closed, or a peer truncated the file and its pages here now read as
// zeros. An unguarded reader (UnguardedReads) checks it before it returns
// what it read, and reports LostErr if it is true.
func (s *Segment) Lost() bool { return s.lost.Load() != 0 }

// LostErr is the error for a lost segment (Lost): one wrapping ErrClosed,
// ErrTruncated, or ErrCorrupt for a fault the kernel raised in a file of
// full size. It is nil while s is usable.
func (s *Segment) LostErr() error {
	l := s.lost.Load()
	switch {
	case l&lostClosed != 0:
		return fmt.Errorf("%w: %s", ErrClosed, s.name)
	case l&lostFaulted != 0:
		var st unix.Stat_t
		if err := unix.Fstat(s.fd, &st); err == nil && uint64(st.Size) < s.size {
			return fmt.Errorf("%w: %s: the file is %d bytes but the header says %d (another process truncated it); its pages read as zeros here", ErrTruncated, s.name, st.Size, s.size)
		}
		// A fault the kernel could not serve in a file of full size:
		// a page punched out of it and no memory left to fill it.
		return fmt.Errorf("%w: %s: a page of the file could not be read (is /dev/shm full?); its pages read as zeros here", ErrCorrupt, s.name)
	}
	return nil
}
