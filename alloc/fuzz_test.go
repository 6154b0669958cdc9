package alloc_test

import (
	"errors"
	"testing"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/segment"
)

// FuzzCorruptHeap overwrites allocator metadata (heap header, chunk table,
// block headers) with fuzzer bytes, then runs every operation. Each must
// return or fail with an error: no panic, no endless loop.
func FuzzCorruptHeap(f *testing.F) {
	f.Add(uint32(0), []byte{0xff, 0xff, 0xff, 0xff})
	f.Add(uint32(64), []byte{1, 0, 0, 0, 0, 0, 0, 0})
	f.Add(uint32(8256), []byte{0x10, 0, 0, 0, 0xad, 0x4e, 0x0c, 0xb1})
	f.Add(uint32(70000), []byte{2, 3, 4, 5, 6, 7, 8, 9, 10})
	s := newSegment(f, 1<<20)
	heapOff, heapSize := s.Heap()
	mem, err := s.Bytes(heapOff, heapSize)
	if err != nil {
		f.Fatal(err)
	}
	pristine := make([]byte, len(mem))
	f.Fuzz(func(t *testing.T, at uint32, junk []byte) {
		copy(mem, pristine)
		a, err := alloc.Of(s)
		if err != nil {
			t.Fatal(err)
		}
		var offs []segment.Offset
		for _, n := range []uint64{10, 100, 1000, 20000} {
			if off, err := a.Alloc(n); err == nil {
				offs = append(offs, off)
			}
		}
		a.Free(offs[0])
		// Overwrite somewhere in the first 128 KiB of the heap.
		copy(mem[int(at)%(128<<10):], junk)
		for _, n := range []uint64{10, 100, 1000, 20000, 8000} {
			off, err := a.Alloc(n)
			if err != nil {
				if !errors.Is(err, segment.ErrCorrupt) && !errors.Is(err, alloc.ErrOutOfMemory) {
					t.Fatalf("Alloc: unexpected error %v", err)
				}
				continue
			}
			a.Publish(off)
			a.Free(off)
		}
		for _, off := range offs {
			a.Free(off)
			a.Free(off)
		}
		a.Free(segment.Offset(uint64(heapOff) + uint64(at)))
		a.Stats()
		a.Check()
		a.ReclaimDead()
	})
}
