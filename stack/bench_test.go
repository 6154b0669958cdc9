package stack_test

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posixshm/posixshm/stack"
)

// Benchmarks, each beside its peers in the same run (these machines drift
// too much to compare runs). Run with:
//
//	go test -run '^$' -bench . -count 5 ./stack
//
// Each sub-benchmark reports its ns/op as ratios to two floors measured in
// the same process just before it: x-atomic-add (one atomic.AddUint64, the
// hardware floor) and x-mutex-slice (a push+pop pair on a Go slice under a
// sync.Mutex, what a user would write in one process).

// floor runs op n times, five times over, and returns the fastest run's ns
// per op: the least disturbed by other load on the machine.
func floor(op func()) float64 {
	const n = 1_000_000
	best := 0.0
	for range 5 {
		start := time.Now()
		for range n {
			op()
		}
		ns := float64(time.Since(start).Nanoseconds()) / n
		if best == 0 || ns < best {
			best = ns
		}
	}
	return best
}

var floorWord atomic.Uint64

func atomicFloor() float64 { return floor(func() { floorWord.Add(1) }) }

// mutexSlice is the in-process peer: a bounded LIFO as a Go slice under a
// mutex.
type mutexSlice struct {
	mu    sync.Mutex
	items []int64
}

func (m *mutexSlice) push(v int64) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.items) == cap(m.items) {
		return false
	}
	m.items = append(m.items, v)
	return true
}

func (m *mutexSlice) pop() (int64, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.items) == 0 {
		return 0, false
	}
	v := m.items[len(m.items)-1]
	m.items = m.items[:len(m.items)-1]
	return v, true
}

func mutexFloor() float64 {
	m := &mutexSlice{items: make([]int64, 0, 1024)}
	return floor(func() { m.push(1); m.pop() })
}

func reportRatios(b *testing.B, atomicNs, mutexNs float64) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns/atomicNs, "x-atomic-add")
	b.ReportMetric(ns/mutexNs, "x-mutex-slice")
}

// BenchmarkPushPop: one Push and one Pop of an int64 in one goroutine.
func BenchmarkPushPop(b *testing.B) {
	b.Run("atomic-add", func(b *testing.B) {
		var x atomic.Uint64
		for b.Loop() {
			x.Add(1)
		}
	})
	b.Run("mutex-slice", func(b *testing.B) {
		m := &mutexSlice{items: make([]int64, 0, 1024)}
		a, mu := atomicFloor(), mutexFloor()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			m.push(int64(i))
			m.pop()
		}
		reportRatios(b, a, mu)
	})
	b.Run("stack", func(b *testing.B) {
		seg := newSeg(b, 4<<20)
		s, err := stack.New[int64](seg, "b")
		if err != nil {
			b.Fatal(err)
		}
		a, mu := atomicFloor(), mutexFloor()
		b.ResetTimer()
		for i := 0; b.Loop(); i++ {
			if err := s.Push(int64(i)); err != nil {
				b.Fatal(err)
			}
			if _, err := s.Pop(); err != nil {
				b.Fatal(err)
			}
		}
		reportRatios(b, a, mu)
	})
}

// BenchmarkPushPopParallel: push+pop pairs from GOMAXPROCS goroutines at
// once on one stack (contention on the top word), beside the mutex slice.
func BenchmarkPushPopParallel(b *testing.B) {
	b.Run("mutex-slice", func(b *testing.B) {
		m := &mutexSlice{items: make([]int64, 0, 1024)}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				m.push(1)
				m.pop()
			}
		})
	})
	b.Run("stack", func(b *testing.B) {
		seg := newSeg(b, 4<<20)
		s, err := stack.New[int64](seg, "b")
		if err != nil {
			b.Fatal(err)
		}
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				s.Push(1)
				s.Pop()
			}
		})
	})
}
