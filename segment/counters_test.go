package segment_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/posixshm/posixshm/segment"
)

func TestCounters(t *testing.T) {
	s, name := mustCreate(t, mib)
	off, _ := s.Heap()
	if segment.CountersSize(s) != 64*64 {
		t.Fatalf("CountersSize %d", segment.CountersSize(s))
	}
	c, err := segment.CountersAt(s, off)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := segment.Open(name)
	defer other.Close()
	c2, err := segment.CountersAt(other, off)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cc := c
			if g%2 == 1 {
				cc = c2
			}
			for range 1000 {
				cc.Add(0, 1)
				cc.Add(7, 2)
			}
		}()
	}
	wg.Wait()
	if c.Sum(0) != 4000 || c2.Sums()[7] != 8000 {
		t.Fatalf("sums %d %d", c.Sum(0), c2.Sums()[7])
	}
	if _, err := segment.CountersAt(s, off+8); err == nil {
		t.Fatal("misaligned counters accepted")
	}
	var hw atomic.Uint64
	segment.Max(&hw, 5)
	segment.Max(&hw, 3)
	if hw.Load() != 5 {
		t.Fatal("Max")
	}
}
