package bitset_test

import (
	"math/bits"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posixshm/posixshm/bitset"
)

// Each benchmark times the Bitset operation (ns/op) and, in the same run on
// the same machine, its plain twin on Go memory (plain-ns/op), and reports
// their ratio as x-plain. Run with:
//
//	go test -run '^$' -bench . -count 5 ./bitset
//
// Benchmarks are not tests: nothing here asserts a timing.

// pair runs plain(b.N) untimed, then shm(b.N) timed, and reports both.
func pair(b *testing.B, plain, shm func(n int)) { pairAs(b, "plain", plain, shm) }

// pairAs is pair with another name for the twin: the metrics are
// twin-ns/op and x-twin.
func pairAs(b *testing.B, twin string, plain, shm func(n int)) {
	b.StopTimer()
	t0 := time.Now()
	plain(b.N)
	p := time.Since(t0)
	b.StartTimer()
	shm(b.N)
	b.StopTimer()
	b.ReportMetric(float64(p.Nanoseconds())/float64(b.N), twin+"-ns/op")
	if p > 0 {
		b.ReportMetric(float64(b.Elapsed())/float64(p), "x-"+twin)
	}
}

const benchBits = 1 << 16 // 8 KiB of words: in L1/L2, so the op is what is timed

func benchSet(b *testing.B) (*bitset.Bitset, []uint64) {
	seg := newSeg(b, 1<<20)
	bs, err := bitset.New(seg, "bench", benchBits)
	if err != nil {
		b.Fatal(err)
	}
	return bs, make([]uint64, benchBits/64)
}

var sink bool
var sinkInt int

func BenchmarkTest(b *testing.B) {
	bs, w := benchSet(b)
	pair(b, func(n int) {
		r := false
		for k := range n {
			i := uint(k*7) % benchBits
			r = r != (atomic.LoadUint64(&w[i/64])&(1<<(i%64)) != 0)
		}
		sink = r
	}, func(n int) {
		r := false
		for k := range n {
			r = r != bs.Test(int(uint(k*7)%benchBits))
		}
		sink = r
	})
}

func BenchmarkSet(b *testing.B) {
	bs, w := benchSet(b)
	pair(b, func(n int) {
		for k := range n {
			i := uint(k*7) % benchBits
			atomic.OrUint64(&w[i/64], 1<<(i%64))
		}
	}, func(n int) {
		for k := range n {
			bs.Set(int(uint(k*7) % benchBits))
		}
	})
}

func BenchmarkTestAndSet(b *testing.B) {
	bs, w := benchSet(b)
	pair(b, func(n int) {
		r := false
		for k := range n {
			i := uint(k*7) % benchBits
			m := uint64(1) << (i % 64)
			r = r != (atomic.OrUint64(&w[i/64], m)&m != 0)
		}
		sink = r
	}, func(n int) {
		r := false
		for k := range n {
			r = r != bs.TestAndSet(int(uint(k*7)%benchBits))
		}
		sink = r
	})
}

// BenchmarkCount counts the set bits of a 65,536-bit set: one op is one
// whole Count.
func BenchmarkCount(b *testing.B) {
	bs, w := benchSet(b)
	for i := 0; i < benchBits; i += 3 {
		bs.Set(i)
		w[i/64] |= 1 << (i % 64)
	}
	pair(b, func(n int) {
		for range n {
			c := 0
			for _, v := range w {
				c += bits.OnesCount64(v)
			}
			sinkInt = c
		}
	}, func(n int) {
		for range n {
			sinkInt = bs.Count()
		}
	})
	if sinkInt != (benchBits+2)/3 {
		b.Fatalf("Count %d", sinkInt)
	}
}

// benchOwned returns a plain and an owned bitset of benchBits bits in one
// segment.
func benchOwned(b *testing.B) (plain, owned *bitset.Bitset) {
	seg := newSeg(b, 4<<20)
	plain, err := bitset.New(seg, "plain", benchBits)
	if err != nil {
		b.Fatal(err)
	}
	owned, err = bitset.New(seg, "owned", benchBits, bitset.Owned())
	if err != nil {
		b.Fatal(err)
	}
	return plain, owned
}

// BenchmarkClaimOwnedRelease times a ClaimOwned+ReleaseOwned pair (one op)
// on an owned bitset beside its unowned twin, a TestAndSet+Clear pair on a
// plain bitset of the same segment (tas-clear-ns/op), in the same run.
func BenchmarkClaimOwnedRelease(b *testing.B) {
	plain, owned := benchOwned(b)
	pairAs(b, "tas-clear", func(n int) {
		r := false
		for k := range n {
			i := int(uint(k*7) % benchBits)
			r = r != plain.TestAndSet(i)
			plain.Clear(i)
		}
		sink = r
	}, func(n int) {
		r := false
		for k := range n {
			i := int(uint(k*7) % benchBits)
			ok, _ := owned.ClaimOwned(i)
			r = r != ok
			owned.ReleaseOwned(i)
		}
		sink = r
	})
	if _, ok := owned.Owner(0); ok {
		b.Fatal("bit 0 still owned")
	}
}

// BenchmarkClaimAnyOwnedRelease times a slot allocator's round trip,
// ClaimAnyOwned+ReleaseOwned with the first 100 bits held, beside
// NextClear+TestAndSet+Clear on a plain bitset in the same state.
func BenchmarkClaimAnyOwnedRelease(b *testing.B) {
	plain, owned := benchOwned(b)
	for i := range 100 {
		plain.Set(i)
		if ok, err := owned.ClaimOwned(i); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
	pairAs(b, "nextclear-tas-clear", func(n int) {
		for range n {
			i, _ := plain.NextClear(0)
			plain.TestAndSet(i)
			plain.Clear(i)
			sinkInt = i
		}
	}, func(n int) {
		for range n {
			i, _ := owned.ClaimAnyOwned()
			owned.ReleaseOwned(i)
			sinkInt = i
		}
	})
	if sinkInt != 100 {
		b.Fatalf("claimed bit %d, want 100", sinkInt)
	}
}
