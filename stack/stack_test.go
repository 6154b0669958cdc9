package stack_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/posixshm/posixshm/alloc/alloctest"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/stack"
)

func newSeg(t testing.TB, size int64) *segment.Segment {
	t.Helper()
	seg := alloctest.NewSegment(t, size)
	alloctest.CheckHeap(t, seg) // the heap and every object are checked when the test ends
	return seg
}

func reopen(t testing.TB, seg *segment.Segment) *segment.Segment {
	t.Helper()
	return alloctest.Reopen(t, seg)
}

type Task struct {
	Name string
	ID   int
}

func TestBasic(t *testing.T) {
	seg := newSeg(t, 4<<20)
	s, err := stack.New[int64](seg, "s", stack.Capacity(4))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Pop(); !errors.Is(err, stack.ErrEmpty) {
		t.Fatal(err)
	}
	if _, err := s.Peek(); !errors.Is(err, stack.ErrEmpty) {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := s.Push(int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Push(9); !errors.Is(err, stack.ErrFull) || s.Len() != 4 || s.Cap() != 4 {
		t.Fatalf("Push on full: %v", err)
	}
	if v, err := s.Peek(); v != 3 || err != nil {
		t.Fatalf("Peek = %d, %v", v, err)
	}
	for i := 3; i >= 0; i-- {
		if v, err := s.Pop(); v != int64(i) || err != nil {
			t.Fatalf("Pop = %d, %v; want %d", v, err, i)
		}
	}
	ts, err := stack.New[Task](seg, "tasks", stack.SlotSize(64))
	if err != nil {
		t.Fatal(err)
	}
	if err := ts.Push(Task{"process_data", 42}); err != nil {
		t.Fatal(err)
	}
	if v, err := ts.Pop(); v != (Task{"process_data", 42}) || err != nil {
		t.Fatalf("Pop = %v, %v", v, err)
	}
	if err := ts.Push(Task{strings.Repeat("x", 100), 1}); !errors.Is(err, stack.ErrTooLarge) {
		t.Fatalf("Push too large: %v", err)
	}
	ms, _ := stack.New[map[string]any](seg, "maps", stack.SlotSize(128))
	if err := ms.Push(map[string]any{"a": "b"}); err != nil {
		t.Fatal(err)
	}
	if m, err := ms.Pop(); err != nil || m["a"] != "b" {
		t.Fatalf("map Pop = %v, %v", m, err)
	}
}

func TestAttachRules(t *testing.T) {
	seg := newSeg(t, 4<<20)
	if _, err := stack.New[int64](seg, "s", stack.Capacity(10)); err != nil {
		t.Fatal(err)
	}
	seg2 := reopen(t, seg)
	if s, err := stack.Open[int64](seg2, "s"); err != nil || s.Cap() != 10 {
		t.Fatalf("Open: %v", err)
	}
	for _, c := range []struct {
		err  error
		want string
	}{
		{func() error { _, err := stack.New[string](seg2, "s"); return err }(), "raw-string"},
		{func() error { _, err := stack.New[int64](seg2, "s", stack.Capacity(11)); return err }(), "want capacity 11, found 10"},
		{func() error { _, err := stack.Open[int64](seg2, "s", stack.SlotSize(8)); return err }(), "want slot size 8, found 48"},
	} {
		if !errors.Is(c.err, stack.ErrMismatch) || !strings.Contains(c.err.Error(), c.want) {
			t.Errorf("%v, want ErrMismatch mentioning %q", c.err, c.want)
		}
	}
	if _, err := stack.Open[int64](seg2, "none"); !errors.Is(err, segment.ErrNotFound) {
		t.Errorf("Open missing: %v", err)
	}
}

func TestModel(t *testing.T) {
	seg := newSeg(t, 4<<20)
	s, _ := stack.New[uint32](seg, "m", stack.Capacity(16))
	rng := rand.New(rand.NewPCG(3, 4))
	var model []uint32
	for i := range 20000 {
		switch rng.IntN(4) {
		case 0, 1:
			v := rng.Uint32()
			err := s.Push(v)
			if len(model) == 16 {
				if !errors.Is(err, stack.ErrFull) {
					t.Fatalf("op %d: %v", i, err)
				}
			} else if err != nil {
				t.Fatalf("op %d: %v", i, err)
			} else {
				model = append(model, v)
			}
		case 2:
			v, err := s.Pop()
			if len(model) == 0 {
				if !errors.Is(err, stack.ErrEmpty) {
					t.Fatalf("op %d: %v", i, err)
				}
				continue
			}
			if want := model[len(model)-1]; v != want || err != nil {
				t.Fatalf("op %d: Pop = %d, %v; want %d", i, v, err, want)
			}
			model = model[:len(model)-1]
		case 3:
			v, err := s.Peek()
			if len(model) == 0 {
				if !errors.Is(err, stack.ErrEmpty) {
					t.Fatalf("op %d: %v", i, err)
				}
			} else if want := model[len(model)-1]; v != want || err != nil {
				t.Fatalf("op %d: Peek = %d, %v; want %d", i, v, err, want)
			}
		}
		if s.Len() != len(model) {
			t.Fatalf("op %d: Len %d, model %d", i, s.Len(), len(model))
		}
	}
}

// TestHammer: goroutines on separate handles push unique items and pop;
// every item comes out exactly once.
func TestHammer(t *testing.T) {
	for _, procs := range []int{1, 2, 4} {
		t.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(t *testing.T) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			n := 20000
			if testing.Short() {
				n = 2000
			}
			const workers = 4
			seg := newSeg(t, 8<<20)
			stack.New[uint64](seg, "h", stack.Capacity(8))
			var wg sync.WaitGroup
			got := make([][]uint64, workers)
			for w := range workers {
				s, _ := stack.Open[uint64](reopen(t, seg), "h")
				wg.Go(func() {
					for i := 0; i < n; {
						if err := s.Push(uint64(w)<<32 | uint64(i)); err == nil {
							i++
						} else if !errors.Is(err, stack.ErrFull) {
							t.Error(err)
							return
						}
						if v, err := s.Pop(); err == nil {
							got[w] = append(got[w], v)
						} else if !errors.Is(err, stack.ErrEmpty) {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			s, _ := stack.Open[uint64](seg, "h")
			for {
				v, err := s.Pop()
				if err != nil {
					break
				}
				got[0] = append(got[0], v)
			}
			seen := map[uint64]bool{}
			for _, vs := range got {
				for _, v := range vs {
					if seen[v] {
						t.Fatalf("item %#x popped twice", v)
					}
					seen[v] = true
				}
			}
			if len(seen) != workers*n {
				t.Fatalf("%d items came out, want %d", len(seen), workers*n)
			}
		})
	}
}
