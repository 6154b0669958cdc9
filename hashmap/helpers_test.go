package hashmap_test

import (
	"testing"
	"time"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/alloc/alloctest"
	"github.com/posixshm/posixshm/segment"
)

// newSeg creates a uniquely named segment, removed when the test ends.
// At cleanup it checks the allocator's consistency.
func newSeg(t testing.TB, size int64) *segment.Segment {
	t.Helper()
	seg := alloctest.NewSegment(t, size)
	alloctest.CheckHeap(t, seg)
	return seg
}

// within returns the error that done delivers, and fails the test with
// late if none comes within d.
func within(t testing.TB, done <-chan error, d time.Duration, late string) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatal(late)
		return nil
	}
}

func inUse(t testing.TB, seg *segment.Segment) uint64 {
	a, err := alloc.Of(seg)
	if err != nil {
		t.Fatal(err)
	}
	st := a.Stats()
	return st.Allocs - st.Frees
}
