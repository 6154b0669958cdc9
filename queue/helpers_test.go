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
	return alloctest.NewSegment(t, size)
}

// reopen attaches a second handle (a second registry slot, as another
// process would) to seg's file.
func reopen(t testing.TB, seg *segment.Segment) *segment.Segment {
	t.Helper()
	return alloctest.Reopen(t, seg)
}
