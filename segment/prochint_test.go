package segment_test

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/posixshm/posixshm/segment"
)

// TestProcHint: the hint names one of the process's Ps, from any
// goroutine, and goroutines running at the same moment get different
// ones. Two goroutines each wait, spinning (so each holds a P), until the
// other has taken its hint, so both hints are taken while both run.
func TestProcHint(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	var wg sync.WaitGroup
	var hints [2]int
	var taken atomic.Int32
	for g := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			taken.Add(1)
			for taken.Load() < 2 { // spin: both goroutines now hold a P
			}
			hints[g] = segment.ProcHint()
			taken.Add(1)
			for taken.Load() < 4 { // keep the P until the other has its hint
			}
		}()
	}
	wg.Wait()
	for g, p := range hints {
		if p < 0 || p >= 2 {
			t.Errorf("goroutine %d: ProcHint() = %d, want 0 or 1 with GOMAXPROCS 2", g, p)
		}
	}
	if hints[0] == hints[1] {
		t.Errorf("two goroutines running at once both got ProcHint() = %d", hints[0])
	}
}

func BenchmarkProcHint(b *testing.B) {
	sum := 0
	for range b.N {
		sum += segment.ProcHint()
	}
	runtime.KeepAlive(sum)
}
