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
	envCrashOp    = "PSHM_STACK_CRASH_OP"  // "repair": settle dead processes' cells (Open, RepairCells)
	envCrashNth   = "PSHM_STACK_CRASH_NTH" // die the nth time point is reached (default 1)
)

// TestCrashChild is the body of the child process.
func TestCrashChild(t *testing.T) {
	point, _ := strconv.Atoi(os.Getenv(envCrashPoint))
	if point == 0 {
		t.Skip("crash child process")
	}
	nth, _ := strconv.Atoi(os.Getenv(envCrashNth))
	seen := 0
	crashHook = func(p int) {
		if p == point {
			if seen++; seen >= nth {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {}
			}
		}
	}
	seg, err := segment.Open(os.Getenv(envCrashSeg)) // runs a recovery: a "repair" child may die in it
	if err != nil {
		os.Exit(2)
	}
	if os.Getenv(envCrashOp) == "repair" {
		RepairCells(seg, "c")
		os.Exit(4)
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
			seg, s := crashStack[T](t)
			name := seg.Name()
			s.Push(val(1))
			if c.point == hookPopClaimed || c.point == hookPopMoved {
				s.Push(val(2))
			}
			runCrashChild(t, name, kind, "", c.point)
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

// TestCrashAccounting: a child is killed at each point of a Push or a Pop,
// and in the settler cases a second child, settling the first one's
// leftovers, is killed at each point of its settling too (and a third,
// settling the second). After a recovery and a drain by Pops alone (no
// push reaches the crashed height), every item is delivered once or
// counted lost once: delivered + Lost = pushed, where pushed counts the
// parent's pushes and the child's if it got past its CAS on top.
func TestCrashAccounting(t *testing.T) {
	for _, c := range acctCases {
		t.Run(c.name+"/int64", func(t *testing.T) {
			crashAccounting(t, c, "int64", func(i int) int64 { return int64(i) })
		})
		t.Run(c.name+"/string", func(t *testing.T) {
			crashAccounting(t, c, "string", func(i int) string { return "v" + strconv.Itoa(i) })
		})
	}
}

type acctStep struct {
	op    string // push, pop, repair
	point int
}

type acctCase struct {
	name        string
	pre         int // items 1..pre pushed first
	steps       []acctStep
	wantLost    uint64
	childPushed bool // the child's push (of 99) took effect
}

var acctCases = []acctCase{
	{"pop-moved", 2, []acctStep{{"pop", hookPopMoved}}, 1, false},
	{"pop-claimed", 2, []acctStep{{"pop", hookPopClaimed}}, 0, false},
	{"push-claimed", 1, []acctStep{{"push", hookPushClaimed}}, 0, false},
	{"push-published", 1, []acctStep{{"push", hookPushPublished}}, 0, true},
	{"settler-marked", 2, []acctStep{{"pop", hookPopMoved}, {"repair", hookLostMarked}}, 1, false},
	{"settler-counted", 2, []acctStep{{"pop", hookPopMoved}, {"repair", hookLostCounted}}, 1, false},
	{"settler-freed", 2, []acctStep{{"pop", hookPopMoved}, {"repair", hookLostFreed}}, 1, false},
	{"settler-settler", 2, []acctStep{{"pop", hookPopMoved}, {"repair", hookLostMarked}, {"repair", hookSettleTaken}}, 1, false},
}

// crashStack creates a uniquely named segment, removed when the test ends,
// holding the stack "c" of capacity 4 that the crash children open.
func crashStack[T any](t *testing.T) (*segment.Segment, *Stack[T]) {
	t.Helper()
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
	return seg, s
}

// runCrashChild runs TestCrashChild on the segment called name, doing op
// (a push or pop as point says, or "repair") on a stack of kind, and
// checks that it died by SIGKILL at point.
func runCrashChild(t *testing.T, name, kind, op string, point int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
	cmd.Env = append(os.Environ(), envCrashPoint+"="+strconv.Itoa(point), envCrashSeg+"="+name,
		envCrashKind+"="+kind, envCrashOp+"="+op)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child %s at %d: %v, want killed by SIGKILL\n%s", op, point, err, out)
	}
}

func crashAccounting[T comparable](t *testing.T, c acctCase, kind string, val func(int) T) {
	seg, s := crashStack[T](t)
	pushed := map[T]bool{}
	for i := 1; i <= c.pre; i++ {
		if err := s.Push(val(i)); err != nil {
			t.Fatal(err)
		}
		pushed[val(i)] = true
	}
	for _, st := range c.steps {
		runCrashChild(t, seg.Name(), kind, st.op, st.point)
	}
	if c.childPushed {
		pushed[val(99)] = true
	}
	rep, err := seg.Recover()
	if err != nil || len(rep.Errors) > 0 {
		t.Fatalf("Recover = %+v, %v", rep, err)
	}
	var delivered []T
	for {
		v, err := s.Pop()
		if errors.Is(err, ErrEmpty) {
			break
		}
		if err != nil {
			t.Fatalf("Pop after the crash: %v (stats %+v)", err, s.Stats())
		}
		delivered = append(delivered, v)
	}
	seen := map[T]bool{}
	for _, v := range delivered {
		if seen[v] || !pushed[v] {
			t.Errorf("delivered %v: never pushed or twice (all %v)", v, delivered)
		}
		seen[v] = true
	}
	st := s.Stats()
	if uint64(len(delivered))+st.Lost != uint64(len(pushed)) || st.Lost != c.wantLost {
		t.Errorf("delivered %v + Lost %d, want %d pushed and Lost %d (stats %+v)", delivered, st.Lost, len(pushed), c.wantLost, st)
	}
	// The stack keeps working for a full round, and Lost stays put. (The
	// round's pushes also recycle a dead pusher's claim above the top,
	// which holds no item and which recovery leaves to them.)
	for i := range 4 {
		if err := s.Push(val(100 + i)); err != nil {
			t.Fatalf("round: Push: %v (stats %+v)", err, s.Stats())
		}
	}
	for i := 3; i >= 0; i-- {
		if v, err := s.Pop(); err != nil || v != val(100+i) {
			t.Fatalf("round: Pop = %v, %v, want %v", v, err, val(100+i))
		}
	}
	if got := s.Stats().Lost; got != c.wantLost {
		t.Errorf("Lost %d after a round, want %d", got, c.wantLost)
	}
	obj, err := seg.Lookup("c")
	if err != nil {
		t.Fatal(err)
	}
	if probs := Check(seg, obj); len(probs) > 0 {
		t.Errorf("Check: %v", probs)
	}
}
