package bench_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/puzpuzpuz/xsync/v4"

	"github.com/posixshm/posixshm/alloc/alloctest"
	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
)

// Queue benchmarks, each beside its peers in the same run (these machines
// drift too much to compare runs). Run, in bench/, with:
//
//	go test -run '^$' -bench 'PushPop|CrossProcess' -benchtime 1s .

// atomicFloor measures one atomic.AddUint64 in ns, the hardware floor.
// It takes the fastest of five runs, the one least disturbed by other load
// on the machine, so the ratio does not swing with one unlucky run.
func atomicFloor() float64 {
	var x atomic.Uint64
	const n = 1_000_000
	best := 0.0
	for range 5 {
		start := time.Now()
		for range n {
			x.Add(1)
		}
		ns := float64(time.Since(start).Nanoseconds()) / n
		if best == 0 || ns < best {
			best = ns
		}
	}
	return best
}

func reportRatio(b *testing.B, floor float64) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns/floor, "x-atomic-add")
}

// BenchmarkPushPop: one Push and one Pop of an int64 in one goroutine.
func BenchmarkPushPop(b *testing.B) {
	b.Run("atomic-add", func(b *testing.B) {
		var x atomic.Uint64
		for b.Loop() {
			x.Add(1)
		}
	})
	b.Run("queue", func(b *testing.B) {
		seg := alloctest.NewSegment(b, 4<<20)
		q, err := queue.New[int64](seg, "b")
		if err != nil {
			b.Fatal(err)
		}
		floor := atomicFloor()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			q.Push(int64(i))
			q.Pop()
		}
		reportRatio(b, floor)
	})
	b.Run("chan", func(b *testing.B) {
		c := make(chan int64, 1024)
		floor := atomicFloor()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			c <- int64(i)
			<-c
		}
		reportRatio(b, floor)
	})
	b.Run("xsync-mpmc", func(b *testing.B) {
		q := xsync.NewMPMCQueue[int64](1024)
		floor := atomicFloor()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			q.TryEnqueue(int64(i))
			q.TryDequeue()
		}
		reportRatio(b, floor)
	})
}

// Cross-process benchmarks: child processes are this test binary, started
// with envBench naming their role.

const envBench = "PSHM_QUEUE_BENCH"

// TestBenchChild is the body of a benchmark child process.
func TestBenchChild(t *testing.T) {
	role := os.Getenv(envBench)
	if role == "" {
		t.Skip("benchmark child process")
	}
	n, _ := strconv.Atoi(os.Getenv("PSHM_BENCH_N"))
	switch role {
	case "socket-reader":
		f := os.NewFile(3, "sock")
		buf := make([]byte, 64)
		var first int64
		for got := 0; got < n*64; {
			m, err := f.Read(buf[:64-got%64])
			if err != nil {
				os.Exit(2)
			}
			if got == 0 {
				first = time.Now().UnixNano()
			}
			got += m
		}
		printSpan(first)
		os.Exit(0)
	}
	seg, err := segment.Open(os.Getenv("PSHM_BENCH_SEG"))
	if err != nil {
		os.Exit(2)
	}
	q, err := queue.Open[int64](seg, "x")
	if err != nil {
		os.Exit(3)
	}
	ctx := context.Background()
	switch role {
	case "consumer":
		var first int64
		for i := range n {
			if _, err := popSpin(ctx, q); err != nil {
				os.Exit(4)
			}
			if i == 0 {
				first = time.Now().UnixNano()
			}
		}
		printSpan(first)
	case "producer":
		for i := range n {
			if err := pushSpin(ctx, q, int64(i)); err != nil {
				os.Exit(5)
			}
		}
	}
	os.Exit(0)
}

// printSpan reports on stdout when a reading child received its first and
// its last item (wall-clock ns, comparable across processes).
func printSpan(first int64) {
	fmt.Printf("span %d %d\n", first, time.Now().UnixNano())
}

// transferRate returns items per second over the span from the first item
// any reader received to the last, read from the readers' printSpan lines:
// process start-up, which a short run would otherwise mostly measure, is
// not timed.
func transferRate(b *testing.B, n int, outs []*bytes.Buffer) float64 {
	var lo, hi int64
	for _, o := range outs {
		var first, last int64
		if _, err := fmt.Sscanf(o.String(), "span %d %d", &first, &last); err != nil {
			b.Fatalf("reader output %q: %v", o.String(), err)
		}
		if lo == 0 || first < lo {
			lo = first
		}
		hi = max(hi, last)
	}
	return float64(n) / (float64(hi-lo) / 1e9)
}

// popSpin polls a little before sleeping, as a latency-minded consumer would.
func popSpin(ctx context.Context, q *queue.Queue[int64]) (int64, error) {
	for range 200 {
		v, err := q.Pop()
		if !errors.Is(err, queue.ErrEmpty) {
			return v, err
		}
	}
	return q.PopWait(ctx)
}

func pushSpin(ctx context.Context, q *queue.Queue[int64], v int64) error {
	for range 200 {
		err := q.Push(v)
		if !errors.Is(err, queue.ErrFull) {
			return err
		}
	}
	return q.PushWait(ctx, v)
}

func startChild(b *testing.B, role string, n int, seg string, out *bytes.Buffer, files ...*os.File) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestBenchChild$")
	cmd.Env = append(os.Environ(), envBench+"="+role, "PSHM_BENCH_N="+strconv.Itoa(n), "PSHM_BENCH_SEG="+seg)
	cmd.ExtraFiles = files
	if out != nil { // a nil *bytes.Buffer would be a non-nil io.Writer
		cmd.Stdout = out
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return cmd
}

// BenchmarkCrossProcess moves b.N int64 items between processes; the
// metric items/s is what to compare.
func BenchmarkCrossProcess(b *testing.B) {
	b.Run("socketpair-1to1", func(b *testing.B) {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			b.Fatal(err)
		}
		w, r := os.NewFile(uintptr(fds[0]), "w"), os.NewFile(uintptr(fds[1]), "r")
		defer w.Close()
		n := max(b.N, 1000)
		out := new(bytes.Buffer)
		cmd := startChild(b, "socket-reader", n, "", out, r)
		r.Close()
		msg := make([]byte, 64)
		b.ResetTimer()
		for range n {
			if _, err := w.Write(msg); err != nil {
				b.Fatal(err)
			}
		}
		if err := cmd.Wait(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(transferRate(b, n, []*bytes.Buffer{out}), "items/s")
	})
	shapes := []struct{ p, c int }{{1, 1}, {2, 2}, {4, 4}}
	if runtime.NumCPU() >= 16 {
		shapes = append(shapes, struct{ p, c int }{8, 8})
	}
	for _, shape := range shapes {
		// In-process peers of the same shape, goroutines instead of
		// processes: what Go offers without shared memory.
		b.Run(fmt.Sprintf("chan-%dto%d-goroutines", shape.p, shape.c), func(b *testing.B) {
			c := make(chan int64, 4096)
			inProcess(b, shape.p, shape.c, func(v int64) bool { c <- v; return true },
				func() bool { <-c; return true })
		})
		b.Run(fmt.Sprintf("xsync-mpmc-%dto%d-goroutines", shape.p, shape.c), func(b *testing.B) {
			q := xsync.NewMPMCQueue[int64](4096)
			inProcess(b, shape.p, shape.c, q.TryEnqueue,
				func() bool { _, ok := q.TryDequeue(); return ok })
		})
		b.Run(fmt.Sprintf("queue-%dto%d", shape.p, shape.c), func(b *testing.B) {
			seg := alloctest.NewSegment(b, 16<<20)
			q, err := queue.New[int64](seg, "x", queue.Capacity(4096))
			if err != nil {
				b.Fatal(err)
			}
			n := max(b.N, 1000) / shape.p * shape.p
			b.ResetTimer()
			var cmds []*exec.Cmd
			var outs []*bytes.Buffer
			for range shape.c {
				outs = append(outs, new(bytes.Buffer))
				cmds = append(cmds, startChild(b, "consumer", n/shape.c, seg.Name(), outs[len(outs)-1]))
			}
			for range shape.p {
				cmds = append(cmds, startChild(b, "producer", n/shape.p, seg.Name(), nil))
			}
			for _, c := range cmds {
				if err := c.Wait(); err != nil {
					b.Fatal(err)
				}
			}
			// ns/op includes process start-up; items/s does not.
			b.ReportMetric(transferRate(b, n, outs), "items/s")
			// How often a producer or consumer had to sleep on the futex:
			// each sleep costs a wake system call on the other side.
			b.ReportMetric(float64(q.Stats().Sleeps)/float64(n), "sleeps/item")
		})
	}
}

// inProcess moves b.N items from p producer to c consumer goroutines
// through push and pop, which report false when the queue is full or empty
// (the caller then yields and retries), and reports items/s.
func inProcess(b *testing.B, p, c int, push func(int64) bool, pop func() bool) {
	n := max(b.N, 1000) / (p * c) * (p * c)
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for range p {
		wg.Go(func() {
			for i := range n / p {
				for !push(int64(i)) {
					runtime.Gosched()
				}
			}
		})
	}
	for range c {
		wg.Go(func() {
			for range n / c {
				for !pop() {
					runtime.Gosched()
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "items/s")
}
