//go:build linux

package segment

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"

	"golang.org/x/sys/unix"
)

// Anonymous segments have no name: the memory is a memfd that a parent hands
// to the children it starts. The kernel frees it when the last process that
// holds a descriptor or mapping of it exits, so a crash can never leave a
// segment behind in /dev/shm.

// EnvInheritedFD is the environment variable through which Pass tells a
// child which descriptor holds its parent's anonymous segment.
const EnvInheritedFD = "POSIXSHM_SEGMENT_FD"

// CreateAnonymous creates a segment of size bytes backed by an anonymous
// memory file. Hand it to child processes with Pass; they attach with
// Inherited.
func CreateAnonymous(size int64, opts ...Option) (*Segment, error) {
	o := buildOptions(opts)
	if _, err := planLayout(size, o); err != nil {
		return nil, fmt.Errorf("segment (anonymous): %w", err)
	}
	fd, err := unix.MemfdCreate("posixshm", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("segment: memfd_create: %w", err)
	}
	name := fmt.Sprintf("anonymous:%d", os.Getpid())
	s, err := attach(name, "", fd, size, o)
	if err != nil {
		return nil, err
	}
	// Seal the size: no process holding the memfd can shrink it under the
	// others (which would turn their next access into SIGBUS) or grow it.
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		s.Close()
		return nil, fmt.Errorf("segment: seal memfd: %w", err)
	}
	s.sealed = true // before any structure can see s
	return s, nil
}

// Pass arranges for cmd, not yet started, to inherit s: it appends the
// segment's file to cmd.ExtraFiles and sets EnvInheritedFD in cmd.Env. It
// works for named segments too. The child calls Inherited.
func (s *Segment) Pass(cmd *exec.Cmd) error {
	if s.Closed() {
		return ErrClosed
	}
	dup, err := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("segment: dup: %w", err)
	}
	cmd.ExtraFiles = append(cmd.ExtraFiles, os.NewFile(uintptr(dup), s.name))
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	// ExtraFiles[i] becomes descriptor 3+i in the child.
	cmd.Env = append(cmd.Env, EnvInheritedFD+"="+strconv.Itoa(2+len(cmd.ExtraFiles)))
	return nil
}

// Inherited attaches to the segment a parent passed to this process with
// Pass. It reopens the inherited descriptor through /proc so this process
// has its own open file description (and so its own registry lock), then
// closes the inherited one.
func Inherited(opts ...Option) (*Segment, error) {
	v := os.Getenv(EnvInheritedFD)
	if v == "" {
		return nil, fmt.Errorf("%w: %s is not set: was this process started with Segment.Pass?", ErrNotExist, EnvInheritedFD)
	}
	fd, err := strconv.Atoi(v)
	if err != nil || fd < 0 {
		return nil, fmt.Errorf("%w: %s=%q is not a descriptor", ErrNotExist, EnvInheritedFD, v)
	}
	return AttachFD(fd, opts...)
}

// AttachFD attaches to the segment open on descriptor fd (inherited or
// received over a Unix socket). It does not take over fd: it opens its own
// description of the same file, and closes fd only on success.
func AttachFD(fd int, opts ...Option) (*Segment, error) {
	path := "/proc/self/fd/" + strconv.Itoa(fd)
	own, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EBADF) {
			return nil, fmt.Errorf("%w: descriptor %d is not open", ErrNotExist, fd)
		}
		return nil, fmt.Errorf("segment: reopen descriptor %d: %w", fd, err)
	}
	name := fmt.Sprintf("fd:%d", fd)
	s, err := attach(name, "", own, 0, buildOptions(opts))
	if err != nil {
		return nil, err
	}
	unix.Close(fd)
	return s, nil
}
