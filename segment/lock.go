//go:build linux

package segment

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/sys/unix"
)

// Open-file-description locks (F_OFD_SETLK) on single bytes of the segment's
// file. The kernel drops them when the last descriptor of the description is
// closed, which happens when the holding process dies, however it dies. That
// is why they serve both as liveness markers (one byte per registry slot) and
// as the few cross-process locks we take outside the data path (initialisation
// and directory changes): a dead holder never wedges anyone. Unlike classic
// POSIX locks they belong to the open file description, not the process, so
// two handles in one process exclude each other too.

func ofdLock(fd int, off int64, typ int16) error {
	lk := unix.Flock_t{Type: typ, Whence: 0, Start: off, Len: 1}
	for {
		err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
		if err != unix.EINTR {
			return err
		}
	}
}

// tryLock takes a lock without waiting. It reports false when another open
// file description holds a conflicting lock.
func tryLock(fd int, off int64, typ int16) (bool, error) {
	err := ofdLock(fd, off, typ)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EAGAIN), errors.Is(err, unix.EACCES):
		return false, nil
	default:
		return false, fmt.Errorf("segment: fcntl lock byte %d: %w", off, err)
	}
}

// lockWait takes a lock, polling until timeout. Holders keep these locks for
// microseconds to milliseconds, so polling with a short backoff costs little
// and, unlike F_OFD_SETLKW, can give up.
func lockWait(fd int, off int64, typ int16, timeout time.Duration, what string) error {
	deadline := time.Now().Add(timeout)
	backoff := 20 * time.Microsecond
	for {
		ok, err := tryLock(fd, off, typ)
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s still held by a live process after %v", ErrBusy, what, timeout)
		}
		time.Sleep(backoff)
		if backoff < 5*time.Millisecond {
			backoff *= 2
		}
	}
}

func unlock(fd int, off int64) error {
	return ofdLock(fd, off, unix.F_UNLCK)
}

// lockHeld reports whether an open file description other than fd's holds a
// lock on the byte.
func lockHeld(fd int, off int64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: off, Len: 1}
	for {
		err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("segment: fcntl getlk byte %d: %w", off, err)
		}
		return lk.Type != unix.F_UNLCK, nil
	}
}
