package hashmap_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/segment"
)

// newSeg creates a uniquely named segment, removed when the test ends.
// At cleanup it checks the allocator's consistency.
func newSeg(t testing.TB, size int64) *segment.Segment {
	t.Helper()
	name := fmt.Sprintf("/psm-hm-%d-%x", os.Getpid(), rand.Uint64())
	seg, err := segment.Create(name, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if a, err := alloc.Of(seg); err == nil && !t.Failed() {
			if r := a.Check(); len(r.Problems) > 0 {
				t.Errorf("alloc check: %v", r.Problems)
			}
		}
		seg.Close()
		segment.Remove(name)
	})
	return seg
}

func inUse(t testing.TB, seg *segment.Segment) uint64 {
	a, err := alloc.Of(seg)
	if err != nil {
		t.Fatal(err)
	}
	st := a.Stats()
	return st.Allocs - st.Frees
}
