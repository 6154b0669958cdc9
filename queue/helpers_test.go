package queue_test

import (
	"testing"

	"github.com/posixshm/posixshm/alloc/alloctest"
	"github.com/posixshm/posixshm/segment"
)

// newSeg creates a uniquely named segment and removes it when the test
// ends, pass or fail.
func newSeg(t testing.TB, size int64) *segment.Segment {
	t.Helper()
	seg := alloctest.NewSegment(t, size)
	alloctest.CheckHeap(t, seg) // the heap and every object are checked when the test ends
	return seg
}

// reopen attaches a second handle (a second registry slot, as another
// process would) to seg's file.
func reopen(t testing.TB, seg *segment.Segment) *segment.Segment {
	t.Helper()
	return alloctest.Reopen(t, seg)
}
