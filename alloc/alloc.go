package alloc

import (
	"fmt"
	"math/bits"
	"runtime/debug"
	"sync/atomic"
	"unsafe"

	"github.com/posixshm/posixshm/segment"
)

// Allocator hands out blocks of a segment's heap to the processes that share
// it. It is lock-free: every change is one atomic instruction on a shared
// word, so no process can hold anything another waits for.
//
// A small block (up to 8 KiB) is cut from a 16 KiB chunk of its size class;
// a bit per block in the chunk's bitmap says it is free, and Alloc claims it
// by clearing the bit. When every block of a chunk is free again the chunk
// goes back to the pool, where any size class, or a large block, can take
// it. A large block is a run of whole chunks.
//
// An Allocator is safe for concurrent use by multiple goroutines and
// processes. Obtain one with Of; it is a view, and many views of one segment
// share the same state.
//
// A block returned by Alloc belongs to the calling attachment until Publish.
// If the process dies before publishing it, recovery (segment.Recover, which
// segment.Open also runs) frees it. A process killed inside Alloc or Free
// leaks nothing either: every step it can be cut in leaves a word naming
// it, which recovery finishes (repair.go); Check then reports a whole heap.
type Allocator struct {
	seg      *segment.Segment
	hdr      *heapHeader
	avail    []atomic.Uint64 // numSmallClasses * words
	claimed  []atomic.Uint64 // words: bit set while the chunk is in use
	table    []atomic.Uint64 // nChunks chunkWords
	bitmaps  []atomic.Uint64 // bitmapWords per chunk
	blocks   []blockHeader   // the chunk area as 16-byte header slots
	chunkOff uint64          // offset of chunk 0 in the segment
	nChunks  uint64
	words    uint64 // words of one chunk bitmap over all chunks: ceil(nChunks/64)
	slot     int
	gen      uint32
	shard    int // the cursor and counter line this process starts from
}

// guardNote: Alloc, Publish and Free turn a fault in the segment (a
// truncated file) into an error, like every operation on shared memory.
// Called from a structure's operation, which has its own guard (the
// goroutine already panics on faults), they skip theirs: the fault then
// reaches the caller's guard, and a guard costs several ns of a hash map
// write that allocates, publishes and frees.

// MaxAlloc is the largest n Alloc accepts; the segment's free space usually
// limits it first.
const MaxAlloc = 1 << 36

// geometry is where each region of a heap lies (layout.go).
type geometry struct {
	availOff, claimedOff, tableOff, bitsOff, chunkOff uint64
	nChunks, words                                    uint64
}

// geometryOf computes the regions of a heap of heapSize bytes at heapOff:
// the most chunks that fit.
func geometryOf(heapOff, heapSize uint64) (g geometry, ok bool) {
	end := heapOff + heapSize
	fixed := heapOff + uint64(unsafe.Sizeof(heapHeader{}))
	layout := func(n uint64) geometry {
		g := geometry{nChunks: n, words: (n + 63) / 64}
		g.availOff = fixed
		g.claimedOff = g.availOff + 8*numSmallClasses*g.words
		g.tableOff = g.claimedOff + 8*g.words
		g.bitsOff = (g.tableOff + 8*n + 63) &^ 63
		g.chunkOff = (g.bitsOff + 8*bitmapWords*n + 4095) &^ 4095
		return g
	}
	if fixed >= end {
		return g, false
	}
	for n := (end - fixed) / chunkSize; n > 0; n-- {
		if g := layout(n); g.chunkOff+n*chunkSize <= end {
			return g, true
		}
	}
	return g, false
}

// Of returns the allocator of seg's heap. It is cheap: it reads the heap's
// geometry, which every process derives alike from the segment header.
func Of(seg *segment.Segment) (*Allocator, error) {
	heapOff, heapSize := seg.Heap()
	g, ok := geometryOf(uint64(heapOff), heapSize)
	if !ok {
		return nil, fmt.Errorf("alloc: heap of %d bytes in %s holds no %d-byte chunk", heapSize, seg.Name(), chunkSize)
	}
	a := &Allocator{seg: seg, chunkOff: g.chunkOff, nChunks: g.nChunks, words: g.words}
	var err error
	if a.hdr, err = segment.At[heapHeader](seg, heapOff); err != nil {
		return nil, err
	}
	slice := func(off, n uint64) []atomic.Uint64 {
		if err != nil {
			return nil
		}
		var s []atomic.Uint64
		s, err = segment.Slice[atomic.Uint64](seg, segment.Offset(off), int(n))
		return s
	}
	a.avail = slice(g.availOff, numSmallClasses*g.words)
	a.claimed = slice(g.claimedOff, g.words)
	a.table = slice(g.tableOff, g.nChunks)
	a.bitmaps = slice(g.bitsOff, bitmapWords*g.nChunks)
	if err != nil {
		return nil, err
	}
	if a.blocks, err = segment.Slice[blockHeader](seg, segment.Offset(g.chunkOff), int(g.nChunks*chunkSize/blockAlign)); err != nil {
		return nil, err
	}
	a.slot, a.gen = seg.Slot()
	a.shard = max(a.slot, 0) & (shards - 1)
	return a, nil
}

// Alloc returns the offset of a block with at least n usable bytes, aligned
// to 16 bytes. Its contents are not zeroed. The block belongs to this
// attachment until Publish; see Allocator. Does not block.
func (a *Allocator) Alloc(n uint64) (_ segment.Offset, err error) {
	if prev := debug.SetPanicOnFault(true); !prev {
		defer a.seg.Catch(&err, prev) // nested guards: see guardNote
	}
	if n > MaxAlloc {
		return 0, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, n, uint64(MaxAlloc))
	}
	if a.slot < 0 {
		return 0, fmt.Errorf("alloc: %w", segment.ErrReadOnly)
	}
	class := classFor(n + blockHdr)
	if class < 0 {
		return 0, fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	var h uint64
	shard := a.shard
	if class < numSmallClasses {
		p := segment.ProcHint()
		shard = a.home(p)
		h, err = a.allocSmall(class, shard)
	} else {
		h, err = a.allocLarge(class)
	}
	if err != nil {
		return 0, err
	}
	count(&a.hdr.counters[shard].allocs)
	return segment.Offset(h + blockHdr), nil
}

// count adds one to an activity counter.
func count(c *atomic.Uint64) { c.Add(1) }

// allocSmall claims a block of small class from the chunks of shard and
// returns its header offset.
func (a *Allocator) allocSmall(class, shard int) (h uint64, err error) {
	cur := &a.hdr.cursors[class][shard]
	for round, retired := 0, false; ; round++ {
		if c := cur.Load() - 1; c < a.nChunks && a.table[c].Load() == packChunk(chunkSmall, class, 0, 0) {
			if h, ok, err := a.claimIn(c, class); err != nil || ok {
				return h, err
			}
		}
		// Chunks whose bits promise blocks that others hold for a moment
		// (taken, not yet cleared; being freed or retired) can send the
		// search round; after a few rounds a fresh chunk is surer, and
		// with a corrupt heap, the only way to end.
		if round < 8 {
			if c, ok := a.findAvail(class, shard); ok {
				cur.Store(c + 1)
				continue
			}
		}
		c, err := a.carveSmall(class)
		if err == nil {
			cur.Store(c + 1)
			return a.chunkBase(c), nil
		}
		if retired || !a.retireIdle() {
			return 0, err
		}
		retired = true // idle chunks went back to the pool: one more try
	}
}

// home returns the cursor and counter shard that the caller, on P p, uses:
// the process's own (by registry slot), offset by its P, so that goroutines
// of one process running at once start on different chunks.
//
// The P's bits are reversed (P 1 offsets by 4, P 2 by 2, P 3 by 6), so
// that processes in neighbouring slots do not meet: slots 1 to 4 with Ps
// 0 and 1 take eight different shards, where a plain sum would send slot 1
// on P 1 to slot 2's shard on P 0.
func (a *Allocator) home(p int) int {
	return (a.shard + int(bits.Reverse8(uint8(p))>>(8-shardBits))) & (shards - 1)
}

// claimIn claims a free block in chunk c, a chunk of small class, and
// returns its header offset, or ok false when the chunk has no free block.
// A block is claimed by a CAS of its state from free to owned; the bit is
// cleared after. So the state is the truth, and a process killed between
// the two leaves an owned block of a dead owner, which recovery frees, bit
// and all.
func (a *Allocator) claimIn(c uint64, class int) (h uint64, ok bool, err error) {
	cl := &classes[class]
	nb := cl.blocks
	bm := a.bitmap(c)
	free := packState(stateFree, class, 0, 0)
	owned := packState(stateOwned, class, a.slot, a.gen)
	base := a.chunkBase(c)
	for w := range (nb + 63) / 64 {
		for v := bm[w].Load(); v != 0; v &= v - 1 {
			bit := uint64(bits.TrailingZeros64(v))
			i := uint64(w)*64 + bit
			if i >= nb {
				return 0, false, fmt.Errorf("%w: chunk %d (class %d) marks block %d free, past its %d blocks", ErrCorrupt, c, class, i, nb)
			}
			h = base + i*cl.size
			// A CAS that fails meets a block another caller just took
			// (it clears the bit next), one being freed (its state says
			// free once the bit is set), or a chunk cut for another class
			// since the caller looked: move on to the next bit.
			if a.block(h).state.CompareAndSwap(free, owned) {
				bm[w].And(^(1 << bit))
				return h, true, nil
			}
		}
	}
	// Empty: take the chunk out of the class's avail hints, then look once
	// more, since a Free may have set a bit and found the hint still set.
	a.clearAvail(class, c)
	for w := range (nb + 63) / 64 {
		if bm[w].Load() != 0 {
			a.setAvail(class, c)
			return 0, false, nil
		}
	}
	return 0, false, nil
}

// findAvail returns a chunk of class that may have free blocks, searching
// the class's avail bits from a point that depends on the shard.
func (a *Allocator) findAvail(class, shard int) (uint64, bool) {
	av := a.availOf(class)
	start := uint64(shard) * a.words / shards
	for k := range a.words {
		w := (start + k) % a.words
		for v := av[w].Load(); v != 0; v &= v - 1 {
			c := w*64 + uint64(bits.TrailingZeros64(v))
			if c < a.nChunks && a.table[c].Load() == packChunk(chunkSmall, class, 0, 0) {
				return c, true
			}
			// A stale hint: the chunk went back to the pool.
			av[w].And(^(1 << (c % 64)))
		}
	}
	return 0, false
}

// carveSmall claims a chunk for small class, cuts it into blocks, keeps the
// first for the caller (owned) and marks the rest free. It returns the
// chunk's index.
func (a *Allocator) carveSmall(class int) (uint64, error) {
	c, err := a.claimChunks(1, class)
	if err != nil {
		return 0, err
	}
	cl := &classes[class]
	nb := cl.blocks
	base := a.chunkBase(c)
	free := packState(stateFree, class, 0, 0)
	a.block(base).state.Store(packState(stateOwned, class, a.slot, a.gen))
	for i := uint64(1); i < nb; i++ {
		a.block(base + i*cl.size).state.Store(free)
	}
	bm := a.bitmap(c)
	for w := range uint64(bitmapWords) {
		bm[w].Store(fullMask(nb, w))
	}
	bm[0].And(^uint64(1)) // block 0 is the caller's
	// A death before this CAS leaves the chunk carving under our name:
	// recovery returns it to the pool, block 0 with it.
	if !a.table[c].CompareAndSwap(packChunk(chunkCarving, 0, a.slot, a.gen), packChunk(chunkSmall, class, 0, 0)) {
		return 0, fmt.Errorf("%w: chunk %d changed while this process carved it", ErrCorrupt, c)
	}
	if nb > 1 {
		a.setAvail(class, c)
	}
	return c, nil
}

// fullMask returns word w of the bitmap of a chunk of nb blocks with every
// block free.
func fullMask(nb, w uint64) uint64 {
	switch {
	case nb >= (w+1)*64:
		return ^uint64(0)
	case nb <= w*64:
		return 0
	}
	return 1<<(nb-w*64) - 1
}

// claimChunks claims a run of span unused chunks from the pool and marks
// them carving by this attachment. It returns the first chunk's index.
func (a *Allocator) claimChunks(span uint64, class int) (uint64, error) {
	carving := packChunk(chunkCarving, 0, a.slot, a.gen)
	for {
		start, ok := a.findRun(span)
		if !ok {
			st := a.Stats()
			return 0, fmt.Errorf("%w: %d bytes (class %d, %d chunks) requested; %d of %d chunks in use, %d bytes free in blocks of other sizes", ErrOutOfMemory, classes[class].size-blockHdr, class, span, st.ChunksUsed, a.nChunks, st.FreeBytes)
		}
		// Walks stop at the high-water mark: raise it before any chunk
		// past it can be in use.
		for hw := a.hdr.chunks.Load(); hw < start+span && !a.hdr.chunks.CompareAndSwap(hw, start+span); hw = a.hdr.chunks.Load() {
		}
		k := uint64(0)
		for ; k < span && a.claimChunk(start+k, carving); k++ {
		}
		if k == span {
			return start, nil
		}
		for j := range k { // another process took part of the run: give back ours
			a.releaseChunk(start+j, carving)
		}
	}
}

// findRun returns the first run of span chunks that are unused: claimed
// bit clear and table entry unused.
func (a *Allocator) findRun(span uint64) (uint64, bool) {
	run, start := uint64(0), uint64(0)
	for w := range a.words {
		v := a.claimed[w].Load()
		if v == ^uint64(0) {
			run = 0
			continue
		}
		for b := range uint64(64) {
			c := w*64 + b
			if c >= a.nChunks {
				return 0, false
			}
			// A clear bit over an entry in use is a step in progress (or
			// left by a dead process until recovery): not free either.
			if v&(1<<b) != 0 || a.table[c].Load() != 0 {
				run = 0
				continue
			}
			if run == 0 {
				start = c
			}
			if run++; run == span {
				return start, true
			}
		}
	}
	return 0, false
}

// claimChunk claims unused chunk c for this attachment: a CAS of its table
// entry from unused to carving (the truth), then its claimed bit. A clear
// bit over a chunk in use (between another claimer's CAS and its bit)
// gets set here too, which is right.
func (a *Allocator) claimChunk(c, carving uint64) bool {
	bit := uint64(1) << (c % 64)
	if a.table[c].CompareAndSwap(0, carving) {
		a.claimed[c/64].Or(bit)
		return true
	}
	if st := chunkStatus(a.table[c].Load()); st != chunkUnused && st != chunkReleasing {
		a.claimed[c/64].Or(bit)
	}
	return false
}

// releaseChunk returns chunk c, whose table entry is expect, to the pool:
// releasing under this attachment's name (by CAS), its claimed bit
// cleared, then unused. Only the releaser moves an entry out of releasing,
// so a store does it.
func (a *Allocator) releaseChunk(c, expect uint64) {
	releasing := packChunk(chunkReleasing, 0, a.slot, a.gen)
	if a.table[c].CompareAndSwap(expect, releasing) {
		a.finishRelease(c, releasing)
	}
}

// finishRelease clears the claimed bit of chunk c, releasing under the
// name in releasing, and marks it unused.
func (a *Allocator) finishRelease(c, releasing uint64) {
	a.claimed[c/64].And(^(uint64(1) << (c % 64)))
	a.table[c].CompareAndSwap(releasing, 0)
}

// allocLarge allocates a block of large class, a run of whole chunks.
func (a *Allocator) allocLarge(class int) (uint64, error) {
	span := classes[class].chunks
	c, err := a.claimChunks(span, class)
	if err != nil && a.retireIdle() {
		c, err = a.claimChunks(span, class)
	}
	if err != nil {
		return 0, err
	}
	base := a.chunkBase(c)
	a.block(base).state.Store(packState(stateOwned, class, a.slot, a.gen))
	carving := packChunk(chunkCarving, 0, a.slot, a.gen)
	for k := uint64(1); k < span; k++ {
		a.table[c+k].CompareAndSwap(carving, contWord(class, c))
	}
	// The head last: until it says large, recovery of a dead carver
	// returns every chunk of the run to the pool.
	if !a.table[c].CompareAndSwap(carving, packChunk(chunkLarge, class, 0, 0)) {
		return 0, fmt.Errorf("%w: chunk %d changed while this process claimed it", ErrCorrupt, c)
	}
	return base, nil
}

// Publish marks a block as reachable from shared state, so recovery no
// longer frees it if this process dies. Call it before the block's offset
// becomes visible to other processes: a death between the two then leaks
// the block instead of freeing one that is in use.
func (a *Allocator) Publish(off segment.Offset) (err error) {
	if prev := debug.SetPanicOnFault(true); !prev {
		defer a.seg.Catch(&err, prev) // nested guards: see guardNote
	}
	h, w, err := a.header(off)
	if err != nil {
		return err
	}
	if stateOf(w) != stateOwned {
		return fmt.Errorf("%w: publish of block %d in state %s", ErrInvalidFree, off, stateName(stateOf(w)))
	}
	pub := packState(statePublished, classOf(w), 0, 0)
	if slot, gen := ownerOf(w); slot == a.slot && gen == a.gen {
		// Our own block: while we live nobody else writes its state (only
		// the recovery of a dead owner does), so a release store does what
		// a CAS would, without the locked instruction. It is ordered before
		// whatever the caller does next to make the block reachable, as
		// Alloc's store is.
		segment.StoreRelease(&a.block(h).state, pub)
		return nil
	}
	// A dead process's block, published by the repair of its operation:
	// a concurrent repair or recovery may race us.
	if !a.block(h).state.CompareAndSwap(w, pub) {
		return fmt.Errorf("%w: block %d changed while being published", ErrInvalidFree, off)
	}
	return nil
}

// Adopt makes a published block owned by this attachment again, undoing
// Publish, for a caller about to drop the last shared reference to it and
// then free it: a process that dies between dropping the reference and
// Free leaves a block owned by a dead attachment, which recovery frees,
// where a published block would leak. A block this attachment owns already
// is left as it is. Does not block.
func (a *Allocator) Adopt(off segment.Offset) (err error) {
	if prev := debug.SetPanicOnFault(true); !prev {
		defer a.seg.Catch(&err, prev) // nested guards: see guardNote
	}
	h, w, err := a.headerToChange(off)
	if err != nil {
		return err
	}
	owned := packState(stateOwned, classOf(w), a.slot, a.gen)
	switch {
	case w == owned:
		return nil
	case stateOf(w) != statePublished:
		return fmt.Errorf("%w: adopt of block %d in state %s", ErrInvalidFree, off, stateName(stateOf(w)))
	case !a.block(h).state.CompareAndSwap(w, owned):
		return fmt.Errorf("%w: block %d changed while being adopted", ErrInvalidFree, off)
	}
	return nil
}

// Free returns a block to its size class. Freeing an offset that is not a
// block, or a block already free, is an ErrInvalidFree error and changes
// nothing. Does not block.
func (a *Allocator) Free(off segment.Offset) (err error) {
	if prev := debug.SetPanicOnFault(true); !prev {
		defer a.seg.Catch(&err, prev) // nested guards: see guardNote
	}
	h, w, err := a.headerToChange(off)
	if err != nil {
		return err
	}
	return a.release(h, w)
}

// headerToChange is header for Free and Adopt, which change a block under
// this attachment's name: a handle opened ReadOnly has none.
func (a *Allocator) headerToChange(off segment.Offset) (uint64, uint64, error) {
	if a.slot < 0 {
		return 0, 0, fmt.Errorf("alloc: %w", segment.ErrReadOnly)
	}
	return a.header(off)
}

// release frees the block at header offset h whose state word was w.
func (a *Allocator) release(h, w uint64) error {
	st := stateOf(w)
	if st != stateOwned && st != statePublished {
		return fmt.Errorf("%w: block %d is %s", ErrInvalidFree, h+blockHdr, stateName(st))
	}
	class := classOf(w)
	if class >= len(classes) {
		// w was read from shared memory; Free has checked it (header), but
		// the heap walks of recovery hand over whatever the block says.
		return fmt.Errorf("%w: block %d names class %d of %d", ErrCorrupt, h+blockHdr, class, len(classes))
	}
	if class >= numSmallClasses {
		return a.freeLarge(h, w, class)
	}
	c := (h - a.chunkOff) / chunkSize
	cl := &classes[class]
	i := cl.index(h - a.chunkBase(c))
	// Freeing names this attachment until the state says free: a death in
	// between leaves a word that recovery finishes, and no allocator takes
	// the block before its bit is set.
	freeing := packState(stateFreeing, class, a.slot, a.gen)
	if !a.block(h).state.CompareAndSwap(w, freeing) {
		return fmt.Errorf("%w: block %d freed twice concurrently", ErrInvalidFree, h+blockHdr)
	}
	old := a.bitmap(c)[i/64].Or(1 << (i % 64))
	segment.StoreRelease(&a.block(h).state, packState(stateFree, class, 0, 0))
	// Counted on a line chosen by the chunk: goroutines freeing into
	// their own chunks count on different lines, with no ProcHint.
	count(&a.hdr.counters[c%shards].frees)
	// A chunk with a free block is in its class's avail hints (claimIn
	// clears the hint only when it finds the chunk empty, and looks again
	// after). So only a free into a word that was empty can be the one
	// that makes the chunk non-empty and must restore the hint.
	if old == 0 && !a.availSet(class, c) {
		a.setAvail(class, c)
	}
	if old|1<<(i%64) == fullMask(cl.blocks, i/64) && a.allFree(c, cl.blocks) && !a.isCursor(class, c) {
		a.tryRetire(c, class)
	}
	return nil
}

// freeLarge returns a large block's chunks to the pool. Its first chunk's
// table entry, changed from large to freeing by CAS, is the claim that
// makes a second Free of the block fail; a death before the run is back
// leaves it freeing under this attachment's name, and recovery finishes.
func (a *Allocator) freeLarge(h, w uint64, class int) error {
	c := (h - a.chunkOff) / chunkSize
	if !a.table[c].CompareAndSwap(packChunk(chunkLarge, class, 0, 0), packChunk(chunkFreeing, class, a.slot, a.gen)) {
		return fmt.Errorf("%w: block %d freed twice concurrently", ErrInvalidFree, h+blockHdr)
	}
	count(&a.hdr.counters[c%shards].frees)
	a.finishFreeLarge(c, class, packChunk(chunkFreeing, class, a.slot, a.gen))
	return nil
}

// finishFreeLarge returns to the pool the run of a large block of class at
// chunk c, whose first entry is freeing (the word given).
func (a *Allocator) finishFreeLarge(c uint64, class int, freeing uint64) {
	span := classes[class].chunks
	for k := uint64(1); k < span && c+k < a.nChunks; k++ {
		a.releaseChunk(c+k, contWord(class, c))
	}
	a.releaseChunk(c, freeing)
}

// allFree reports whether every block of chunk c (nb blocks) is free.
func (a *Allocator) allFree(c, nb uint64) bool {
	bm := a.bitmap(c)
	for w := range (nb + 63) / 64 {
		if bm[w].Load() != fullMask(nb, w) {
			return false
		}
	}
	return true
}

// isCursor reports whether a shard of class allocates from chunk c: such a
// chunk stays with its class when it empties, so that a steady allocate and
// free does not cut and return a chunk every time.
func (a *Allocator) isCursor(class int, c uint64) bool {
	for s := range shards {
		if a.hdr.cursors[class][s].Load() == c+1 {
			return true
		}
	}
	return false
}

// tryRetire returns chunk c of small class to the pool if all its blocks
// are free. It marks the chunk retiring under this attachment's name, then
// takes every block by a CAS of its state from free to retired (its name
// again); a block in any other state makes it give back those it took.
// Allocators race it block by block, each block going to whichever CAS
// comes first, and the bits stay as they are until every block is taken:
// an allocator that follows one meets a retired block and moves on.
func (a *Allocator) tryRetire(c uint64, class int) bool {
	small := packChunk(chunkSmall, class, 0, 0)
	retiring := packChunk(chunkRetiring, class, a.slot, a.gen)
	if !a.table[c].CompareAndSwap(small, retiring) {
		return false
	}
	cl := &classes[class]
	free := packState(stateFree, class, 0, 0)
	retired := packState(stateRetired, class, a.slot, a.gen)
	base := a.chunkBase(c)
	for i := range cl.blocks {
		if !a.block(base+i*cl.size).state.CompareAndSwap(free, retired) {
			a.unretire(c, class, retired)
			a.table[c].CompareAndSwap(retiring, small)
			return false
		}
	}
	bm := a.bitmap(c)
	for w := range uint64(bitmapWords) {
		bm[w].Store(0)
	}
	a.clearAvail(class, c)
	a.releaseChunk(c, retiring)
	return true
}

// unretire gives back the blocks of chunk c that were taken as retired
// (the word given): each gets its bit, then its free state, so that no
// allocator can take it between the two.
func (a *Allocator) unretire(c uint64, class int, retired uint64) {
	cl := &classes[class]
	bm := a.bitmap(c)
	free := packState(stateFree, class, 0, 0)
	base := a.chunkBase(c)
	for i := range cl.blocks {
		b := a.block(base + i*cl.size)
		if b.state.Load() == retired {
			bm[i/64].Or(1 << (i % 64))
			b.state.CompareAndSwap(retired, free)
		}
	}
}

// retireIdle returns to the pool the chunks that cursors keep although all
// their blocks are free, so that memory a class no longer uses serves
// others. Alloc calls it before it reports ErrOutOfMemory. It reports
// whether it returned any.
func (a *Allocator) retireIdle() bool {
	did := false
	for class := range numSmallClasses {
		nb := classes[class].blocks
		for s := range shards {
			cur := &a.hdr.cursors[class][s]
			v := cur.Load()
			c := v - 1
			if c >= a.nChunks || a.table[c].Load() != packChunk(chunkSmall, class, 0, 0) || !a.allFree(c, nb) {
				continue
			}
			if cur.CompareAndSwap(v, 0) && !a.isCursor(class, c) && a.tryRetire(c, class) {
				did = true
			}
		}
	}
	return did
}

// UsableSize returns how many bytes the block at off can hold.
func (a *Allocator) UsableSize(off segment.Offset) (_ uint64, err error) {
	defer a.seg.Catch(&err, debug.SetPanicOnFault(true))
	_, w, err := a.header(off)
	if err != nil {
		return 0, err
	}
	return classes[classOf(w)].size - blockHdr, nil
}

// header validates a payload offset against the heap's geometry and the
// chunk table, and returns its header offset and state word. Everything it
// reads is untrusted.
func (a *Allocator) header(off segment.Offset) (uint64, uint64, error) {
	h := uint64(off) - blockHdr
	if uint64(off) < a.chunkOff+blockHdr || h >= a.chunkOff+a.nChunks*chunkSize || h%blockAlign != 0 {
		return 0, 0, fmt.Errorf("%w: offset %d is not a block of the heap", ErrInvalidFree, off)
	}
	w := a.block(h).state.Load()
	class := classOf(w)
	if stateOf(w) == stateNone || stateOf(w) > statePublished || class >= len(classes) {
		return 0, 0, fmt.Errorf("%w: offset %d is not the start of a block", ErrInvalidFree, off)
	}
	if err := a.checkPlacement(h, class); err != nil {
		return 0, 0, err
	}
	return h, w, nil
}

// checkPlacement verifies that a block of class could start at header
// offset h: its chunk is recorded with that class and h falls on a block
// boundary of the chunk.
func (a *Allocator) checkPlacement(h uint64, class int) error {
	rel := h - a.chunkOff
	c := rel / chunkSize
	if c >= a.nChunks {
		return fmt.Errorf("%w: block at %d is outside the heap", ErrInvalidFree, h+blockHdr)
	}
	e := a.table[c].Load()
	cl := classes[class]
	if class < numSmallClasses {
		if st := chunkStatus(e); (st != chunkSmall && st != chunkRetiring) || chunkClass(e) != class {
			return fmt.Errorf("%w: block at %d claims class %d, its chunk says otherwise", ErrInvalidFree, h+blockHdr, class)
		}
		if (rel%chunkSize)%cl.size != 0 || rel%chunkSize+cl.size > chunkSize {
			return fmt.Errorf("%w: block at %d is not on a class-%d boundary", ErrInvalidFree, h+blockHdr, class)
		}
		return nil
	}
	if e != packChunk(chunkLarge, class, 0, 0) || rel%chunkSize != 0 || c+cl.chunks > a.nChunks {
		return fmt.Errorf("%w: block at %d claims large class %d, its chunk says otherwise", ErrInvalidFree, h+blockHdr, class)
	}
	return nil
}

// chunkBase returns the offset of chunk c.
func (a *Allocator) chunkBase(c uint64) uint64 { return a.chunkOff + c*chunkSize }

// block returns the header at offset h, which callers have checked lies in
// the chunk area (header, or their own arithmetic).
func (a *Allocator) block(h uint64) *blockHeader {
	return &a.blocks[(h-a.chunkOff)/blockAlign]
}

// bitmap returns chunk c's free bitmap.
func (a *Allocator) bitmap(c uint64) []atomic.Uint64 {
	return a.bitmaps[c*bitmapWords : (c+1)*bitmapWords : (c+1)*bitmapWords]
}

// availOf returns the avail bits of small class.
func (a *Allocator) availOf(class int) []atomic.Uint64 {
	return a.avail[uint64(class)*a.words : uint64(class+1)*a.words]
}

func (a *Allocator) availSet(class int, c uint64) bool {
	return a.availOf(class)[c/64].Load()&(1<<(c%64)) != 0
}
func (a *Allocator) setAvail(class int, c uint64)   { a.availOf(class)[c/64].Or(1 << (c % 64)) }
func (a *Allocator) clearAvail(class int, c uint64) { a.availOf(class)[c/64].And(^(1 << (c % 64))) }

func stateName(st uint8) string {
	switch st {
	case stateNone:
		return "uninitialised"
	case stateFree:
		return "free"
	case stateOwned:
		return "owned"
	case statePublished:
		return "published"
	case stateFreeing:
		return "being freed"
	case stateRetired:
		return "retired"
	}
	return fmt.Sprintf("state(%d)", st)
}
