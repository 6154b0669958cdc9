package segment_test

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/posixshm/posixshm/segment"
)

// wantUnguarded: UnguardedReads promises fault-free reads of a named
// segment where the package has a SIGBUS handler (linux/amd64), and
// declines elsewhere and in race builds.
func wantUnguarded(t *testing.T, s *segment.Segment) bool {
	t.Helper()
	got, want := s.UnguardedReads(), runtime.GOARCH == "amd64" && !raceBuild
	if got != want {
		t.Fatalf("UnguardedReads() = %v on %s (race build %v), want %v", got, runtime.GOARCH, raceBuild, want)
	}
	return got
}

// TestUnguardedReadsSurviveTruncation: a peer truncates the file of a
// named segment registered for unguarded reads. A read with no guard at
// all, in a goroutine that never asked for panics on faults, reads zeros
// instead of killing the process; the segment reports itself lost with
// ErrTruncated; guarded operations, writes included, report ErrTruncated;
// Close works, and reads after it read zeros too.
func TestUnguardedReadsSurviveTruncation(t *testing.T) {
	s, name := mustCreate(t, 1<<20)
	if !wantUnguarded(t, s) {
		return
	}
	if !s.UnguardedReads() {
		t.Fatal("second UnguardedReads() = false")
	}
	mem, err := s.Bytes(0, uint64(s.Size()))
	if err != nil {
		t.Fatal(err)
	}
	heap, _ := s.Heap()
	last := len(mem) - 1
	mem[heap], mem[last] = 7, 9 // written while the file is whole
	if s.Lost() || s.LostErr() != nil {
		t.Fatalf("Lost() = %v, LostErr() = %v before anything happened", s.Lost(), s.LostErr())
	}
	if err := os.Truncate("/dev/shm"+name, 4096); err != nil {
		t.Fatal(err)
	}
	if debug.SetPanicOnFault(false) {
		t.Fatal("fault setting on")
	}
	if got := mem[last]; got != 0 {
		t.Errorf("last byte after truncation = %d, want 0 (a zero page)", got)
	}
	if got := mem[heap]; got != 0 {
		t.Errorf("heap byte after truncation = %d, want 0", got)
	}
	if mem[0] == 0 {
		t.Error("the header page, inside the truncated file, reads zero: the handler replaced too much")
	}
	if !s.Lost() {
		t.Error("Lost() = false after a rescued fault")
	}
	if err := s.LostErr(); !errors.Is(err, segment.ErrTruncated) || !strings.Contains(err.Error(), "4096 bytes") {
		t.Errorf("LostErr() = %v, want ErrTruncated naming the file's size", err)
	}
	if _, err := s.Lookup("anything"); !errors.Is(err, segment.ErrTruncated) {
		t.Errorf("Lookup: %v, want ErrTruncated", err)
	}
	func() { // a guarded write to a rescued page faults: the zeros are read-only
		defer s.Catch(&err, debug.SetPanicOnFault(true))
		mem[last] = 1
	}()
	if !errors.Is(err, segment.ErrTruncated) {
		t.Errorf("guarded write to a rescued page: %v, want ErrTruncated", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if got := mem[last] | mem[0]; got != 0 {
		t.Errorf("read after Close = %d, want 0", got)
	}
	if err := s.LostErr(); !errors.Is(err, segment.ErrClosed) {
		t.Errorf("LostErr() after Close = %v, want ErrClosed", err)
	}
	if s.UnguardedReads() {
		t.Error("UnguardedReads() = true after Close")
	}
}

// TestCatchReportsLostSegment: a guarded operation that read zeros where
// a truncated file's pages were, rather than faulting, still reports
// ErrTruncated, and one that ran after Close of a sealed segment reports
// ErrClosed.
func TestCatchReportsLostSegment(t *testing.T) {
	anon, err := segment.CreateAnonymous(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	if !anon.UnguardedReads() {
		t.Fatal("UnguardedReads() = false for an anonymous segment")
	}
	mem, err := anon.Bytes(0, 64)
	if err != nil {
		t.Fatal(err)
	}
	anon.Close()
	read := func(s *segment.Segment) (b byte, err error) {
		defer s.Catch(&err, debug.SetPanicOnFault(true))
		return mem[8], nil
	}
	if b, err := read(anon); b != 0 || !errors.Is(err, segment.ErrClosed) {
		t.Errorf("guarded read after Close of a sealed segment: %d, %v; want 0, ErrClosed", b, err)
	}
}

// TestOtherFaultsReachGo: with the handler installed, a fault it does not
// own, in a segment that is not registered, goes to Go's handler as
// before: a guarded access becomes ErrTruncated through SetPanicOnFault.
func TestOtherFaultsReachGo(t *testing.T) {
	reg, _ := mustCreate(t, 1<<20)
	wantUnguarded(t, reg) // installs the handler where there is one
	s, name := mustCreate(t, 1<<20)
	mem, err := s.Bytes(0, uint64(s.Size()))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate("/dev/shm"+name, 0); err != nil {
		t.Fatal(err)
	}
	var b byte
	func() {
		defer s.Catch(&err, debug.SetPanicOnFault(true))
		b = mem[len(mem)-1]
	}()
	if !errors.Is(err, segment.ErrTruncated) || s.Lost() {
		t.Errorf("guarded read of an unregistered truncated segment: %d, %v (Lost %v), want ErrTruncated through Go's panic", b, err, s.Lost())
	}
	if reg.Lost() {
		t.Error("the registered segment was marked lost by another segment's fault")
	}
}

// TestUnregisteredFaultStillCrashes: the handler does not hide faults it
// does not own. A child process registers one segment, then reads a
// truncated, unregistered one with no guard: it must die of the fault,
// as a Go program does without this package.
func TestUnregisteredFaultStillCrashes(t *testing.T) {
	const env = "POSIXSHM_TEST_RESCUE_CHILD"
	if name := os.Getenv(env); name != "" {
		reg, err := segment.CreateAnonymous(1 << 20)
		if err != nil {
			os.Exit(3)
		}
		reg.UnguardedReads()
		named, err := segment.Create(name, 1<<20)
		if err != nil {
			os.Exit(3)
		}
		mem, _ := named.Bytes(0, uint64(named.Size()))
		registered, err := segment.Create(name+"-r", 1<<20)
		if err != nil {
			os.Exit(3)
		}
		registered.UnguardedReads()
		os.Truncate("/dev/shm"+name, 0)
		println("read:", mem[len(mem)-1]) // must not return
		os.Exit(0)
	}
	if runtime.GOARCH != "amd64" {
		t.Logf("no SIGBUS handler on %s: nothing is installed, Go's own behaviour is the baseline", runtime.GOARCH)
	}
	name := uniqueName(t)
	t.Cleanup(func() { segment.Remove(name + "-r") })
	cmd := exec.Command(os.Args[0], "-test.run=^TestUnregisteredFaultStillCrashes$")
	cmd.Env = append(os.Environ(), env+"="+name)
	out, err := cmd.CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() == 0 || exit.ExitCode() == 3 {
		t.Fatalf("child: %v, want a crash; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), "unexpected fault address") {
		t.Errorf("child crashed without Go's fault report:\n%s", out)
	}
}

// TestUnguardedReadsReusesEntries: Close gives back the segment's place in
// the handler's table (rescueMax of them), so a process that opens and
// closes segments one after another never runs out.
func TestUnguardedReadsReusesEntries(t *testing.T) {
	for i := range 300 {
		named, name := mustCreate(t, 1<<20)
		got := named.UnguardedReads()
		named.Close()
		segment.Remove(name)
		if want := runtime.GOARCH == "amd64" && !raceBuild; got != want {
			t.Fatalf("UnguardedReads() = %v at the %dth segment, want %v", got, i+1, want)
		}
	}
}

// TestUnguardedReadsChecksHandler: if something replaced the SIGBUS handler
// after it was installed (C code, say), UnguardedReads declines new
// segments, which then keep their guard, rather than promise a rescue
// that would not come.
func TestUnguardedReadsChecksHandler(t *testing.T) {
	first, _ := mustCreate(t, 1<<20)
	if !wantUnguarded(t, first) {
		return
	}
	ours, err := segment.SetSIGBUSHandler(0)
	if err != nil {
		t.Fatal(err)
	}
	defer segment.SetSIGBUSHandler(ours)
	second, _ := mustCreate(t, 1<<20)
	if second.UnguardedReads() {
		t.Error("UnguardedReads() = true with the default SIGBUS handler in place")
	}
	if _, err := segment.SetSIGBUSHandler(ours); err != nil {
		t.Fatal(err)
	}
	if !second.UnguardedReads() {
		t.Error("UnguardedReads() = false with the handler back in place")
	}
}
