package bitset_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/posixshm/posixshm/alloc/alloctest"
	"github.com/posixshm/posixshm/segment"
)

// newSeg creates a uniquely named segment that is closed and removed when
// the test ends, pass or fail; alloctest.Reopen maps it again, as another
// process would.
func newSeg(t testing.TB, size int64) *segment.Segment {
	t.Helper()
	return alloctest.NewSegment(t, size)
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
