package segment_test

import (
	"strings"
	"testing"

	"github.com/posixshm/posixshm/segment"
)

// TestCheckObjects: CheckObjects runs the check registered for each
// object's kind, names the object in each problem, and skips kinds without
// a check; registering a kind twice panics.
func TestCheckObjects(t *testing.T) {
	const kind = segment.Kind(200) // no structure uses it
	segment.RegisterCheck(kind, func(_ *segment.Segment, obj segment.Object) []string {
		if obj.Params[0] == 1 {
			return []string{"param 0 is 1"}
		}
		return nil
	})
	s, _ := mustCreate(t, 1<<20)
	h := newBumpHeap(s)
	noop := func(segment.Object) error { return nil }
	for name, p := range map[string]uint64{"good": 0, "bad": 1} {
		if _, _, err := s.FindOrCreate(name, segment.Spec{Kind: kind, Version: 1, Size: 64, Params: [4]uint64{p}}, h, noop); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.FindOrCreate("unchecked", segment.Spec{Kind: segment.Kind(201), Version: 1, Size: 64, Params: [4]uint64{1}}, h, noop); err != nil {
		t.Fatal(err)
	}
	probs := s.CheckObjects()
	if len(probs) != 1 || !strings.Contains(probs[0], `"bad": param 0 is 1`) {
		t.Errorf("CheckObjects = %q, want the one problem of \"bad\"", probs)
	}
	defer func() {
		if recover() == nil {
			t.Error("a second RegisterCheck for one kind did not panic")
		}
	}()
	segment.RegisterCheck(kind, func(*segment.Segment, segment.Object) []string { return nil })
}
