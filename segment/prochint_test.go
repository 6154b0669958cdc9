package segment_test

import (
	"runtime"
	"sync"
	"testing"

	"github.com/posixshm/posixshm/segment"
)

// TestProcHint: the hint names one of the process's Ps, from any
// goroutine.
func TestProcHint(t *testing.T) {
	procs := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	bad := make(chan int, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 1000 {
				if p := segment.ProcHint(); p < 0 || p >= procs {
					bad <- p
					return
				}
			}
		}()
	}
	wg.Wait()
	close(bad)
	for p := range bad {
		t.Errorf("ProcHint() = %d, want 0 to %d", p, procs-1)
	}
}

func BenchmarkProcHint(b *testing.B) {
	sum := 0
	for range b.N {
		sum += segment.ProcHint()
	}
	runtime.KeepAlive(sum)
}
