package segment_test

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"

	"github.com/posixshm/posixshm/segment"
)

// uniqueName returns a segment name no parallel test run shares, and removes
// the segment when the test ends, pass or fail.
func uniqueName(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("/psm-test-%d-%x", os.Getpid(), rand.Uint64())
	t.Cleanup(func() { segment.Remove(name) })
	return name
}

func mustCreate(t testing.TB, size int64, opts ...segment.Option) (*segment.Segment, string) {
	t.Helper()
	name := uniqueName(t)
	s, err := segment.Create(name, size, opts...)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s, name
}

// bumpHeap is a minimal segment.Heap for directory tests, which cannot use
// the alloc module (it depends on this one).
type bumpHeap struct {
	next, end segment.Offset
	freed     map[segment.Offset]bool
	published map[segment.Offset]bool
	fail      bool
}

func newBumpHeap(s *segment.Segment) *bumpHeap {
	off, n := s.Heap()
	return &bumpHeap{next: off, end: off + segment.Offset(n), freed: map[segment.Offset]bool{}, published: map[segment.Offset]bool{}}
}

func (h *bumpHeap) Alloc(n uint64) (segment.Offset, error) {
	if h.fail || h.next+segment.Offset(n) > h.end {
		return 0, fmt.Errorf("bumpHeap: out of memory")
	}
	off := h.next
	h.next += segment.Offset((n + 63) &^ 63)
	return off, nil
}
func (h *bumpHeap) Publish(off segment.Offset) error { h.published[off] = true; return nil }
func (h *bumpHeap) Free(off segment.Offset) error {
	if h.freed[off] {
		return fmt.Errorf("double free of %d", off)
	}
	h.freed[off] = true
	return nil
}
