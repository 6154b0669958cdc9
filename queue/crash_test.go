package queue_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/alloc/alloctest"
	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
)

// Crash-point tests: a child process (this test binary) is SIGKILLed at
// one chosen instruction of an operation (queue.go's crashHook points),
// and the parent checks the accounting repair.go promises once the dead
// process is recovered: every item the killed process held inside the
// queue is either still there (delivered by the drain) or counted in
// Stats().Lost, exactly once, and nothing is delivered twice. So
//
//	delivered + Lost == pushed
//
// where pushed counts the pushes that got past their publish: the
// parent's, which returned nil, and a killed push's only if it was killed
// after publishing (the one window on the producer's side that belongs
// to the caller; see the package documentation).

const envPoint = "PSHM_QUEUE_POINT"

// crashStep is one child process: it runs op on the queue "c" of kind
// and kills itself the nth time it reaches point (0: op kills itself).
type crashStep struct {
	op    string // pop, popbatch, popfunc, popwait, push, pushfunc, repair
	point int
	nth   int
}

func (s crashStep) String() string { return fmt.Sprintf("%s@%d#%d", s.op, s.point, s.nth) }

// TestCrashPointChild is the body of the child process.
func TestCrashPointChild(t *testing.T) {
	env := os.Getenv(envPoint)
	if env == "" {
		t.Skip("crash child process")
	}
	f := strings.Split(env, ",")
	op, kind, name := f[0], f[3], f[4]
	point, _ := strconv.Atoi(f[1])
	nth, _ := strconv.Atoi(f[2])
	die := func() { syscall.Kill(os.Getpid(), syscall.SIGKILL); select {} }
	seen := 0
	queue.SetCrashHook(func(p int) {
		if p == point {
			if seen++; seen == max(nth, 1) {
				die()
			}
		}
	})
	seg, err := segment.Open(name) // runs a recovery: the "repair" step dies in it
	if err != nil {
		os.Exit(2)
	}
	if op == "repair" {
		queue.RepairCells(seg, "c") // the old code's settler; the new one settled in Open
		os.Exit(4)
	}
	switch kind {
	case "int64":
		childOp(op, openQ[int64](seg), 99, die)
	case "string":
		childOp(op, openQ[string](seg), "v99", die)
	case "long":
		childOp(op, openQ[string](seg), longValue(99), die)
	}
	os.Exit(4) // the hook did not fire
}

func openQ[T any](seg *segment.Segment) *queue.Queue[T] {
	q, err := queue.Open[T](seg, "c")
	if err != nil {
		os.Exit(3)
	}
	return q
}

func childOp[T any](op string, q *queue.Queue[T], v T, die func()) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	switch op {
	case "pop":
		q.Pop()
	case "popbatch":
		q.PopBatch(make([]T, 3))
	case "popfunc":
		q.PopFunc(func([]byte) error { die(); return nil })
	case "popwait":
		q.PopWait(ctx)
	case "push":
		q.Push(v)
	case "pushfunc":
		// Killed with its cell claimed and half written: what any inline
		// push (the word push too) leaves if killed before its publish.
		q.PushFunc(8, func(b []byte) { copy(b, "half"); die() })
	}
}

// longValue is a string that spills out of a 16-byte slot.
func longValue(i int) string { return fmt.Sprintf("%03d", i) + strings.Repeat("x", 100) }

func runStep(t *testing.T, seg *segment.Segment, kind string, s crashStep) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCrashPointChild$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s,%d,%d,%s,%s", envPoint, s.op, s.point, s.nth, kind, seg.Name()))
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child %v: %v, want killed by SIGKILL\n%s", s, err, out)
	}
}

type crashCase struct {
	name  string
	kind  string // int64 (the word path), string (inline), long (spilled)
	pre   int    // items 1..pre pushed by the parent first
	steps []crashStep
	// after the crash and a recovery:
	wantLost    uint64
	childPushed bool // the killed push took effect (killed after its publish)
	childPopped int  // items the killed pop had released: the caller's, neither delivered here nor lost
	repairCells bool // the parent runs RepairCells before draining
}

var crashCases = []crashCase{
	// A consumer killed between claiming an item and releasing its cell:
	// the item counts lost, also when no later operation reaches its cell.
	// (The word Pop of an int64 never claims: it takes the item and frees
	// the cell in one CAS, after which the item is the caller's.)
	{name: "pop/value", kind: "string", pre: 3, steps: []crashStep{{"pop", queue.HookPopClaimed, 1}}, wantLost: 1},
	{name: "pop/spilled", kind: "long", pre: 3, steps: []crashStep{{"pop", queue.HookPopClaimed, 1}}, wantLost: 1},
	{name: "popfunc/in-fn", kind: "string", pre: 3, steps: []crashStep{{"popfunc", 0, 1}}, wantLost: 1},
	{name: "popfunc/word-in-fn", kind: "int64", pre: 3, steps: []crashStep{{"popfunc", 0, 1}}, wantLost: 1},
	{name: "popfunc/spilled-in-fn", kind: "long", pre: 3, steps: []crashStep{{"popfunc", 0, 1}}, wantLost: 1},
	// A consumer killed after releasing a spilled item's cell, before
	// freeing its block: the item is the caller's, and the block, adopted
	// before the release, is freed by recovery (nothing leaks).
	{name: "pop/spilled-released", kind: "long", pre: 3, steps: []crashStep{{"pop", queue.HookPopReleased, 1}}, childPopped: 1},
	{name: "popwait", kind: "string", steps: []crashStep{{"popwait", queue.HookPopClaimed, 1}}, wantLost: 1},
	// PopBatch returns its items together: killed after taking two of
	// three, both count lost.
	{name: "popbatch/word", kind: "int64", pre: 4, steps: []crashStep{{"popbatch", queue.HookBatchClaimed, 2}}, wantLost: 2},
	{name: "popbatch/value", kind: "string", pre: 4, steps: []crashStep{{"popbatch", queue.HookBatchClaimed, 2}}, wantLost: 2},
	{name: "popbatch/spilled", kind: "long", pre: 4, steps: []crashStep{{"popbatch", queue.HookBatchClaimed, 2}}, wantLost: 2},
	// A producer killed before its publish pushed nothing: nothing
	// delivered, nothing counted.
	{name: "push/word-claimed", kind: "int64", pre: 2, steps: []crashStep{{"pushfunc", 0, 1}}},
	{name: "push/value-claimed", kind: "string", pre: 2, steps: []crashStep{{"pushfunc", 0, 1}}},
	{name: "push/spilled-claimed", kind: "long", pre: 2, steps: []crashStep{{"push", queue.HookPushClaimed, 1}}},
	{name: "push/spilled-written", kind: "long", pre: 2, steps: []crashStep{{"push", queue.HookPushWritten, 1}}},
	{name: "push/claimed-repaircells", kind: "string", pre: 2, steps: []crashStep{{"pushfunc", 0, 1}}, repairCells: true},
	// Killed after its publish, it pushed: the item is delivered.
	{name: "push/published", kind: "long", pre: 2, steps: []crashStep{{"push", queue.HookPushPublished, 1}}, childPushed: true},
	// The process settling a dead consumer's item dies too, at each step
	// of the settling; and the one settling that one dies as well.
	{name: "settler/marked", kind: "string", pre: 3, steps: []crashStep{{"pop", queue.HookPopClaimed, 1}, {"repair", queue.HookLostMarked, 1}}, wantLost: 1},
	{name: "settler/marked-spilled", kind: "long", pre: 3, steps: []crashStep{{"pop", queue.HookPopClaimed, 1}, {"repair", queue.HookLostMarked, 1}}, wantLost: 1},
	{name: "settler/counted", kind: "string", pre: 3, steps: []crashStep{{"pop", queue.HookPopClaimed, 1}, {"repair", queue.HookLostCounted, 1}}, wantLost: 1},
	{name: "settler/freed", kind: "long", pre: 3, steps: []crashStep{{"pop", queue.HookPopClaimed, 1}, {"repair", queue.HookLostFreed, 1}}, wantLost: 1},
	{name: "settler/settler-taken", kind: "long", pre: 3, steps: []crashStep{
		{"pop", queue.HookPopClaimed, 1}, {"repair", queue.HookLostMarked, 1}, {"repair", queue.HookSettleTaken, 1}}, wantLost: 1},
	{name: "settler/word-batch", kind: "int64", pre: 4, steps: []crashStep{
		{"popbatch", queue.HookBatchClaimed, 3}, {"repair", queue.HookLostCounted, 2}}, wantLost: 3},
}

func TestCrashPoints(t *testing.T) {
	for _, c := range crashCases {
		t.Run(c.name, func(t *testing.T) {
			switch c.kind {
			case "int64":
				crashPoint(t, c, func(i int) int64 { return int64(i) })
			case "string":
				crashPoint(t, c, func(i int) string { return "v" + strconv.Itoa(i) })
			case "long":
				crashPoint(t, c, longValue)
			}
		})
	}
}

func crashPoint[T comparable](t *testing.T, c crashCase, val func(int) T) {
	seg := newSeg(t, 8<<20)
	q, err := queue.New[T](seg, "c", queue.Capacity(8), queue.SlotSize(16))
	if err != nil {
		t.Fatal(err)
	}
	al, err := alloc.Of(seg)
	if err != nil {
		t.Fatal(err)
	}
	pushed := map[T]bool{}
	for i := 1; i <= c.pre; i++ {
		if err := q.Push(val(i)); err != nil {
			t.Fatal(err)
		}
		pushed[val(i)] = true
	}
	for _, s := range c.steps {
		if s.op != "popwait" {
			runStep(t, seg, c.kind, s)
			continue
		}
		// The child sleeps in PopWait; push once it is counted as a waiter.
		done := make(chan struct{})
		go func() {
			defer close(done)
			runStep(t, seg, c.kind, s)
		}()
		deadline := time.Now().Add(20 * time.Second)
		for q.Stats().PopWaiters == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if err := q.Push(val(1)); err != nil {
			t.Fatal(err)
		}
		pushed[val(1)] = true
		<-done
	}
	if c.childPushed {
		pushed[val(99)] = true
	}
	rep, err := seg.Recover()
	if err != nil || len(rep.Errors) > 0 || rep.Unhandled > 0 {
		t.Fatalf("Recover = %+v, %v", rep, err)
	}
	if c.repairCells {
		if _, err := queue.RepairCells(seg, "c"); err != nil {
			t.Fatal(err)
		}
	}
	var delivered []T
	for {
		v, err := q.Pop()
		if errors.Is(err, queue.ErrEmpty) {
			break
		}
		if err != nil {
			t.Fatalf("Pop after the crash: %v (stats %+v)", err, q.Stats())
		}
		delivered = append(delivered, v)
	}
	st := q.Stats()
	seen := map[T]bool{}
	for _, v := range delivered {
		if !pushed[v] || seen[v] {
			t.Errorf("delivered %v: never pushed or delivered twice (delivered %v)", v, delivered)
		}
		seen[v] = true
	}
	if uint64(len(delivered)+c.childPopped)+st.Lost != uint64(len(pushed)) || st.Lost != c.wantLost {
		t.Errorf("delivered %d %v + Lost %d, want %d pushed and Lost %d (stats %+v)", len(delivered), delivered, st.Lost, len(pushed), c.wantLost, st)
	}
	if st.PopWaiters != 0 || st.PushWaiters != 0 {
		t.Errorf("waiters left counted: %+v", st)
	}
	// Nothing leaked: with the queue empty, its own block is the only one
	// in use, and the heap is consistent.
	if as := al.Stats(); as.Allocs-as.Frees != 1 {
		t.Errorf("%d blocks in use after draining, want 1 (the queue's own): %+v", as.Allocs-as.Frees, as)
	}
	if r := al.Check(); len(r.Problems) > 0 {
		t.Errorf("heap check: %v", r.Problems)
	}
	if probs := queue.Check(seg, mustLookup(t, seg, "c")); len(probs) > 0 {
		t.Errorf("queue check: %v", probs)
	}
	// The queue keeps working, FIFO, for laps round the ring.
	for lap := range 3 {
		var want []T
		for i := range 8 {
			v := val(1000 + lap*8 + i)
			if err := q.Push(v); err != nil {
				t.Fatalf("lap %d push %d: %v (stats %+v)", lap, i, err, q.Stats())
			}
			want = append(want, v)
		}
		var got []T
		for range 8 {
			v, err := q.Pop()
			if err != nil {
				t.Fatalf("lap %d: Pop: %v", lap, err)
			}
			got = append(got, v)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("lap %d: popped %v, want %v", lap, got, want)
		}
	}
	if st := q.Stats(); st.Lost != c.wantLost {
		t.Errorf("Lost %d after more laps, want %d", st.Lost, c.wantLost)
	}
}

func mustLookup(t *testing.T, seg *segment.Segment, name string) segment.Object {
	t.Helper()
	obj, err := seg.Lookup(name)
	if err != nil {
		t.Fatal(err)
	}
	return obj
}

// TestRecoverInSlotClaim: the dead process's slot is repaired by a process
// attaching to the segment (segment.Open repairs the slot it is about to
// take before it holds one). A dead consumer's item is counted, and a
// spill block freed, under the dead attachment's name (alloc.ActingFor),
// with or without a spare slot in the registry (ProcessSlots 2: the
// parent's and the dead one's).
func TestRecoverInSlotClaim(t *testing.T) {
	pop, push := crashStep{"pop", queue.HookPopClaimed, 1}, crashStep{"push", queue.HookPushWritten, 1}
	for _, c := range []struct {
		name  string
		kind  string
		step  crashStep
		slots int
		lost  uint64
	}{
		{"inline", "string", pop, 0, 1},
		{"spilled", "long", pop, 0, 1},
		{"spilled/no-spare-slot", "long", pop, 2, 1},
		{"inline/no-spare-slot", "string", pop, 2, 1},
		{"spilled-push", "long", push, 0, 0}, // the intent's repair frees the block
		{"spilled-push/no-spare-slot", "long", push, 2, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			var opts []segment.Option
			if c.slots > 0 {
				opts = append(opts, segment.ProcessSlots(c.slots))
			}
			seg := alloctest.NewSegment(t, 8<<20, opts...)
			q, err := queue.New[string](seg, "c", queue.Capacity(8), queue.SlotSize(16))
			if err != nil {
				t.Fatal(err)
			}
			val := func(i int) string { return "v" + strconv.Itoa(i) }
			if c.kind == "long" {
				val = longValue
			}
			for i := 1; i <= 3; i++ {
				if err := q.Push(val(i)); err != nil {
					t.Fatal(err)
				}
			}
			runStep(t, seg, c.kind, c.step)
			other := reopen(t, seg) // repairs the dead slot while claiming it
			rep := other.AttachReport()
			if len(rep.Errors) > 0 || rep.DeadProcesses != 1 {
				t.Errorf("attach report %+v: want 1 dead process repaired, no error", rep)
			}
			if st := q.Stats(); st.Lost != c.lost {
				t.Errorf("Lost = %d after the attach, want %d", st.Lost, c.lost)
			}
			for range 3 - c.lost {
				if _, err := q.Pop(); err != nil {
					t.Fatal(err)
				}
			}
			al, err := alloc.Of(seg)
			if err != nil {
				t.Fatal(err)
			}
			// Repairs run before the attaching process held a slot free
			// spill blocks under the dead name (alloc.ActingFor): nothing
			// leaks, with or without a spare slot.
			if r := al.Check(); len(r.Problems) > 0 || r.Owned != 0 || r.Published != 1 {
				t.Errorf("heap after the repairs: %+v, want only the queue's own block", r)
			}
		})
	}
}
