package segment_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/posixshm/posixshm/segment"
)

// TestNoSpaceIsAnError fills a 1 MiB tmpfs, as a container's small /dev/shm
// would be, and expects Create to fail with ErrNoSpace, not to succeed and
// SIGBUS later.
func TestNoSpaceIsAnError(t *testing.T) {
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("mounting a tmpfs needs root: %v", err)
		}
		t.Fatalf("mount tmpfs as root: %v", err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, 0) })
	path := filepath.Join(dir, "big")
	_, err := segment.CreateFile(path, 4<<20)
	if !errors.Is(err, segment.ErrNoSpace) {
		t.Fatalf("CreateFile 4 MiB on a 1 MiB tmpfs: %v, want ErrNoSpace", err)
	}
	for _, want := range []string{"4194304", "free", "shm-size"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	if _, statErr := os.Stat(path); !os.IsNotExist(statErr) {
		t.Errorf("failed create left %s behind", path)
	}
	// What fits, fits.
	s, err := segment.CreateFile(filepath.Join(dir, "small"), 512<<10)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestAnonymousAttachFD(t *testing.T) {
	s, err := segment.CreateAnonymous(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Remove(); err != nil {
		t.Fatalf("Remove of anonymous: %v", err)
	}
	cmd := exec.Command("true")
	if err := s.Pass(cmd); err != nil {
		t.Fatal(err)
	}
	f := cmd.ExtraFiles[0]
	if !strings.Contains(strings.Join(cmd.Env, " "), segment.EnvInheritedFD+"=3") {
		t.Fatalf("Pass did not set %s=3", segment.EnvInheritedFD)
	}
	// Attach through the descriptor, as a child would: a second handle
	// with its own registry slot on the same memory.
	// AttachFD closes the descriptor it is given on success, and f (an
	// *os.File) would close the same number again from its finalizer,
	// possibly after the number was reused by another test's file: hand it
	// a duplicate.
	dup, err := syscall.Dup(int(f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	o, err := segment.AttachFD(dup)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	a, _ := s.Slot()
	b, _ := o.Slot()
	if a == b || o.Size() != s.Size() {
		t.Fatalf("slots %d %d, sizes %d %d", a, b, o.Size(), s.Size())
	}
	if !s.Sealed() || !o.Sealed() {
		t.Fatalf("Sealed: creator %v, attached %v; want both (the memfd is sealed)", s.Sealed(), o.Sealed())
	}
	// The size is sealed: nobody holding the memfd can shrink it under the
	// others and make their next access a SIGBUS.
	if err := syscall.Ftruncate(int(f.Fd()), 4096); err == nil {
		t.Fatal("truncating an anonymous segment succeeded")
	}
	off, _ := s.Heap()
	p, _ := s.Bytes(off, 1)
	q, _ := o.Bytes(off, 1)
	p[0] = 77
	if q[0] != 77 {
		t.Fatal("the two handles do not share memory")
	}
	t.Setenv(segment.EnvInheritedFD, "")
	if _, err := segment.Inherited(); !errors.Is(err, segment.ErrNotExist) {
		t.Fatalf("Inherited without a descriptor: %v", err)
	}
}

// Two processes race OpenOrCreate on a name whose file exists but is empty
// (a creator between O_EXCL and initialisation, or one that died there).
// One reads the file as uninitialised, then stalls before the init lock;
// the other initialises the segment and starts using it. The first, once it
// gets the lock, must see the finished segment and attach, not initialise
// it again (which would truncate it under its user).
func TestOpenOrCreateRaceAfterInit(t *testing.T) {
	name := uniqueName(t)
	if err := os.WriteFile("/dev/shm"+name, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	stalled, release := make(chan struct{}), make(chan struct{})
	var first atomic.Bool // only the first caller stalls
	segment.SetHookBeforeInitLock(func() {
		if first.CompareAndSwap(false, true) {
			close(stalled)
			<-release
		}
	})
	defer segment.SetHookBeforeInitLock(nil)

	late := make(chan *segment.Segment, 1)
	go func() {
		s, err := segment.OpenOrCreate(name, 1<<20)
		if err != nil {
			t.Error(err)
		}
		late <- s
	}()
	<-stalled
	winner, err := segment.OpenOrCreate(name, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer winner.Close()
	off, _ := winner.Heap()
	mark, _ := winner.Bytes(off, 8)
	copy(mark, "in use!!")
	close(release)
	second := <-late
	if second == nil {
		t.FailNow()
	}
	defer second.Close()
	if string(mark) != "in use!!" {
		t.Fatalf("the segment was initialised again under its user: %q", mark)
	}
	got, _ := second.Bytes(off, 8)
	if string(got) != "in use!!" || !second.Created().Equal(winner.Created()) {
		t.Fatalf("second handle sees %q, created %v vs %v", got, second.Created(), winner.Created())
	}
}

// TestSealedCloseLeavesZeros: Close of a sealed (anonymous) segment leaves
// its address range mapped to zeros, so a reader that skips the fault
// guard (segment.Sealed) and races Close reads zeros, never faults. A named
// segment is not sealed: its file can shrink, so its readers keep the guard.
func TestSealedCloseLeavesZeros(t *testing.T) {
	named, _ := mustCreate(t, 1<<20)
	if named.Sealed() {
		t.Fatal("a named segment reports Sealed")
	}
	s, err := segment.CreateAnonymous(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	off, _ := s.Heap()
	p, err := s.Bytes(off, 4096)
	if err != nil {
		t.Fatal(err)
	}
	p[0], p[4095] = 7, 9
	if s.Closed() {
		t.Fatal("Closed before Close")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if !s.Closed() {
		t.Fatal("not Closed after Close")
	}
	if p[0] != 0 || p[4095] != 0 { // a fault here would crash the test
		t.Fatalf("after Close the range reads %d, %d; want zeros", p[0], p[4095])
	}
}
