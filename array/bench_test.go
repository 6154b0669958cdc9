package array_test

import (
	"math"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posixshm/posixshm/array"
)

// Each benchmark times the Array operation (ns/op) and, in the same run on
// the same machine, its plain twin on Go memory (plain-ns/op), and reports
// their ratio as x-plain. Run with:
//
//	go test -run '^$' -bench . -count 5 ./array
//
// Benchmarks are not tests: nothing here asserts a timing.

// pair runs plain(b.N) untimed, then shm(b.N) timed, and reports both.
func pair(b *testing.B, plain, shm func(n int)) {
	b.StopTimer()
	t0 := time.Now()
	plain(b.N)
	p := time.Since(t0)
	b.StartTimer()
	shm(b.N)
	b.StopTimer()
	b.ReportMetric(float64(p.Nanoseconds())/float64(b.N), "plain-ns/op")
	if p > 0 {
		b.ReportMetric(float64(b.Elapsed())/float64(p), "x-plain")
	}
}

const benchLen = 1024 // 8 KiB of int64: in L1, so the op is what is timed

func benchArray[T array.Elem](b *testing.B, n int) (*array.Array[T], []T) {
	seg := newSeg(b, 64<<20)
	a, err := array.New[T](seg, "bench", n)
	if err != nil {
		b.Fatal(err)
	}
	return a, make([]T, n)
}

var sinkI int64
var sinkF float64

func BenchmarkLoad(b *testing.B) {
	a, g := benchArray[int64](b, benchLen)
	pair(b, func(n int) {
		var s int64
		for k := range n {
			s += atomic.LoadInt64(&g[k%benchLen])
		}
		sinkI = s
	}, func(n int) {
		var s int64
		for k := range n {
			s += a.Load(k % benchLen)
		}
		sinkI = s
	})
}

func BenchmarkStore(b *testing.B) {
	a, g := benchArray[int64](b, benchLen)
	pair(b, func(n int) {
		for k := range n {
			atomic.StoreInt64(&g[k%benchLen], int64(k))
		}
	}, func(n int) {
		for k := range n {
			a.Store(k%benchLen, int64(k))
		}
	})
}

func BenchmarkAdd(b *testing.B) {
	a, g := benchArray[int64](b, benchLen)
	pair(b, func(n int) {
		for k := range n {
			atomic.AddInt64(&g[k%benchLen], 1)
		}
	}, func(n int) {
		for k := range n {
			a.Add(k%benchLen, 1)
		}
	})
}

// BenchmarkAddFloat64 compares Add on a float64 element with the same
// compare-and-swap loop on Go memory.
func BenchmarkAddFloat64(b *testing.B) {
	a, g := benchArray[float64](b, benchLen)
	gw := make([]uint64, len(g))
	pair(b, func(n int) {
		for k := range n {
			w := &gw[k%benchLen]
			for {
				old := atomic.LoadUint64(w)
				if atomic.CompareAndSwapUint64(w, old, math.Float64bits(math.Float64frombits(old)+1)) {
					break
				}
			}
		}
	}, func(n int) {
		for k := range n {
			a.Add(k%benchLen, 1)
		}
	})
}

func sum(s []float64) float64 {
	var a, b, c, d float64
	i := 0
	for ; i+4 <= len(s); i += 4 {
		a += s[i]
		b += s[i+1]
		c += s[i+2]
		d += s[i+3]
	}
	for ; i < len(s); i++ {
		a += s[i]
	}
	return a + b + c + d
}

// BenchmarkSliceSum sums 1M float64 (8 MiB) through Slice() and, as the
// twin, a Go slice of the same length, with the same function. One op is
// one whole sum; see elem-ns for the time per element.
func BenchmarkSliceSum(b *testing.B) {
	const n = 1 << 20
	a, g := benchArray[float64](b, n)
	s := a.Slice()
	for i := range n {
		s[i], g[i] = float64(i), float64(i)
	}
	pair(b, func(k int) {
		for range k {
			sinkF = sum(g)
		}
	}, func(k int) {
		for range k {
			sinkF = sum(a.Slice())
		}
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "elem-ns")
}
