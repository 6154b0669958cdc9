package queue_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/codec"
	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
)

type Task struct {
	Name string
	ID   int
}

func TestPushPopInt64(t *testing.T) {
	seg := newSeg(t, 4<<20)
	q, err := queue.New[int64](seg, "q", queue.Capacity(5))
	if err != nil {
		t.Fatal(err)
	}
	if q.Cap() != 8 || !q.Empty() {
		t.Fatalf("Cap %d Empty %v", q.Cap(), q.Empty())
	}
	if _, err := q.Pop(); !errors.Is(err, queue.ErrEmpty) {
		t.Fatalf("Pop on empty: %v", err)
	}
	for round := range 3 {
		for i := range 8 {
			if err := q.Push(int64(round*100 + i)); err != nil {
				t.Fatal(err)
			}
		}
		if err := q.Push(99); !errors.Is(err, queue.ErrFull) || !q.Full() || q.Len() != 8 {
			t.Fatalf("Push on full: %v, Len %d", err, q.Len())
		}
		for i := range 8 {
			v, err := q.Pop()
			if err != nil || v != int64(round*100+i) {
				t.Fatalf("Pop = %d, %v; want %d", v, err, round*100+i)
			}
		}
	}
}

func TestElementTypes(t *testing.T) {
	seg := newSeg(t, 8<<20)
	tq, err := queue.New[Task](seg, "tasks", queue.Capacity(16))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 5000)
	for _, want := range []Task{{"process_data", 42}, {long, 7}} {
		if err := tq.Push(want); err != nil {
			t.Fatal(err)
		}
		got, err := tq.Pop()
		if err != nil || got != want {
			t.Fatalf("Pop = %v, %v", got.ID, err)
		}
	}
	mq, err := queue.New[map[string]any](seg, "maps")
	if err != nil {
		t.Fatal(err)
	}
	if err := mq.Push(map[string]any{"task": "x", "n": uint64(3)}); err != nil {
		t.Fatal(err)
	}
	m, err := mq.Pop()
	if err != nil || fmt.Sprint(m) != "map[n:3 task:x]" {
		t.Fatalf("map Pop = %v, %v", m, err)
	}
	bq, err := queue.New[[]byte](seg, "bytes", queue.SlotSize(16))
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 100000)
	for i := range big {
		big[i] = byte(i)
	}
	for _, want := range [][]byte{{}, []byte("hello"), big, make([]byte, 16), make([]byte, 17)} {
		if err := bq.Push(want); err != nil {
			t.Fatal(err)
		}
		got, err := bq.Pop()
		if err != nil || string(got) != string(want) {
			t.Fatalf("[]byte Pop len %d, %v; want len %d", len(got), err, len(want))
		}
	}
	// Zero-copy path, inline and spilled.
	for _, n := range []int{3, 16, 5000} {
		if err := bq.PushFunc(n, func(b []byte) {
			for i := range b {
				b[i] = byte(n + i)
			}
		}); err != nil {
			t.Fatal(err)
		}
		if err := bq.PopFunc(func(b []byte) error {
			if len(b) != n || (n > 0 && b[n-1] != byte(n+n-1)) {
				return fmt.Errorf("PopFunc got %d bytes", len(b))
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	small, err := queue.New[[]byte](seg, "small", queue.MaxValueSize(1000))
	if err != nil {
		t.Fatal(err)
	}
	if err := small.Push(make([]byte, 1001)); !errors.Is(err, queue.ErrTooLarge) {
		t.Fatalf("Push over MaxValueSize: %v", err)
	}
}

func TestAttachRules(t *testing.T) {
	seg := newSeg(t, 4<<20)
	if _, err := queue.Open[int64](seg, "nope"); !errors.Is(err, segment.ErrNotFound) {
		t.Fatalf("Open missing: %v", err)
	}
	q, err := queue.New[int64](seg, "q", queue.Capacity(64), queue.SlotSize(24))
	if err != nil {
		t.Fatal(err)
	}
	q.Push(5)
	seg2 := reopen(t, seg)
	q2, err := queue.Open[int64](seg2, "q")
	if err != nil || q2.Cap() != 64 || q2.SlotSize() != 24 {
		t.Fatalf("Open with zero options: %v", err)
	}
	if v, err := q2.Pop(); err != nil || v != 5 {
		t.Fatalf("Pop through second handle: %v %v", v, err)
	}
	for _, c := range []struct {
		name string
		fn   func() error
		want string
	}{
		{"type", func() error { _, err := queue.New[string](seg2, "q"); return err }, "raw-string"},
		{"capacity", func() error { _, err := queue.New[int64](seg2, "q", queue.Capacity(128)); return err }, "want capacity 128, found 64"},
		{"slot", func() error { _, err := queue.Open[int64](seg2, "q", queue.SlotSize(48)); return err }, "want slot size 48, found 24"},
		{"kind", func() error {
			_, _, err := seg2.FindOrCreate("arr", segment.Spec{Kind: segment.KindArray, Version: 1, Size: 64}, nopHeap{seg2}, func(segment.Object) error { return nil })
			if err != nil {
				return err
			}
			_, err = queue.Open[int64](seg2, "arr")
			return err
		}, "want queue v3"},
	} {
		err := c.fn()
		if !errors.Is(err, queue.ErrMismatch) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrMismatch mentioning %q", c.name, err, c.want)
		}
	}
	if _, err := queue.New[int64](seg, "bad", queue.Capacity(-1)); !errors.Is(err, queue.ErrInvalidOption) {
		t.Errorf("Capacity(-1): %v", err)
	}
}

// nopHeap places one test object at the start of the heap's free space via
// the real allocator would be nicer; a queue test only needs a foreign kind.
type nopHeap struct{ s *segment.Segment }

func (h nopHeap) Alloc(n uint64) (segment.Offset, error) {
	off, size := h.s.Heap()
	return off + segment.Offset(size) - 4096, nil
}
func (nopHeap) Publish(segment.Offset) error { return nil }
func (nopHeap) Free(segment.Offset) error    { return nil }

// TestModel compares a random sequence of operations with a slice.
func TestModel(t *testing.T) {
	seg := newSeg(t, 4<<20)
	q, err := queue.New[[]byte](seg, "m", queue.Capacity(16), queue.SlotSize(8))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var model [][]byte
	for i := range 20000 {
		switch rng.IntN(3) {
		case 0, 1:
			v := make([]byte, rng.IntN(20))
			for j := range v {
				v[j] = byte(rng.Uint32())
			}
			err := q.Push(v)
			if len(model) == 16 {
				if !errors.Is(err, queue.ErrFull) {
					t.Fatalf("op %d: Push on full: %v", i, err)
				}
			} else if err != nil {
				t.Fatalf("op %d: Push: %v", i, err)
			} else {
				model = append(model, v)
			}
		case 2:
			v, err := q.Pop()
			if len(model) == 0 {
				if !errors.Is(err, queue.ErrEmpty) {
					t.Fatalf("op %d: Pop on empty: %v", i, err)
				}
				continue
			}
			if err != nil || string(v) != string(model[0]) {
				t.Fatalf("op %d: Pop = %x, %v; want %x", i, v, err, model[0])
			}
			model = model[1:]
		}
		if q.Len() != len(model) {
			t.Fatalf("op %d: Len %d, model %d", i, q.Len(), len(model))
		}
	}
}

// TestHammer runs producers and consumers on separate handles (separate
// registry slots) and checks that every item arrives once, in per-producer
// order.
func TestHammer(t *testing.T) {
	for _, procs := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			hammer(t, 4, 4, 8)
		})
	}
}

func hammer(t *testing.T, producers, consumers, capacity int) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	seg := newSeg(t, 8<<20)
	if _, err := queue.New[uint64](seg, "h", queue.Capacity(capacity)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, producers+consumers)
	for p := range producers {
		h, _ := queue.Open[uint64](reopen(t, seg), "h")
		wg.Go(func() {
			for i := range n {
				if err := h.PushWait(ctx, uint64(p)<<32|uint64(i)); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	got := make([][]uint64, consumers)
	var mu sync.Mutex
	total := 0
	for c := range consumers {
		h, _ := queue.Open[uint64](reopen(t, seg), "h")
		wg.Go(func() {
			for {
				mu.Lock()
				done := total >= producers*n
				mu.Unlock()
				if done {
					return
				}
				if c%2 == 1 {
					// Odd consumers take batches while there are items:
					// PopBatch holds its claims until it returns.
					var buf [3]uint64
					if k, err := h.PopBatch(buf[:]); k > 0 {
						got[c] = append(got[c], buf[:k]...)
						mu.Lock()
						total += k
						mu.Unlock()
						continue
					} else if !errors.Is(err, queue.ErrEmpty) {
						errs <- err
						return
					}
				}
				cctx, ccancel := context.WithTimeout(ctx, 20*time.Millisecond)
				v, err := h.PopWait(cctx)
				ccancel()
				if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
					continue
				}
				if err != nil {
					errs <- err
					return
				}
				got[c] = append(got[c], v)
				mu.Lock()
				total++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	seen := make([][]bool, producers)
	for p := range seen {
		seen[p] = make([]bool, n)
	}
	for c, vs := range got {
		last := make([]int, producers)
		for p := range last {
			last[p] = -1
		}
		for _, v := range vs {
			p, i := int(v>>32), int(uint32(v))
			if seen[p][i] {
				t.Fatalf("item %d of producer %d delivered twice", i, p)
			}
			seen[p][i] = true
			if i <= last[p] {
				t.Fatalf("consumer %d: producer %d's item %d after %d", c, p, i, last[p])
			}
			last[p] = i
		}
	}
	for p := range seen {
		for i, ok := range seen[p] {
			if !ok {
				t.Fatalf("item %d of producer %d lost", i, p)
			}
		}
	}
}

// TestPopWaitWakes checks that a sleeping PopWait wakes on a push from
// another handle, many times in a row (a lost wake-up would stall a round
// until the 100 ms safety timeout, which the budget below notices).
func TestPopWaitWakes(t *testing.T) {
	seg := newSeg(t, 4<<20)
	q, _ := queue.New[int64](seg, "w")
	p, _ := queue.Open[int64](reopen(t, seg), "w")
	rounds := 300
	if testing.Short() {
		rounds = 50
	}
	slow := 0
	for i := range rounds {
		done := make(chan time.Duration)
		go func() {
			start := time.Now()
			v, err := q.PopWait(context.Background())
			if err != nil || v != int64(i) {
				t.Errorf("PopWait = %d, %v", v, err)
			}
			done <- time.Since(start)
		}()
		if i%2 == 0 {
			time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
		}
		if err := p.Push(int64(i)); err != nil {
			t.Fatal(err)
		}
		if d := <-done; d > 90*time.Millisecond {
			slow++
		}
	}
	if slow > rounds/20 {
		t.Errorf("%d of %d wake-ups took the 100 ms safety timeout: lost wake-ups", slow, rounds)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if _, err := q.PopWait(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("PopWait on empty with deadline: %v", err)
	}
	if st := q.Stats(); st.PopWaiters != 0 {
		t.Fatalf("PopWaiters = %d after waits ended", st.PopWaiters)
	}
}

func TestDrainAndBatch(t *testing.T) {
	seg := newSeg(t, 4<<20)
	q, _ := queue.New[int64](seg, "d", queue.Capacity(8))
	n, err := q.PushBatch([]int64{1, 2, 3, 4, 5, 6, 7, 8, 9})
	if n != 8 || !errors.Is(err, queue.ErrFull) {
		t.Fatalf("PushBatch = %d, %v", n, err)
	}
	dst := make([]int64, 3)
	if n, err := q.PopBatch(dst); n != 3 || err != nil || dst[2] != 3 {
		t.Fatalf("PopBatch = %d, %v, %v", n, err, dst)
	}
	var got []int64
	for v := range q.Drain() {
		got = append(got, v)
	}
	if fmt.Sprint(got) != "[4 5 6 7 8]" || !q.Empty() {
		t.Fatalf("Drain = %v", got)
	}
	if n, err := q.PopBatch(dst); n != 0 || !errors.Is(err, queue.ErrEmpty) {
		t.Fatalf("PopBatch on empty = %d, %v", n, err)
	}
}

// Crash tests: a child process (this test binary) attaches, claims a cell
// and SIGKILLs itself in the middle of the operation.

const envCrash = "PSHM_QUEUE_CRASH"

func TestCrashHelper(t *testing.T) {
	mode := os.Getenv(envCrash)
	if mode == "" {
		t.Skip("helper process")
	}
	parts := strings.SplitN(mode, ",", 2)
	seg, err := segment.Open(parts[1])
	if err != nil {
		os.Exit(2)
	}
	q, err := queue.Open[[]byte](seg, "c")
	if err != nil {
		os.Exit(3)
	}
	die := func([]byte) { syscall.Kill(os.Getpid(), syscall.SIGKILL); select {} }
	switch parts[0] {
	case "push":
		q.PushFunc(4, die)
	case "pushspill":
		q.PushFunc(5000, die)
	case "pop", "popspill":
		q.PopFunc(func(b []byte) error { die(b); return nil })
	case "popwait":
		go func() { time.Sleep(50 * time.Millisecond); die(nil) }()
		q.PopWait(context.Background())
	}
	os.Exit(4)
}

func crashChild(t *testing.T, mode string, seg *segment.Segment) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$")
	cmd.Env = append(os.Environ(), envCrash+"="+mode+","+seg.Name())
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("crash child %s: %v", mode, err)
	}
}

func TestCrashRecovery(t *testing.T) {
	for _, mode := range []string{"push", "pushspill", "pop", "popspill", "popwait"} {
		t.Run(mode, func(t *testing.T) {
			seg := newSeg(t, 8<<20)
			q, err := queue.New[[]byte](seg, "c", queue.Capacity(4), queue.SlotSize(16))
			if err != nil {
				t.Fatal(err)
			}
			switch mode {
			case "pop":
				q.Push([]byte("first"))
			case "popspill":
				q.Push(make([]byte, 3000))
			}
			crashChild(t, mode, seg)
			// Survivors: the queue works at once, and keeps FIFO.
			for lap := range 3 {
				for i := range 4 {
					if err := q.Push([]byte{byte(lap), byte(i)}); err != nil {
						t.Fatalf("lap %d push %d: %v (stats %+v)", lap, i, err, q.Stats())
					}
				}
				for i := range 4 {
					v, err := q.Pop()
					if err != nil || string(v) != string([]byte{byte(lap), byte(i)}) {
						t.Fatalf("lap %d pop %d = %v, %v (stats %+v)", lap, i, v, err, q.Stats())
					}
				}
			}
			// The dead process's intents (a PopWait's waiter count) are
			// repaired by Recover, which Open or any survivor runs.
			if _, err := seg.Recover(); err != nil {
				t.Fatal(err)
			}
			wantLost := uint64(1) // a pop killed holding its item
			if mode == "popwait" || mode == "pushspill" || mode == "push" {
				wantLost = 0 // died before claiming a cell, or a push before publishing: nothing pushed
			}
			if st := q.Stats(); st.Lost != wantLost || st.PopWaiters != 0 {
				t.Fatalf("stats after %s crash: %+v, want Lost %d", mode, st, wantLost)
			}
		})
	}
}

// TestCustomCodec shows WithCodec and checks that the fingerprint follows it.
func TestCustomCodec(t *testing.T) {
	seg := newSeg(t, 4<<20)
	q, err := queue.New[Task](seg, "c", queue.WithCodec(codec.CBOR[Task]()))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Push(Task{"a", 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := queue.Open[Task](seg, "c", queue.WithCodec(codec.CBOR[Task](codec.MaxDepth(8)))); err != nil {
		t.Logf("other limits, same ID: %v", err)
	}
	if _, err := queue.Open[Task](seg, "c", queue.WithCodec[int64](codec.For[int64]())); !errors.Is(err, queue.ErrInvalidOption) {
		t.Fatalf("WithCodec of another type: %v", err)
	}
}

// TestWordPath checks that the int64 fast path (word.go) writes what the
// codec path reads and the other way round, and that a cell holding
// something else is an error, not a wrong value.
func TestWordPath(t *testing.T) {
	seg := newSeg(t, 4<<20)
	q, err := queue.New[int64](seg, "w", queue.Capacity(4))
	if err != nil {
		t.Fatal(err)
	}
	for lap := range 3 { // laps, so free and full states carry other positions
		if err := q.Push(-7 - int64(lap)); err != nil {
			t.Fatal(err)
		}
		var raw []byte
		if err := q.PopFunc(func(b []byte) error { raw = append(raw, b...); return nil }); err != nil {
			t.Fatal(err)
		}
		if len(raw) != 8 || int64(binary.NativeEndian.Uint64(raw)) != -7-int64(lap) {
			t.Fatalf("word push read by PopFunc as %x", raw)
		}
		if err := q.PushFunc(8, func(b []byte) { binary.NativeEndian.PutUint64(b, 42) }); err != nil {
			t.Fatal(err)
		}
		if v, err := q.Pop(); err != nil || v != 42 {
			t.Fatalf("PushFunc read by word pop: %v, %v", v, err)
		}
	}
	if err := q.PushFunc(3, func(b []byte) { copy(b, "abc") }); err != nil {
		t.Fatal(err)
	}
	if v, err := q.Pop(); err == nil {
		t.Fatalf("3-byte cell popped as %d, want an error", v)
	}
	if err := q.Push(5); err != nil {
		t.Fatal(err)
	}
	if v, err := q.Pop(); err != nil || v != 5 {
		t.Fatalf("after a bad cell: %v, %v", v, err)
	}
	f, err := queue.New[float64](seg, "f")
	if err != nil {
		t.Fatal(err)
	}
	f.Push(2.5)
	if v, err := f.Pop(); err != nil || v != 2.5 {
		t.Fatalf("float64: %v, %v", v, err)
	}
}

// TestWakeNotLost checks the sleepers bit (queue.go, wake): a PopWait or
// PushWait that has gone to sleep is woken by the next push or pop, not by
// its 100 ms timeout. Each round waits until the other side is counted as
// a waiter (so it is asleep or about to be), then acts, and records how
// long the wake took; a lost wake-up would take about 100 ms.
func TestWakeNotLost(t *testing.T) {
	seg := newSeg(t, 4<<20)
	q, err := queue.New[int64](seg, "w", queue.Capacity(1))
	if err != nil {
		t.Fatal(err)
	}
	other, err := queue.Open[int64](reopen(t, seg), "w")
	if err != nil {
		t.Fatal(err)
	}
	const rounds = 15
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	waitFor := func(cond func(queue.Stats) bool) {
		for !cond(q.Stats()) {
			time.Sleep(100 * time.Microsecond)
		}
		time.Sleep(2 * time.Millisecond) // let it reach the futex
	}
	var popLat, pushLat []time.Duration
	for i := range rounds {
		// A sleeping PopWait, woken by a Push.
		got := make(chan time.Time, 1)
		go func() {
			if _, err := other.PopWait(ctx); err != nil {
				t.Error(err)
			}
			got <- time.Now()
		}()
		waitFor(func(s queue.Stats) bool { return s.PopWaiters == 1 })
		start := time.Now()
		if err := q.Push(int64(i)); err != nil {
			t.Fatal(err)
		}
		popLat = append(popLat, (<-got).Sub(start))

		// A sleeping PushWait on a full queue, woken by a Pop.
		q.Push(1)
		go func() {
			if err := other.PushWait(ctx, 2); err != nil {
				t.Error(err)
			}
			got <- time.Now()
		}()
		waitFor(func(s queue.Stats) bool { return s.PushWaiters == 1 })
		start = time.Now()
		if _, err := q.Pop(); err != nil {
			t.Fatal(err)
		}
		pushLat = append(pushLat, (<-got).Sub(start))
		if v, err := q.Pop(); err != nil || v != 2 {
			t.Fatalf("Pop = %d, %v", v, err)
		}
	}
	for name, lat := range map[string][]time.Duration{"PopWait": popLat, "PushWait": pushLat} {
		slices.Sort(lat)
		if med := lat[len(lat)/2]; med > 40*time.Millisecond {
			t.Errorf("%s woke after %v (median of %d; all %v): wake-ups are lost", name, med, rounds, lat)
		}
	}
}
