package alloc

import (
	"fmt"
	"runtime/debug"

	"github.com/posixshm/posixshm/segment"
)

// Walking the heap: the chunk table says what each claimed chunk holds, so
// every block can be visited without trusting any free list. Recovery and
// Check use it; the data path never does.

// walk calls fn for each block of the claimed chunks with its header offset
// and state word, in address order. It stops at the first error fn returns.
// It returns how many chunks it skipped because their table entry was zero
// or invalid.
func (a *Allocator) walk(fn func(h, w uint64) error) (skipped int, err error) {
	used := min(a.hdr.chunks.Load(), a.nChunks)
	for c := uint64(0); c < used; {
		e := a.table[c].Load()
		if e == 0 || int(e-1) >= len(classes) {
			skipped++ // claimed by a process that died before recording it, or corrupt
			c++
			continue
		}
		cl := classes[e-1]
		base := a.chunkOff + c*chunkSize
		if cl.chunks > 0 {
			if err := fn(base, a.block(base).state.Load()); err != nil {
				return skipped, err
			}
			c += cl.chunks
			continue
		}
		for h := base; h+cl.size <= base+chunkSize; h += cl.size {
			if err := fn(h, a.block(h).state.Load()); err != nil {
				return skipped, err
			}
		}
		c++
	}
	return skipped, nil
}

// reclaim frees the blocks that the attachment (slot, gen) allocated and
// never published. It runs as a segment recovery hook once that attachment
// is known dead; a second run finds nothing left to free.
func (a *Allocator) reclaim(slot int, gen uint32) (int, error) {
	n := 0
	_, err := a.walk(func(h, w uint64) error {
		if stateOf(w) != stateOwned {
			return nil
		}
		if s, g := ownerOf(w); s == slot && g == gen {
			if a.reclaimable(h, w) && a.release(h, w) == nil {
				n++
			}
		}
		return nil
	})
	return n, err
}

// reclaimable reports whether the owned block at h, found by a heap walk,
// names a class that its chunk was cut for; a corrupt state word must not
// put a block on another class's list.
func (a *Allocator) reclaimable(h, w uint64) bool {
	return classOf(w) < len(classes) && a.checkPlacement(h, classOf(w)) == nil
}

// ReclaimDead frees every unpublished block whose owner is no longer
// attached, whichever slot it held. Recovery normally does this per dead
// process; tools call it after a crash of the recovering process itself.
func (a *Allocator) ReclaimDead() (_ int, err error) {
	defer a.seg.Catch(&err, debug.SetPanicOnFault(true))
	n := 0
	_, err = a.walk(func(h, w uint64) error {
		if stateOf(w) != stateOwned {
			return nil
		}
		if s, g := ownerOf(w); !a.seg.Alive(s, g) {
			if a.reclaimable(h, w) && a.release(h, w) == nil {
				n++
			}
		}
		return nil
	})
	return n, err
}

func init() {
	segment.RegisterRecoveryHook("alloc: free blocks of dead processes", func(s *segment.Segment, slot int, gen uint32) (int, error) {
		a, err := Of(s)
		if err != nil {
			return 0, err
		}
		return a.reclaim(slot, gen) // under Recover's fault guard
	})
}

// ClassStats describes one size class.
type ClassStats struct {
	BlockSize uint64 // bytes per block, header included
	InUse     uint64 // blocks allocated and not freed
	Free      uint64 // blocks cut from chunks and on the free list
}

// Stats describes the heap. Counters are read one by one while others may
// be allocating, so under load they are approximate; at rest they balance.
type Stats struct {
	HeapBytes  uint64       // bytes of the chunk area
	ChunksUsed uint64       // chunks claimed
	Chunks     uint64       // chunks in the heap
	UsedBytes  uint64       // bytes in allocated blocks, headers included
	FreeBytes  uint64       // bytes in free blocks plus unclaimed chunks
	Allocs     uint64       // Alloc calls that succeeded, ever
	Frees      uint64       // blocks freed (by Free or recovery), ever
	Classes    []ClassStats // one per size class with any block
}

// Stats returns the heap's counters. It takes no lock and does not block.
func (a *Allocator) Stats() (st Stats) {
	defer a.seg.Catch(nil, debug.SetPanicOnFault(true))
	used := min(a.hdr.chunks.Load(), a.nChunks)
	st = Stats{HeapBytes: a.nChunks * chunkSize, Chunks: a.nChunks, ChunksUsed: used}
	st.FreeBytes = (a.nChunks - used) * chunkSize
	for i := range classes {
		allocs, frees, carved := a.counters(i)
		if carved == 0 {
			continue
		}
		inUse := allocs - frees
		if frees > allocs {
			inUse = 0
		}
		free := carved - min(inUse, carved)
		st.Allocs += allocs
		st.Frees += frees
		st.UsedBytes += inUse * classes[i].size
		st.FreeBytes += free * classes[i].size
		st.Classes = append(st.Classes, ClassStats{BlockSize: classes[i].size, InUse: inUse, Free: free})
	}
	return st
}

// Report is what Check found.
type Report struct {
	Blocks     int      // blocks visited
	Owned      int      // allocated, not yet published
	Published  int      // allocated and published
	Free       int      // free, by state
	OnLists    int      // free blocks reachable from the free lists
	LostChunks int      // chunks claimed but never recorded (a claimer died)
	Problems   []string // inconsistencies; empty when the heap is sound
}

// Check walks the heap and the free lists and reports inconsistencies: a
// list that loops or leaves the heap, a listed block that is not free, a
// free block on no list (leaked by a process that died inside Free), and
// counters that disagree with the blocks. Run it when no other process is
// changing the heap; under concurrent use it reports false problems.
func (a *Allocator) Check() (r Report) {
	var ferr error
	defer func() {
		if ferr != nil {
			r.Problems = append(r.Problems, ferr.Error())
		}
	}()
	defer a.seg.Catch(&ferr, debug.SetPanicOnFault(true))
	problem := func(format string, args ...any) {
		if len(r.Problems) < 100 {
			r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
		}
	}
	perClass := make([]int, len(classes))
	freeBlocks := map[uint64]bool{}
	r.LostChunks, _ = a.walk(func(h, w uint64) error {
		r.Blocks++
		if classOf(w) >= len(classes) {
			// The state word is shared memory: a corrupt class byte must not
			// index perClass (found by the corruption campaign).
			problem("block %d: state %#x names class %d of %d", h+blockHdr, w, classOf(w), len(classes))
			return nil
		}
		switch stateOf(w) {
		case stateOwned:
			r.Owned++
			perClass[classOf(w)]++
		case statePublished:
			r.Published++
			perClass[classOf(w)]++
		case stateFree:
			r.Free++
			freeBlocks[h] = true
		default:
			problem("block %d: %s", h+blockHdr, stateName(stateOf(w)))
		}
		return nil
	})
	maxBlocks := int(a.nChunks * chunkSize / classes[0].size)
	for class := range classes {
		for shard := range a.shardsOf(class) {
			idx := uint32(a.list(class, shard).head.Load())
			for steps := 0; idx != 0; steps++ {
				if steps > maxBlocks || !a.validIndex(idx) {
					problem("class %d free list %d loops or leaves the heap", class, shard)
					break
				}
				h := uint64(idx) * blockAlign
				if !freeBlocks[h] {
					problem("class %d free list %d holds block %d, which is not a free block", class, shard, h+blockHdr)
					break
				}
				delete(freeBlocks, h)
				r.OnLists++
				idx = uint32(a.block(h).next.Load())
			}
		}
	}
	for h := range freeBlocks {
		problem("free block %d is on no free list (leaked)", h+blockHdr)
	}
	for class := range classes {
		if allocs, frees, _ := a.counters(class); allocs-frees != uint64(perClass[class]) {
			inUse := allocs - frees
			problem("class %d: counters say %d blocks in use, the heap holds %d", class, inUse, perClass[class])
		}
	}
	return r
}

// shardsOf returns how many free lists class has.
func (a *Allocator) shardsOf(class int) int {
	if class < numSmallClasses {
		return shards
	}
	return 1
}

// counters sums class's counters over its free lists.
func (a *Allocator) counters(class int) (allocs, frees, carved uint64) {
	for shard := range a.shardsOf(class) {
		l := a.list(class, shard)
		allocs += l.allocs.Load()
		frees += l.frees.Load()
		carved += l.carved.Load()
	}
	return allocs, frees, carved
}
