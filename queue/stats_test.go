package queue_test

import (
	"testing"

	"github.com/posixshm/posixshm/queue"
)

func TestStatsCounts(t *testing.T) {
	seg := newSeg(t, 4<<20)
	q, err := queue.New[int64](seg, "stats", queue.Capacity(128))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		if err := q.Push(int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	for range 40 {
		if _, err := q.Pop(); err != nil {
			t.Fatal(err)
		}
	}
	st := q.Stats()
	if st.Pushed != 100 || st.Popped != 40 || st.Len != 60 || st.Cap != 128 || st.Lost != 0 {
		t.Fatalf("stats %+v", st)
	}
	// Sampled at the 65th push (length 65) and at Stats (length 60).
	if st.HighWater < 65 || st.HighWater > 100 {
		t.Fatalf("high water %d, want 65..100", st.HighWater)
	}
	// Many laps round a small ring, through strings that spill too.
	s, err := queue.New[string](seg, "laps", queue.Capacity(8), queue.SlotSize(8))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 1000 {
		v := "short"
		if i%3 == 0 {
			v = "a value longer than the eight-byte slot, so it spills"
		}
		if err := s.Push(v); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			s.Pop()
			s.Pop()
		}
	}
	if st := s.Stats(); st.Pushed != 1000 || st.Popped != 1000 || st.Len != 0 || st.HighWater < 1 {
		t.Fatalf("laps: %+v", st)
	}
	// A second handle (another registry slot) sees the same counts.
	other := reopen(t, seg)
	o, err := queue.Open[int64](other, "stats")
	if err != nil {
		t.Fatal(err)
	}
	if got := o.Stats(); got.Pushed != 100 || got.Popped != 40 {
		t.Fatalf("other handle: %+v", got)
	}
}
