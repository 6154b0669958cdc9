package alloc_test

import (
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAllocFree measures an Alloc+Free pair of 64 bytes beside an
// atomic add in the same run; the ratio is reported as x-atomic-add.
func BenchmarkAllocFree(b *testing.B) {
	floor := atomicAddNs(b.N)
	a, _ := newAllocator(b, 16<<20)
	b.ResetTimer()
	for b.Loop() {
		off, err := a.Alloc(64)
		if err != nil {
			b.Fatal(err)
		}
		a.Free(off)
	}
	b.StopTimer()
	reportRatio(b, floor)
}

// BenchmarkAllocFreeParallel runs pairs on every GOMAXPROCS goroutine of one
// process, all on one size class: the contended case.
func BenchmarkAllocFreeParallel(b *testing.B) {
	a, _ := newAllocator(b, 16<<20)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			off, err := a.Alloc(64)
			if err != nil {
				b.Error(err)
				return
			}
			a.Free(off)
		}
	})
}

// BenchmarkAtomicAdd is the hardware floor: one uncontended atomic add.
func BenchmarkAtomicAdd(b *testing.B) {
	var w atomic.Uint64
	for b.Loop() {
		w.Add(1)
	}
}

var sink atomic.Uint64

func atomicAddNs(n int) float64 {
	n = max(n, 1_000_000)
	var w atomic.Uint64
	start := time.Now()
	for range n {
		w.Add(1)
	}
	sink.Store(w.Load())
	return float64(time.Since(start)) / float64(n)
}

func reportRatio(b *testing.B, floorNs float64) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(floorNs, "atomic-ns/op")
	b.ReportMetric(ns/floorNs, "x-atomic-add")
}
