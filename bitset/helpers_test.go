package bitset_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/posixshm/posixshm/alloc/alloctest"
	"github.com/posixshm/posixshm/segment"
)

// newSeg creates a uniquely named segment that is closed and removed when
// the test ends, pass or fail, and returns it with its name.
func newSeg(t testing.TB, size int64) (*segment.Segment, string) {
	t.Helper()
	s := alloctest.NewSegment(t, size)
	return s, s.Name()
}

// openSeg maps the segment name a second time, at another address, as
// another process would.
func openSeg(t testing.TB, name string) *segment.Segment {
	t.Helper()
	s, err := segment.Open(name)
	if err != nil {
		t.Fatalf("segment.Open(%q): %v", name, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustPanic(t *testing.T, what string, fn func()) {
	t.Helper()
	defer func() {
		t.Helper()
		r := recover()
		if r == nil {
			t.Errorf("%s: no panic", what)
			return
		}
		if msg := fmt.Sprint(r); !strings.Contains(msg, "index out of range") {
			t.Errorf("%s: panic %q, want an index out of range", what, msg)
		}
	}()
	fn()
}
