package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/array"
	"github.com/posixshm/posixshm/bitset"
	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/stack"
)

// binary is the shmctl built by TestMain; the tests drive it as users do.
var shmctlBin string

const childEnv = "SHMCTL_TEST_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(childEnv); path != "" {
		os.Exit(child(path))
	}
	dir, err := os.MkdirTemp("", "shmctl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shmctlBin = filepath.Join(dir, "shmctl")
	out, err := exec.Command("go", "build", "-o", shmctlBin, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// child attaches to the segment at path, starts operations that it never
// finishes (an unpublished allocation, a queue cell claimed for a push),
// says "ready" and waits to be killed.
func child(path string) int {
	seg, err := segment.OpenFile(path)
	if err != nil {
		fmt.Println("child:", err)
		return 1
	}
	al, err := alloc.Of(seg)
	if err != nil {
		fmt.Println("child:", err)
		return 1
	}
	if _, err := al.Alloc(100); err != nil {
		fmt.Println("child:", err)
		return 1
	}
	q, err := queue.Open[string](seg, "jobs")
	if err != nil {
		fmt.Println("child:", err)
		return 1
	}
	q.PushFunc(4, func(b []byte) {
		copy(b, "half")
		fmt.Println("ready")
		select {} // killed here, holding the cell
	})
	return 1
}

// run runs the built shmctl and returns its stdout, stderr and exit status.
func runShmctl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(shmctlBin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("shmctl %s: %v", strings.Join(args, " "), err)
	}
	if strings.Contains(stderr.String(), "panic") || strings.Contains(stderr.String(), "goroutine ") {
		t.Fatalf("shmctl %s panicked:\n%s", strings.Join(args, " "), stderr.String())
	}
	return stdout.String(), stderr.String(), code
}

// mustRun runs shmctl and fails the test unless it exits with want.
func mustRun(t *testing.T, want int, args ...string) string {
	t.Helper()
	out, errOut, code := runShmctl(t, args...)
	if code != want {
		t.Fatalf("shmctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, want, out, errOut)
	}
	return out
}

type event struct {
	Kind string `cbor:"kind"`
	N    int    `cbor:"n"`
}

// makeSegment creates a file-backed segment in a temporary directory with
// one object of every kind, closes it, and returns its path.
func makeSegment(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "demo.shm")
	seg, err := segment.CreateFile(path, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	q, err := queue.New[string](seg, "jobs", queue.Capacity(8))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"resize img-1", "resize img-2", "send mail"} {
		if err := q.Push(s); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := queue.New[event](seg, "events", queue.Capacity(4))
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Push(event{Kind: "login", N: 1}); err != nil {
		t.Fatal(err)
	}
	st, err := stack.New[int64](seg, "undo", stack.Capacity(16))
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(3) {
		if err := st.Push(10 * (i + 1)); err != nil {
			t.Fatal(err)
		}
	}
	m, err := hashmap.New[string, any](seg, "config", hashmap.MaxEntries(64))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Store("mode", "fast"); err != nil {
		t.Fatal(err)
	}
	if err := m.Store("limits", map[string]any{"cpu": 2, "mem": "1G"}); err != nil {
		t.Fatal(err)
	}
	b, err := bitset.New(seg, "flags", 128)
	if err != nil {
		t.Fatal(err)
	}
	b.Set(3)
	b.Set(64)
	a, err := array.New[float64](seg, "temps", 4)
	if err != nil {
		t.Fatal(err)
	}
	a.Store(0, 21.5)
	a.Store(3, -4)
	return path
}

func fileBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
