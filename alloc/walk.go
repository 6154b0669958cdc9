package alloc

import (
	"fmt"
	"math/bits"
	"runtime/debug"
)

// Walking the heap: the chunk table says what each chunk holds, so every
// block can be visited from it. Recovery, Stats and Check use it; the data
// path never does.

// walkBlocks calls fn for each block of the chunks cut into blocks (small,
// and being retired) and each large block, with its header offset, its
// state word and, for a small block, whether its free bit is set (large:
// false). It stops at the first error fn returns.
func (a *Allocator) walkBlocks(fn func(h, w uint64, bitFree bool) error) error {
	used := min(a.hdr.chunks.Load(), a.nChunks)
	for c := uint64(0); c < used; c++ {
		e := a.table[c].Load()
		class := chunkClass(e)
		switch chunkStatus(e) {
		case chunkSmall, chunkRetiring:
			if class >= numSmallClasses {
				continue
			}
			cl := classes[class]
			bm := a.bitmap(c)
			base := a.chunkBase(c)
			for i := range cl.blocks {
				h := base + i*cl.size
				if err := fn(h, a.block(h).state.Load(), bm[i/64].Load()&(1<<(i%64)) != 0); err != nil {
					return err
				}
			}
		case chunkLarge:
			if class < numSmallClasses || class >= len(classes) {
				continue
			}
			if err := fn(a.chunkBase(c), a.block(a.chunkBase(c)).state.Load(), false); err != nil {
				return err
			}
		}
	}
	return nil
}

// ClassStats describes one size class.
type ClassStats struct {
	BlockSize uint64 // bytes per block, header included
	InUse     uint64 // blocks allocated and not freed
	Free      uint64 // free blocks in chunks of the class
	Chunks    uint64 // chunks cut for the class (small) or held by its blocks (large)
}

// Stats describes the heap. The figures of memory (chunks, bytes, blocks in
// use and free) are read from the chunk table and the free bitmaps, the
// heap's own record of what is free, so at rest they are exact, and stay
// exact across processes killed at any point once recovery has run. Under
// load they are read one word at a time, so they are approximate. Allocs and
// Frees are activity counters: a process killed between an operation and
// its count leaves them one short.
type Stats struct {
	HeapBytes  uint64       // bytes of the chunk area
	ChunksUsed uint64       // chunks in use by some class (not in the pool)
	ChunksHigh uint64       // high-water mark: no chunk at or past it was ever in use
	Chunks     uint64       // chunks in the heap
	UsedBytes  uint64       // bytes in allocated blocks, headers included
	FreeBytes  uint64       // bytes in free blocks plus unused chunks
	Allocs     uint64       // Alloc calls that succeeded, ever
	Frees      uint64       // blocks freed (by Free or recovery), ever
	Classes    []ClassStats // one per size class with any chunk
}

// Stats returns the heap's figures. It takes no lock and does not block;
// it reads every chunk's table entry and bitmap.
func (a *Allocator) Stats() (st Stats) {
	defer a.seg.Catch(nil, debug.SetPanicOnFault(true))
	used := min(a.hdr.chunks.Load(), a.nChunks)
	st = Stats{HeapBytes: a.nChunks * chunkSize, Chunks: a.nChunks, ChunksHigh: used}
	per := make([]ClassStats, len(classes))
	for c := uint64(0); c < used; c++ {
		e := a.table[c].Load()
		class := chunkClass(e)
		switch chunkStatus(e) {
		case chunkUnused:
			continue
		case chunkSmall, chunkRetiring:
			if class >= numSmallClasses {
				continue
			}
			nb := classes[class].blocks
			free := uint64(0)
			bm := a.bitmap(c)
			for w := range (nb + 63) / 64 {
				free += uint64(bits.OnesCount64(bm[w].Load() & fullMask(nb, w)))
			}
			per[class].Chunks++
			per[class].Free += free
			per[class].InUse += nb - free
		case chunkLarge:
			if class >= numSmallClasses && class < len(classes) {
				per[class].Chunks += classes[class].chunks
				per[class].InUse++
			}
		}
	}
	for i := range a.hdr.counters {
		st.Allocs += a.hdr.counters[i].allocs.Load()
		st.Frees += a.hdr.counters[i].frees.Load()
	}
	for class := range classes {
		p := per[class]
		if p.Chunks == 0 {
			continue
		}
		p.BlockSize = classes[class].size
		st.UsedBytes += p.InUse * p.BlockSize
		st.FreeBytes += p.Free * p.BlockSize
		st.Classes = append(st.Classes, p)
	}
	// Chunks neither cut for a small class nor held by a large block are
	// free: in the pool, or in the middle of a step.
	for _, p := range st.Classes {
		st.ChunksUsed += p.Chunks
	}
	st.ChunksUsed = min(st.ChunksUsed, a.nChunks)
	st.FreeBytes += (a.nChunks - st.ChunksUsed) * chunkSize
	return st
}

// Report is what Check found.
type Report struct {
	Blocks     int      // blocks visited
	Owned      int      // allocated, not yet published
	Published  int      // allocated and published
	Free       int      // free, by state
	OnLists    int      // free blocks whose free bit is set, so that Alloc finds them
	LostChunks int      // unused chunks whose claimed bit is set, so the pool does not offer them
	Problems   []string // inconsistencies; empty when the heap is sound
}

// Check walks the heap and reports inconsistencies: a block whose free bit
// and state disagree (a free block no Alloc would find is a leak), a chunk
// with free blocks that its class's hints do not list, an unused chunk the
// pool does not list, a step left half done by a dead process (recovery
// finishes those), a large block's run that does not hold together, and in
// each class, blocks in use by the bitmaps that differ from those in use by
// the block states. Run it when no other process is changing the heap;
// under concurrent use it reports false problems.
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
	used := min(a.hdr.chunks.Load(), a.nChunks)
	if a.hdr.chunks.Load() > a.nChunks {
		problem("high-water mark %d is past the heap's %d chunks", a.hdr.chunks.Load(), a.nChunks)
	}
	for c := used; c < a.nChunks; c++ {
		if a.table[c].Load() != 0 || a.claimed[c/64].Load()&(1<<(c%64)) != 0 {
			problem("chunk %d, past the high-water mark %d, is in use", c, used)
			break
		}
	}
	byBits := make([]int, len(classes))
	byState := make([]int, len(classes))
	for c := uint64(0); c < used; c++ {
		e := a.table[c].Load()
		st, class := chunkStatus(e), chunkClass(e)
		switch st {
		case chunkUnused:
			if a.claimed[c/64].Load()&(1<<(c%64)) != 0 {
				r.LostChunks++
				problem("chunk %d is unused but marked claimed, so the pool never offers it (lost)", c)
			}
			continue
		case chunkCarving, chunkRetiring, chunkFreeing, chunkReleasing:
			if s, g := chunkOwner(e); !a.seg.Alive(s, g) {
				problem("chunk %d was left %s by a dead process (slot %d): run recovery", c, chunkStatusName(st), s)
			}
			if st == chunkRetiring && class < numSmallClasses {
				a.checkSmall(c, class, &r, byBits, byState, problem)
			}
		case chunkSmall:
			if class >= numSmallClasses {
				problem("chunk %d: small chunk of class %d, which is not a small class", c, class)
				continue
			}
			a.checkSmall(c, class, &r, byBits, byState, problem)
		case chunkLarge:
			if class < numSmallClasses || class >= len(classes) || c+classes[class].chunks > a.nChunks {
				problem("chunk %d: large block of class %d does not fit", c, class)
				continue
			}
			for k := uint64(1); k < classes[class].chunks; k++ {
				if a.table[c+k].Load() != contWord(class, c) {
					problem("chunk %d: large block's chunk %d says %#x", c, c+k, a.table[c+k].Load())
				}
			}
			r.Blocks++
			w := a.block(a.chunkBase(c)).state.Load()
			switch {
			case classOf(w) != class:
				problem("large block at chunk %d: state %#x names class %d, its chunk %d", c, w, classOf(w), class)
			case stateOf(w) == stateOwned:
				r.Owned++
			case stateOf(w) == statePublished:
				r.Published++
			default:
				problem("large block at chunk %d is %s", c, stateName(stateOf(w)))
			}
		case chunkCont:
			head := uint64(uint32(e >> 32))
			he := uint64(0)
			if head < c {
				he = a.table[head].Load()
			}
			if head >= c || (chunkStatus(he) != chunkLarge && chunkStatus(he) != chunkFreeing && chunkStatus(he) != chunkCarving) || (chunkStatus(he) != chunkCarving && chunkClass(he) != class) {
				problem("chunk %d continues a large block at chunk %d that is not there (orphan)", c, head)
			}
		default:
			problem("chunk %d: table entry %#x has no meaning", c, e)
		}
		if st != chunkReleasing && a.claimed[c/64].Load()&(1<<(c%64)) == 0 {
			problem("chunk %d is in use (%s) but not marked claimed", c, chunkStatusName(st))
		}
	}
	for class := range numSmallClasses {
		if byBits[class] != byState[class] {
			problem("class %d: the bitmaps say %d blocks in use, the block states %d", class, byBits[class], byState[class])
		}
	}
	return r
}

// checkSmall checks the blocks of small chunk c of class against its bitmap
// and hints, and counts them.
func (a *Allocator) checkSmall(c uint64, class int, r *Report, byBits, byState []int, problem func(string, ...any)) {
	cl := classes[class]
	nb := cl.blocks
	bm := a.bitmap(c)
	anyFree := false
	for w := range uint64(bitmapWords) {
		if extra := bm[w].Load() &^ fullMask(nb, w); extra != 0 {
			problem("chunk %d: free bits %#x past its %d blocks", c, extra, nb)
		}
	}
	for i := range nb {
		h := a.chunkBase(c) + i*cl.size
		w := a.block(h).state.Load()
		bitFree := bm[i/64].Load()&(1<<(i%64)) != 0
		r.Blocks++
		if !bitFree {
			byBits[class]++
		} else {
			anyFree = true
		}
		if classOf(w) != class {
			problem("block %d: state %#x names class %d, its chunk %d", h+blockHdr, w, classOf(w), class)
			continue
		}
		switch stateOf(w) {
		case stateOwned:
			r.Owned++
			byState[class]++
		case statePublished:
			r.Published++
			byState[class]++
		case stateFree:
			r.Free++
			if bitFree {
				r.OnLists++
			} else if chunkStatus(a.table[c].Load()) != chunkRetiring {
				problem("free block %d is not marked free in its chunk (leaked)", h+blockHdr)
			}
			continue
		case stateFreeing, stateRetired:
			if s, g := ownerOf(w); !a.seg.Alive(s, g) {
				problem("block %d was left %s by a dead process (slot %d): run recovery", h+blockHdr, stateName(stateOf(w)), s)
			}
			continue
		default:
			problem("block %d: %s", h+blockHdr, stateName(stateOf(w)))
			continue
		}
		if bitFree {
			problem("block %d is %s but marked free", h+blockHdr, stateName(stateOf(w)))
		}
	}
	if anyFree && chunkStatus(a.table[c].Load()) == chunkSmall && !a.availSet(class, c) {
		problem("chunk %d has free blocks of class %d that no Alloc would find", c, class)
	}
}

func chunkStatusName(st uint8) string {
	switch st {
	case chunkUnused:
		return "unused"
	case chunkCarving:
		return "half carved"
	case chunkSmall:
		return "small"
	case chunkLarge:
		return "large"
	case chunkCont:
		return "continued"
	case chunkRetiring:
		return "half retired"
	case chunkFreeing:
		return "half freed"
	case chunkReleasing:
		return "half released"
	}
	return fmt.Sprintf("status(%d)", st)
}
