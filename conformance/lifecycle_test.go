package conformance_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/conformance/harness"
	"github.com/posixshm/posixshm/segment"
)

func init() {
	harness.Register("anon-parent", anonParent)
	harness.Register("anon-child", anonChild)
}

type anonReport struct {
	Parent   int
	Children []int
	Dev, Ino uint64
}

// anonParent creates an anonymous segment, starts two children on it with
// Segment.Pass, waits until both attached, reports, and waits to be killed.
func anonParent(c *harness.Child) error {
	seg, err := segment.CreateAnonymous(4 << 20)
	if err != nil {
		return err
	}
	off, _ := seg.Heap()
	// A counter in heap bytes the children bump once attached; the heap is
	// otherwise unused in this scenario, so nothing else writes there.
	counter, err := segment.At[atomic.Uint64](seg, off+1<<20)
	if err != nil {
		return err
	}
	r := anonReport{Parent: os.Getpid()}
	for i := range 2 {
		cmd := harness.Command("anon-child", i, "", harness.Args{"counter": fmt.Sprint(1 << 20)})
		if err := seg.Pass(cmd); err != nil {
			return err
		}
		if err := cmd.Start(); err != nil {
			return err
		}
		r.Children = append(r.Children, cmd.Process.Pid)
	}
	for counter.Load() < 2 {
		time.Sleep(time.Millisecond)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(fmt.Sprintf("/proc/self/fd/%d", segmentFD(seg)), &st); err != nil {
		return err
	}
	r.Dev, r.Ino = st.Dev, st.Ino
	c.Progress(r)
	time.Sleep(time.Hour)
	return nil
}

// segmentFD finds the descriptor of seg's memfd through /proc.
func segmentFD(seg *segment.Segment) int {
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, e := range fds {
		link, _ := os.Readlink("/proc/self/fd/" + e.Name())
		if strings.HasPrefix(link, "/memfd:posixshm") {
			var n int
			fmt.Sscan(e.Name(), &n)
			return n
		}
	}
	return -1
}

func anonChild(c *harness.Child) error {
	seg, err := segment.Inherited()
	if err != nil {
		return err
	}
	a, err := alloc.Of(seg)
	if err != nil {
		return err
	}
	if _, err := a.Alloc(1000); err != nil {
		return err
	}
	off, _ := seg.Heap()
	counter, err := segment.At[atomic.Uint64](seg, off+segment.Offset(c.IntArg("counter")))
	if err != nil {
		return err
	}
	counter.Add(1)
	time.Sleep(time.Hour)
	return nil
}

// TestAnonymousSegmentLeavesNothing: a parent process creates an anonymous
// segment and starts two children on it; all three are SIGKILLed; no file is
// left in /dev/shm and no process still holds the memory.
func TestAnonymousSegmentLeavesNothing(t *testing.T) {
	before, _ := filepath.Glob("/dev/shm/*")
	g := harness.Start(t, "anon-parent", "", 1, nil)
	waitFor(t, "children attached", func() bool { return g.Progress(0) != nil || g.Exited(0) })
	if g.Exited(0) {
		t.Fatalf("parent exited: %+v", g.Wait())
	}
	var r anonReport
	harness.Decode(t, g.Progress(0), &r)
	if !holdsInode(r.Parent, r.Dev, r.Ino) {
		t.Fatal("cannot see the parent's memfd: the check below would prove nothing")
	}
	for _, pid := range r.Children {
		if !holdsInode(pid, r.Dev, r.Ino) {
			t.Fatalf("child %d does not hold the segment", pid)
		}
		syscall.Kill(pid, syscall.SIGKILL)
	}
	g.Kill(0)
	g.Wait()
	waitFor(t, "processes gone", func() bool {
		for _, pid := range append(r.Children, r.Parent) {
			if holdsInode(pid, r.Dev, r.Ino) {
				return false
			}
		}
		return true
	})
	var holders []string
	procs, _ := filepath.Glob("/proc/[0-9]*")
	for _, p := range procs {
		var pid int
		fmt.Sscan(filepath.Base(p), &pid)
		if holdsInode(pid, r.Dev, r.Ino) {
			holders = append(holders, p)
		}
	}
	if len(holders) > 0 {
		t.Fatalf("the segment's memory is still held by %v", holders)
	}
	after, _ := filepath.Glob("/dev/shm/*")
	for _, f := range after {
		if !slices.Contains(before, f) && !isOtherTestsFile(f) {
			t.Errorf("file left in /dev/shm: %s", f)
		}
	}
}

// isOtherTestsFile skips segments of tests running in parallel packages.
func isOtherTestsFile(path string) bool {
	return strings.HasPrefix(filepath.Base(path), "psm-")
}

// holdsInode reports whether process pid has a descriptor or mapping of the
// file (dev, ino).
func holdsInode(pid int, dev, ino uint64) bool {
	fds, _ := filepath.Glob(fmt.Sprintf("/proc/%d/fd/*", pid))
	for _, fd := range fds {
		var st syscall.Stat_t
		if syscall.Stat(fd, &st) == nil && st.Dev == dev && st.Ino == ino {
			return true
		}
	}
	maps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	return len(maps) > 0 && containsInode(string(maps), ino)
}

func containsInode(maps string, ino uint64) bool {
	needle := fmt.Sprintf(" %d ", ino)
	for _, line := range strings.Split(maps, "\n") {
		if strings.Contains(line, needle) && strings.Contains(line, "memfd:posixshm") {
			return true
		}
	}
	return false
}
