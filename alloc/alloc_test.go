package alloc_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/alloc/alloctest"
	"github.com/posixshm/posixshm/segment"
)

func newSegment(t testing.TB, size int64) *segment.Segment {
	t.Helper()
	return alloctest.NewSegment(t, size)
}

func newAllocator(t testing.TB, size int64) (*alloc.Allocator, *segment.Segment) {
	t.Helper()
	s := newSegment(t, size)
	a, err := alloc.Of(s)
	if err != nil {
		t.Fatal(err)
	}
	alloctest.CheckHeap(t, s) // every test ends with a consistency check of the heap
	return a, s
}

func TestAllocFreeReuse(t *testing.T) {
	a, s := newAllocator(t, 4<<20)
	for _, n := range []uint64{0, 1, 16, 17, 100, 1000, 8000, 20000, 100000, 1 << 20} {
		off, err := a.Alloc(n)
		if err != nil {
			t.Fatalf("Alloc(%d): %v", n, err)
		}
		if off%16 != 0 {
			t.Fatalf("Alloc(%d) = %d, not 16-byte aligned", n, off)
		}
		size, err := a.UsableSize(off)
		if err != nil || size < n {
			t.Fatalf("UsableSize = %d, %v; want >= %d", size, err, n)
		}
		b, err := s.Bytes(off, size)
		if err != nil {
			t.Fatal(err)
		}
		for i := range b {
			b[i] = 0xAB
		}
		if err := a.Free(off); err != nil {
			t.Fatal(err)
		}
		// Freed memory is reused: allocating and freeing the size many
		// times takes no fresh chunk (a free block of the class, or a
		// chunk back in the pool, serves each Alloc).
		chunks := a.Stats().ChunksHigh
		for range 1000 {
			again, err := a.Alloc(n)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Free(again); err != nil {
				t.Fatal(err)
			}
		}
		if now := a.Stats().ChunksHigh; now != chunks {
			t.Errorf("Alloc(%d)+Free 1000 times: fresh chunks %d -> %d; freed memory is not reused", n, chunks, now)
		}
	}
	st := a.Stats()
	if st.Allocs != st.Frees || st.UsedBytes != 0 {
		t.Fatalf("stats unbalanced: %+v", st)
	}
}

// TestReuseAcrossHomeLists: each attachment starts on its own chunk of a
// size class, but memory freed by one attachment serves another's
// allocations before any fresh chunk is taken, so processes with different
// home shards never grow the heap while freed memory exists.
func TestReuseAcrossHomeLists(t *testing.T) {
	a, s := newAllocator(t, 4<<20)
	others := []*alloc.Allocator{a}
	for range 8 { // nine attachments: two share a home list, the rest differ
		b, err := alloc.Of(alloctest.Reopen(t, s))
		if err != nil {
			t.Fatal(err)
		}
		others = append(others, b)
	}
	const n = 2000 // several chunks' worth of 64-byte blocks
	offs := make([]segment.Offset, 0, n)
	for range n {
		off, err := a.Alloc(64)
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
	}
	for _, off := range offs {
		if err := a.Free(off); err != nil {
			t.Fatal(err)
		}
	}
	chunks := a.Stats().ChunksHigh
	for i, b := range others[1:] {
		got := make([]segment.Offset, 0, n)
		for range n {
			off, err := b.Alloc(64)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, off)
		}
		if now := b.Stats().ChunksHigh; now != chunks {
			t.Fatalf("attachment %d took %d chunks of fresh memory while %d freed blocks' chunks were free", i+1, now-chunks, n)
		}
		for _, off := range got {
			if err := b.Free(off); err != nil {
				t.Fatal(err)
			}
		}
	}
	if st := a.Stats(); st.Allocs != st.Frees {
		t.Fatalf("stats unbalanced: %d allocs, %d frees", st.Allocs, st.Frees)
	}
}

func TestInvalidFree(t *testing.T) {
	a, _ := newAllocator(t, 1<<20)
	off, _ := a.Alloc(100)
	if err := a.Free(off); err != nil {
		t.Fatal(err)
	}
	if err := a.Free(off); !errors.Is(err, alloc.ErrInvalidFree) {
		t.Fatalf("double free: %v", err)
	}
	heapOff, _ := segmentHeap(a)
	for _, bad := range []segment.Offset{0, 8, off + 16, off + 3, heapOff, 1 << 40} {
		if err := a.Free(bad); !errors.Is(err, alloc.ErrInvalidFree) && !errors.Is(err, alloc.ErrCorrupt) {
			t.Errorf("Free(%d): %v", bad, err)
		}
	}
	if err := a.Publish(off); !errors.Is(err, alloc.ErrInvalidFree) {
		t.Errorf("Publish of a free block: %v", err)
	}
	if _, err := a.Alloc(alloc.MaxAlloc + 1); !errors.Is(err, alloc.ErrTooLarge) {
		t.Errorf("Alloc too large: %v", err)
	}
}

func segmentHeap(a *alloc.Allocator) (segment.Offset, uint64) { return alloc.SegmentOf(a).Heap() }

func TestOutOfMemoryThenReuse(t *testing.T) {
	a, _ := newAllocator(t, 1<<20)
	var offs []segment.Offset
	for {
		off, err := a.Alloc(1000)
		if errors.Is(err, alloc.ErrOutOfMemory) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
		if len(offs) > 10000 {
			t.Fatal("a 1 MiB heap never ran out")
		}
	}
	if len(offs) < 500 {
		t.Fatalf("only %d blocks of 1000 bytes in 1 MiB", len(offs))
	}
	for _, off := range offs {
		if err := a.Free(off); err != nil {
			t.Fatal(err)
		}
	}
	// Everything freed is available again.
	for range offs {
		if _, err := a.Alloc(1000); err != nil {
			t.Fatalf("after freeing all: %v", err)
		}
	}
}

// Goroutines allocate random sizes, fill each block with their own pattern,
// and check it before freeing: overlapping blocks would mix patterns.
func TestConcurrentNoOverlap(t *testing.T) {
	a, s := newAllocator(t, 16<<20)
	iters := 20000
	if testing.Short() {
		iters = 2000
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 1))
			type held struct {
				off segment.Offset
				n   uint64
			}
			var mine []held
			for i := range iters {
				if len(mine) > 0 && (rng.IntN(2) == 0 || len(mine) > 64) {
					k := rng.IntN(len(mine))
					h := mine[k]
					b, _ := s.Bytes(h.off, h.n)
					for j := range b {
						if b[j] != byte(g) {
							errs <- fmt.Errorf("goroutine %d: block %d byte %d is %d", g, h.off, j, b[j])
							return
						}
					}
					if err := a.Free(h.off); err != nil {
						errs <- err
						return
					}
					mine[k] = mine[len(mine)-1]
					mine = mine[:len(mine)-1]
					continue
				}
				n := uint64(rng.IntN(3000) + 1)
				if i%97 == 0 {
					n = 40000
				}
				off, err := a.Alloc(n)
				if err != nil {
					errs <- err
					return
				}
				b, _ := s.Bytes(off, n)
				for j := range b {
					b[j] = byte(g)
				}
				mine = append(mine, held{off, n})
			}
			for _, h := range mine {
				a.Free(h.off)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if st := a.Stats(); st.Allocs != st.Frees || st.UsedBytes != 0 {
		t.Fatalf("stats unbalanced: %+v", st)
	}
}

func TestPublishAndViews(t *testing.T) {
	a, s := newAllocator(t, 1<<20)
	off, _ := a.Alloc(64)
	if err := a.Publish(off); err != nil {
		t.Fatal(err)
	}
	if err := a.Publish(off); !errors.Is(err, alloc.ErrInvalidFree) {
		t.Fatalf("second Publish: %v", err)
	}
	// A second view of the same segment sees the same heap.
	b, err := alloc.Of(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Free(off); err != nil {
		t.Fatal(err)
	}
	if err := a.Free(off); !errors.Is(err, alloc.ErrInvalidFree) {
		t.Fatalf("free through other view: %v", err)
	}
	r := a.Check()
	if r.Published != 0 || r.Free != r.OnLists {
		t.Fatalf("check: %+v", r)
	}
}

// TestFreedMemoryServesEverySize is the fragmentation cliff of issue 15:
// fill a 16 MiB heap with 64-byte blocks until it is full, free them all,
// and the heap must then hold (nearly) as many 4 KiB and 64 KiB blocks as
// a fresh one. Chunks whose blocks are all free go back to the pool, where
// any size takes them.
func TestFreedMemoryServesEverySize(t *testing.T) {
	const size = 16 << 20
	fill := func(a *alloc.Allocator, n uint64) []segment.Offset {
		var offs []segment.Offset
		for {
			off, err := a.Alloc(n)
			if errors.Is(err, alloc.ErrOutOfMemory) {
				return offs
			}
			if err != nil {
				t.Fatal(err)
			}
			offs = append(offs, off)
		}
	}
	free := func(a *alloc.Allocator, offs []segment.Offset) {
		for _, off := range offs {
			if err := a.Free(off); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, n := range []uint64{4 << 10, 64 << 10} {
		fresh, _ := newAllocator(t, size)
		want := fill(fresh, n)
		free(fresh, want)

		a, _ := newAllocator(t, size)
		small := fill(a, 64)
		free(a, small)
		got := fill(a, n)
		free(a, got)
		t.Logf("%d-byte blocks: %d after filling with %d 64-byte blocks and freeing them, %d in a fresh heap", n, len(got), len(small), len(want))
		if len(got)*10 < len(want)*9 {
			t.Errorf("%d-byte blocks: %d after the 64-byte fill was freed, a fresh heap holds %d: below 90%%", n, len(got), len(want))
		}
		if st := a.Stats(); st.UsedBytes != 0 {
			t.Errorf("after freeing everything %d bytes in use", st.UsedBytes)
		}
	}
}

// TestAdopt: a published block adopted back is owned again, so recovery
// would free it if its owner died; Free then frees it; adopting a free
// block, or one owned by another attachment, is an error.
func TestAdopt(t *testing.T) {
	a, s := newAllocator(t, 1<<20)
	off, err := a.Alloc(100)
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Adopt(off); err != nil { // owned already: nothing to do
		t.Fatal(err)
	}
	if err := a.Publish(off); err != nil {
		t.Fatal(err)
	}
	if r := a.Check(); r.Published != 1 || r.Owned != 0 {
		t.Fatalf("after Publish: %+v", r)
	}
	b, err := alloc.Of(alloctest.Reopen(t, s))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Adopt(off); err != nil {
		t.Fatal(err)
	}
	if r := a.Check(); r.Published != 0 || r.Owned != 1 {
		t.Fatalf("after Adopt: %+v", r)
	}
	if err := b.Adopt(off); !errors.Is(err, alloc.ErrInvalidFree) {
		t.Errorf("Adopt of a block another attachment owns: %v, want ErrInvalidFree", err)
	}
	if err := a.Free(off); err != nil {
		t.Fatal(err)
	}
	if err := a.Adopt(off); !errors.Is(err, alloc.ErrInvalidFree) {
		t.Errorf("Adopt of a free block: %v, want ErrInvalidFree", err)
	}
}
