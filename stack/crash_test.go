package stack

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"testing"

	"github.com/posixshm/posixshm/segment"
)

// Precise-point crash tests: a child process (this test binary) is killed
// by SIGKILL at each of the points crashHook names, in the middle of a
// Push or a Pop, and the parent checks that the survivors see exactly what
// repair.go promises: nothing stalls, the item is on the stack or counted
// lost, and Lost counts only the pop that had taken its item.

const (
	envCrashPoint = "PSHM_STACK_CRASH_POINT"
	envCrashSeg   = "PSHM_STACK_CRASH_SEG"
	envCrashKind  = "PSHM_STACK_CRASH_KIND"
)

// TestCrashChild is the body of the child process.
func TestCrashChild(t *testing.T) {
	point, _ := strconv.Atoi(os.Getenv(envCrashPoint))
	if point == 0 {
		t.Skip("crash child process")
	}
	seg, err := segment.Open(os.Getenv(envCrashSeg))
	if err != nil {
		os.Exit(2)
	}
	crashHook = func(p int) {
		if p == point {
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
	}
	push := point == hookPushClaimed || point == hookPushPublished
	switch os.Getenv(envCrashKind) {
	case "int64":
		s, err := Open[int64](seg, "c")
		if err != nil {
			os.Exit(3)
		}
		if push {
			s.Push(99)
		} else {
			s.Pop()
		}
	case "string":
		s, err := Open[string](seg, "c")
		if err != nil {
			os.Exit(3)
		}
		if push {
			s.Push("v99")
		} else {
			s.Pop()
		}
	}
	os.Exit(4) // the hook did not fire
}

func TestCrashPoints(t *testing.T) {
	t.Run("int64", func(t *testing.T) {
		crashPoints(t, "int64", func(i int) int64 { return int64(i) })
	})
	t.Run("string", func(t *testing.T) {
		crashPoints(t, "string", func(i int) string { return "v" + strconv.Itoa(i) })
	})
}

func crashPoints[T comparable](t *testing.T, kind string, val func(int) T) {
	cases := []struct {
		name  string
		point int
		// after the crash, with 1 and 2 pushed before it (the pop cases)
		// or only 1 (the push cases):
		wantLen  int
		wantPops []int // what draining the stack yields, top first
		wantLost uint64
	}{
		{"push-claimed", hookPushClaimed, 1, []int{1}, 0},         // push never happened
		{"push-published", hookPushPublished, 2, []int{99, 1}, 0}, // push happened
		{"pop-claimed", hookPopClaimed, 2, []int{2, 1}, 0},        // pop never happened
		{"pop-moved", hookPopMoved, 1, []int{1}, 1},               // pop took the item: lost
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name := fmt.Sprintf("/psm-stack-crash-%d-%x", os.Getpid(), rand.Uint64())
			seg, err := segment.Create(name, 4<<20)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { seg.Close(); segment.Remove(name) })
			s, err := New[T](seg, "c", Capacity(4))
			if err != nil {
				t.Fatal(err)
			}
			s.Push(val(1))
			if c.point == hookPopClaimed || c.point == hookPopMoved {
				s.Push(val(2))
			}
			cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
			cmd.Env = append(os.Environ(), envCrashPoint+"="+strconv.Itoa(c.point), envCrashSeg+"="+name, envCrashKind+"="+kind)
			err = cmd.Run()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
				t.Fatalf("child: %v, want killed by SIGKILL", err)
			}
			if n := s.Len(); n != c.wantLen {
				t.Fatalf("Len after the crash = %d, want %d", n, c.wantLen)
			}
			if c.point == hookPushPublished {
				// Peek takes a published cell whose pusher died as complete.
				if v, err := s.Peek(); err != nil || v != val(99) {
					t.Fatalf("Peek = %v, %v, want %v", v, err, val(99))
				}
			}
			// A push at the crashed height settles the dead claim first.
			if err := s.Push(val(7)); err != nil {
				t.Fatalf("Push after the crash: %v (stats %+v)", err, s.Stats())
			}
			if v, err := s.Pop(); err != nil || v != val(7) {
				t.Fatalf("Pop = %v, %v, want %v", v, err, val(7))
			}
			for _, w := range c.wantPops {
				if v, err := s.Pop(); err != nil || v != val(w) {
					t.Fatalf("Pop = %v, %v, want %v (stats %+v)", v, err, val(w), s.Stats())
				}
			}
			if _, err := s.Pop(); !errors.Is(err, ErrEmpty) {
				t.Fatalf("stack not empty at the end: %v", err)
			}
			if st := s.Stats(); st.Lost != c.wantLost {
				t.Fatalf("Lost = %d, want %d", st.Lost, c.wantLost)
			}
			// The dead attachment is released by Recover, and the stack
			// keeps working for a full round.
			if _, err := seg.Recover(); err != nil {
				t.Fatal(err)
			}
			for i := range 4 {
				if err := s.Push(val(i)); err != nil {
					t.Fatal(err)
				}
			}
			for i := 3; i >= 0; i-- {
				if v, err := s.Pop(); err != nil || v != val(i) {
					t.Fatalf("round: Pop = %v, %v, want %v", v, err, val(i))
				}
			}
		})
	}
}
