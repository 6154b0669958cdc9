package conformance_test

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/conformance/harness"
	"github.com/posixshm/posixshm/segment"
)

func init() {
	harness.Register("bench-alloc", benchAlloc)
}

// benchAlloc runs n Alloc(64)+Free pairs and reports the nanoseconds taken.
func benchAlloc(c *harness.Child) error {
	seg, err := segment.Open(c.Seg)
	if err != nil {
		return err
	}
	defer seg.Close()
	a, err := alloc.Of(seg)
	if err != nil {
		return err
	}
	n := c.IntArg("n")
	c.WaitStart()
	start := time.Now()
	for range n {
		off, err := a.Alloc(64)
		if err != nil {
			return err
		}
		if err := a.Free(off); err != nil {
			return err
		}
	}
	c.Report(time.Since(start).Nanoseconds())
	return nil
}

// BenchmarkAllocFreeProcs: P processes each run b.N/P Alloc+Free pairs on
// one segment. ns/op is wall time per pair across all processes (the
// slowest process's time divided by all pairs); x-atomic-add compares it
// with an uncontended atomic add timed in the same run. Process start-up is
// not timed.
func BenchmarkAllocFreeProcs(b *testing.B) {
	for _, procs := range benchProcs() {
		b.Run(fmt.Sprintf("P=%d", procs), func(b *testing.B) {
			floor := atomicAddNs()
			name := harness.SegmentName(b)
			seg, err := segment.Create(name, 16<<20)
			if err != nil {
				b.Fatal(err)
			}
			defer seg.Close()
			per := max(b.N/procs, 100_000) // tiny runs measure page faults, not the allocator
			g := harness.Start(b, "bench-alloc", name, procs, harness.Args{"n": fmt.Sprint(per)})
			outs := harness.MustSucceed(b, g.Wait())
			var slowest int64
			for _, o := range outs {
				var ns int64
				harness.Decode(b, o.Result, &ns)
				slowest = max(slowest, ns)
			}
			b.StopTimer()
			perOp := float64(slowest) / float64(per*procs)
			b.ReportMetric(0, "ns/op")
			b.ReportMetric(perOp, "wall-ns/pair")
			b.ReportMetric(floor, "atomic-ns/op")
			b.ReportMetric(perOp/floor, "x-atomic-add")
		})
	}
}

var sink atomic.Uint64

// atomicAddNs times an uncontended atomic add, the hardware floor every
// benchmark here is compared with.
func atomicAddNs() float64 {
	const n = 5_000_000
	var w atomic.Uint64
	start := time.Now()
	for range n {
		w.Add(1)
	}
	sink.Store(w.Load())
	return float64(time.Since(start).Nanoseconds()) / n
}

// benchProcs is the process counts the multi-process benchmarks run: up to
// 4 here, and 8 and 16 on a machine with the cores to run them at once.
func benchProcs() []int {
	if runtime.NumCPU() >= 16 {
		return []int{1, 2, 4, 8, 16}
	}
	return []int{1, 2, 4}
}
