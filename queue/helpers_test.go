package queue_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/posixshm/posixshm/segment"
)

// newSeg creates a uniquely named segment and removes it when the test
// ends, pass or fail.
func newSeg(t testing.TB, size int64) *segment.Segment {
	t.Helper()
	name := fmt.Sprintf("/psm-queue-test-%d-%x", os.Getpid(), rand.Uint64())
	seg, err := segment.Create(name, size)
	if err != nil {
		t.Fatalf("segment.Create: %v", err)
	}
	t.Cleanup(func() {
		seg.Close()
		segment.Remove(name)
	})
	return seg
}

// reopen attaches a second handle (a second registry slot, as another
// process would) to seg's file.
func reopen(t testing.TB, seg *segment.Segment) *segment.Segment {
	t.Helper()
	s, err := segment.Open(seg.Name())
	if err != nil {
		t.Fatalf("segment.Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
