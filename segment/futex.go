//go:build linux

package segment

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Futex waits on 32-bit words in shared memory. The operations omit
// FUTEX_PRIVATE_FLAG, so the kernel keys waiters by the mapped file and
// offset and a wake in one process reaches sleepers in another.

const (
	futexWait = 0 // FUTEX_WAIT
	futexWake = 1 // FUTEX_WAKE

	// maxSleep bounds one futex sleep. A waker that dies between changing a
	// word and waking leaves sleepers to notice on their own; a waiter also
	// re-checks its context at least this often.
	maxSleep = 100 * time.Millisecond
)

// Wait sleeps while *w == val, until a Wake on w, ctx's end, or up to 100 ms,
// whichever comes first; it may also return spuriously. Callers re-check
// their condition in a loop. It returns ctx.Err() once ctx is done, else nil.
// w must point into s.
func (s *Segment) Wait(ctx context.Context, w *atomic.Uint32, val uint32) error {
	return s.WaitAtMost(ctx, w, val, maxSleep)
}

// WaitAtMost is Wait with the sleep bounded by d instead of 100 ms (d is
// capped at 100 ms), for a sleeper that cannot rule out a missed wake-up
// (see OtherProcessesFence).
func (s *Segment) WaitAtMost(ctx context.Context, w *atomic.Uint32, val uint32, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if !s.contains(unsafe.Pointer(w), 4) {
		return fmt.Errorf("%w: futex word outside the segment", ErrCorrupt)
	}
	d = min(d, maxSleep)
	if dl, ok := ctx.Deadline(); ok {
		if until := time.Until(dl); until < d {
			d = until
		}
		if d <= 0 {
			return ctx.Err()
		}
	}
	if ctx.Done() != nil {
		// Cancellation wakes every sleeper on w; the others re-check and
		// sleep again, which is harmless.
		stop := context.AfterFunc(ctx, func() { s.Wake(w, 1<<30) })
		defer stop()
	}
	ts := unix.NsecToTimespec(int64(d))
	// EAGAIN (the word changed), EINTR and ETIMEDOUT all mean "re-check".
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWait, uintptr(val), uintptr(unsafe.Pointer(&ts)), 0, 0)
	return ctx.Err()
}

// Wake wakes up to n processes or goroutines sleeping in Wait on w.
func (s *Segment) Wake(w *atomic.Uint32, n int) {
	if s.Closed() || !s.contains(unsafe.Pointer(w), 4) {
		return
	}
	unix.Syscall6(unix.SYS_FUTEX, uintptr(unsafe.Pointer(w)), futexWake, uintptr(n), 0, 0, 0)
}
