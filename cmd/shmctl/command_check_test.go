package main

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/posixshm/posixshm/segment"
)

func TestCheckCleanSegment(t *testing.T) {
	path := makeSegment(t)
	out := mustRun(t, 0, "check", path)
	if !strings.Contains(out, "0 problems found") {
		t.Fatalf("check of a sound segment:\n%s", out)
	}
}

// TestCheckKilledWriter kills a process holding an allocation and a
// claimed queue cell: check reports it, recover repairs it, check passes.
func TestCheckKilledWriter(t *testing.T) {
	path := makeSegment(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q", line)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	out := mustRun(t, 2, "check", path)
	for _, want := range []string{"died without closing", "queue \"jobs\"", "run recover", "problems found"} {
		if !strings.Contains(out, want) {
			t.Errorf("check after a kill lacks %q:\n%s", want, out)
		}
	}
	info := mustRun(t, 0, "info", path)
	if !strings.Contains(info, "dead (run shmctl recover)") {
		t.Errorf("info does not show the dead process:\n%s", info)
	}
	rec := mustRun(t, 0, "recover", path)
	if !strings.Contains(rec, "1 dead processes found") || !strings.Contains(rec, "recycled 1 cells") {
		t.Errorf("recover output:\n%s", rec)
	}
	out = mustRun(t, 0, "check", path)
	if !strings.Contains(out, "0 problems found") {
		t.Fatalf("check after recover:\n%s", out)
	}
	// The three items pushed before survive; the half-done push is lost.
	dump := mustRun(t, 0, "dump", path, "jobs")
	if !strings.Contains(dump, "(3 items") {
		t.Errorf("dump after recover:\n%s", dump)
	}
}

// TestCheckCorrupt flips bytes in an object's header and in the heap:
// check reports problems and nothing panics.
func TestCheckCorrupt(t *testing.T) {
	path := makeSegment(t)
	seg, err := segment.OpenFile(path, segment.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	objs := map[string]segment.Object{}
	for _, o := range seg.Objects() {
		objs[o.Name] = o
	}
	heapOff, _ := seg.Heap()
	seg.Close()
	b := fileBytes(t, path)
	b[objs["jobs"].Offset] ^= 0xff           // queue magic
	b[objs["undo"].Offset+16] ^= 0x40        // stack capacity
	b[objs["config"].Offset+128+8*3] ^= 0xff // a map slot word
	b[uint64(heapOff)+64+8] ^= 0x10          // a size class's counters
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, 2, "check", path)
	for _, want := range []string{"queue", "stack", "problems found"} {
		if !strings.Contains(out, want) {
			t.Errorf("check of a corrupt segment lacks %q:\n%s", want, out)
		}
	}
	// Every other command copes too.
	runShmctl(t, "info", path)
	runShmctl(t, "info", "--json", path)
	for name := range objs {
		runShmctl(t, "dump", path, name)
	}
	runShmctl(t, "watch", "--count", "2", "--interval", "10ms", path)
	runShmctl(t, "ls", path)

	// A corrupt segment header: check reports it, still without panicking.
	b[60] ^= 0xff
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, 2, "check", path)
	if !strings.Contains(out, "corrupt") {
		t.Errorf("check of a corrupt header:\n%s", out)
	}
}
