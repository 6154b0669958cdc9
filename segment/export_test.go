package segment

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Crash simulates the death of the process that holds s: its OFD locks go
// away with the descriptor, and nothing in shared memory is cleaned up.
func Crash(s *Segment) {
	s.lost.Or(lostClosed)
	s.unmap() // also takes s out of the SIGBUS handler's table
	unix.Close(s.fd)
}

// SetSIGBUSHandler installs handler (0: SIG_DFL) for SIGBUS, keeping the
// current flags, mask and restorer, and returns the handler it replaced.
func SetSIGBUSHandler(handler uintptr) (old uintptr, err error) {
	var cur kernelSigaction
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGBUS), 0, uintptr(unsafe.Pointer(&cur)), 8, 0, 0); e != 0 {
		return 0, e
	}
	act := cur
	act.handler = handler
	if _, _, e := unix.RawSyscall6(unix.SYS_RT_SIGACTION, uintptr(unix.SIGBUS), uintptr(unsafe.Pointer(&act)), 0, 8, 0, 0); e != 0 {
		return 0, e
	}
	return cur.handler, nil
}

// HeaderSize, DirEntrySize, RegSlotSize and IntentsPerSlot pin the layout
// for layout_test.go.
var (
	HeaderSize     = headerSize
	DirEntrySize   = dirEntrySize
	RegSlotSize    = regSlotSize
	IntentsPerSlot = intentsPerSlot
)

type Header = header
type DirEntry = dirEntry
type RegSlot = regSlot
type IntentRecordLayout = intentRecord

// Field offsets, pinned by layout_test.go.
var (
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.totalSize)-24]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.dirOff)-48]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.regOff)-64]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.heapOff)-80]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.checksum)-96]
	_ = [1]struct{}{}[unsafe.Offsetof(header{}.state)-128]
	_ = [1]struct{}{}[unsafe.Offsetof(dirEntry{}.off)-32]
	_ = [1]struct{}{}[unsafe.Offsetof(dirEntry{}.params)-48]
	_ = [1]struct{}{}[unsafe.Offsetof(dirEntry{}.name)-80]
	_ = [1]struct{}{}[unsafe.Offsetof(regSlot{}.intents)-64]
)

// SetHookBeforeInitLock installs a function attach calls when it found a
// file uninitialised and is about to try the init lock.
func SetHookBeforeInitLock(f func()) { testHookBeforeInitLock = f }
