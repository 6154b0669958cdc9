package segment

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Crash simulates the death of the process that holds s: its OFD locks go
// away with the descriptor, and nothing in shared memory is cleaned up.
func Crash(s *Segment) {
	s.closed.Store(true)
	unix.Munmap(s.mem)
	unix.Close(s.fd)
}

// HeaderOffsets and friends pin the layout for layout_test.go.
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
