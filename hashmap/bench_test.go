package hashmap_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/posixshm/posixshm/hashmap"
)

// BenchmarkInsertDelete: a Store of an absent key and its Delete, the two
// writes that change the Len counter, with 16-byte keys in a map of 10,000
// that holds 5,000 others; one goroutine, and RunParallel with a key set
// per goroutine. ns/op is one insert plus one delete. The bench module's
// Store and Mix benchmarks replace present keys, which never touch the
// counter. Run, in hashmap/:
//
//	go test -run '^$' -bench InsertDelete -count 5 .
func BenchmarkInsertDelete(b *testing.B) {
	const sets, perSet = 16, 4096
	var keys [sets][perSet]string
	for s := range sets {
		for j := range perSet {
			keys[s][j] = fmt.Sprintf("churn-%x-%08d", s, j) // 16 bytes
		}
	}
	for _, parallel := range []bool{false, true} {
		name := "1G"
		if parallel {
			name = "Parallel"
		}
		b.Run(name, func(b *testing.B) {
			seg := newSeg(b, 64<<20)
			m, err := hashmap.New[string, int64](seg, "bench", hashmap.MaxEntries(10000))
			if err != nil {
				b.Fatal(err)
			}
			for i := range 5000 {
				if err := m.Store(fmt.Sprintf("resident-%07d", i), int64(i)); err != nil {
					b.Fatal(err)
				}
			}
			churn := func(set *[perSet]string, i int) {
				k := set[i%perSet]
				if err := m.Store(k, int64(i)); err != nil {
					panic(err)
				}
				if err := m.Delete(k); err != nil {
					panic(err)
				}
			}
			b.ResetTimer()
			if !parallel {
				for i := range b.N {
					churn(&keys[0], i)
				}
				return
			}
			var next atomic.Int32
			b.RunParallel(func(pb *testing.PB) {
				set := &keys[int(next.Add(1))%sets]
				for i := 0; pb.Next(); i++ {
					churn(set, i)
				}
			})
		})
	}
}
