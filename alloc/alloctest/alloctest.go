// Package alloctest provides test helpers for code that keeps data in
// posixshm segments, as net/http/httptest does for HTTP: uniquely named
// segments that are removed when the test ends, pass or fail, and a heap
// consistency check to run at the end of a test.
package alloctest

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/segment"
)

// Name returns a segment name unique to this process and call, such as
// "/psm-test-1234-9f3a...", and removes any segment of that name when the
// test ends. Parallel test runs never collide on it.
func Name(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("/psm-test-%d-%x", os.Getpid(), rand.Uint64())
	t.Cleanup(func() { segment.Remove(name) })
	return name
}

// NewSegment creates a segment of size bytes under a unique Name. It is
// closed and removed when the test ends.
func NewSegment(t testing.TB, size int64, opts ...segment.Option) *segment.Segment {
	t.Helper()
	name := Name(t)
	seg, err := segment.Create(name, size, opts...)
	if err != nil {
		t.Fatalf("segment.Create(%q, %d): %v", name, size, err)
	}
	t.Cleanup(func() { seg.Close() })
	return seg
}

// Reopen attaches a second handle to seg's file: another mapping at
// another address with its own registry slot, as another process would
// have. It is closed when the test ends.
func Reopen(t testing.TB, seg *segment.Segment) *segment.Segment {
	t.Helper()
	s, err := segment.Open(seg.Name())
	if err != nil {
		t.Fatalf("segment.Open(%q): %v", seg.Name(), err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// CheckHeap registers a check of seg to run when the test ends, if it has
// not failed already: the heap (alloc.Check: bitmaps, block states and
// chunks must agree) and every object whose package registered a check
// (segment.CheckObjects: queues, stacks, hash maps). Register it after
// NewSegment, so that it runs before the segment closes.
func CheckHeap(t testing.TB, seg *segment.Segment) {
	t.Helper()
	t.Cleanup(func() {
		if t.Failed() {
			return
		}
		a, err := alloc.Of(seg)
		if err != nil {
			t.Errorf("alloc.Of: %v", err)
			return
		}
		if r := a.Check(); len(r.Problems) > 0 {
			t.Errorf("heap check of %s: %v", seg.Name(), r.Problems)
		}
		if probs := seg.CheckObjects(); len(probs) > 0 {
			t.Errorf("object checks of %s: %v", seg.Name(), probs)
		}
	})
}
