//go:build linux

package segment

import (
	"sync"

	"golang.org/x/sys/unix"
)

// Asymmetric fences, for the one place a structure needs store-load order
// between processes: a waker publishes (a store) and then checks for
// sleepers (a load), while a sleeper announces itself (a store) and then
// re-checks for work (a load). If both loads could run ahead of the other
// side's store, the waker would miss the sleeper and the sleeper the work:
// a lost wake-up. A locked instruction on the waker's side (atomic.Store is
// an XCHG on amd64) prevents that, on every push, for a sleeper that is
// almost never there.
//
// membarrier(2) moves that cost to the sleeper, who is about to make a
// system call anyway: a process registered for MEMBARRIER_CMD_GLOBAL_EXPEDITED
// may publish with a plain store (on amd64 a plain store is already a
// release), and a sleeper calls OtherProcessesFence between its
// announcement and its re-check. The kernel then runs a full barrier on
// every CPU that is running a registered process, so either the waker's
// check ran after that barrier and sees the announcement, or its publish
// ran before it and the re-check sees the publish.

// membarrier(2) commands (linux/membarrier.h).
const (
	membarrierQuery                   = 0
	membarrierGlobalExpedited         = 1 << 1
	membarrierRegisterGlobalExpedited = 1 << 2
)

var fences struct {
	once       sync.Once
	registered bool // this process is registered: others' fences reach it
	usable     bool // this process can issue a fence
}

func setupFences() {
	fences.once.Do(func() {
		r, _, e := unix.Syscall(unix.SYS_MEMBARRIER, membarrierQuery, 0, 0)
		if e != 0 || r&membarrierGlobalExpedited == 0 {
			return
		}
		fences.usable = true
		_, _, e = unix.Syscall(unix.SYS_MEMBARRIER, membarrierRegisterGlobalExpedited, 0, 0)
		fences.registered = e == 0
	})
}

// PlainPublishOK reports whether this process may publish with a plain
// (release) store instead of a sequentially consistent one: true when it is
// registered for other processes' fences (OtherProcessesFence). The first
// call registers the process.
func PlainPublishOK() bool {
	setupFences()
	return fences.registered
}

// OtherProcessesFence runs a full memory barrier on every CPU that runs a
// process registered as in PlainPublishOK, and returns true; it costs about
// a microsecond. It returns false where the kernel refuses membarrier (a
// seccomp filter, an old kernel): a sleeper must then bound its sleep, since
// a registered waker in another process may miss it.
func OtherProcessesFence() bool {
	setupFences()
	if !fences.usable {
		return false
	}
	_, _, e := unix.Syscall(unix.SYS_MEMBARRIER, membarrierGlobalExpedited, 0, 0)
	return e == 0
}
