package stack_test

import (
	"testing"

	"github.com/posixshm/posixshm/stack"
)

func TestStatsCounts(t *testing.T) {
	seg := newSeg(t, 4<<20)
	s, err := stack.New[int64](seg, "stats", stack.Capacity(128))
	if err != nil {
		t.Fatal(err)
	}
	for round := range 3 {
		for i := range 50 {
			if err := s.Push(int64(i)); err != nil {
				t.Fatal(round, err)
			}
		}
		for range 30 + round {
			if _, err := s.Pop(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// 150 pushes and 93 pops; the height went 50, 20, 70, 39, 89, 57.
	st := s.Stats()
	if st.Pushed != 150 || st.Popped != 93 || st.Len != 57 || st.Ops != 243 || st.HighWater != 89 || st.Lost != 0 {
		t.Fatalf("stats %+v", st)
	}
}
