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
// it. It is lock-free: every change is a CAS on a shared word, so no process
// can hold anything another waits for. Free lists are Treiber stacks whose
// heads carry an ABA tag; freed blocks are reused by later allocations of
// their size class.
//
// An Allocator is safe for concurrent use by multiple goroutines and
// processes. Obtain one with Of; it is a view, and many views of one segment
// share the same state.
//
// A block returned by Alloc belongs to the calling attachment until Publish.
// If the process dies before publishing it, recovery (segment.Recover, which
// segment.Open also runs) frees it. A process that dies inside Alloc or Free
// can leak at most the one block (or chunk) it was working on; Check
// reports such leaks.
type Allocator struct {
	seg      *segment.Segment
	hdr      *heapHeader
	table    []atomic.Uint32
	blocks   []blockHeader // the chunk area as 16-byte header slots
	chunkOff uint64        // offset of chunk 0 in the segment
	nChunks  uint64
	slot     int
	gen      uint32
	shard    int // the free list this process tries first (home)
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

// Of returns the allocator of seg's heap. It is cheap: it reads the heap's
// geometry, which every process derives alike from the segment header.
func Of(seg *segment.Segment) (*Allocator, error) {
	heapOff, heapSize := seg.Heap()
	hdrSize := uint64(unsafe.Sizeof(heapHeader{}))
	// chunks n must satisfy hdr + 4n + pad + chunkSize*n <= heapSize
	base := uint64(heapOff)
	tableOff := base + hdrSize
	n := (heapSize - hdrSize) / (chunkSize + 4)
	var chunkOff uint64
	for ; n > 0; n-- {
		chunkOff = (tableOff + 4*n + 4095) &^ 4095
		if chunkOff+n*chunkSize <= base+heapSize {
			break
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("alloc: heap of %d bytes in %s holds no %d-byte chunk", heapSize, seg.Name(), chunkSize)
	}
	hdr, err := segment.At[heapHeader](seg, heapOff)
	if err != nil {
		return nil, err
	}
	table, err := segment.Slice[atomic.Uint32](seg, segment.Offset(tableOff), int(n))
	if err != nil {
		return nil, err
	}
	blocks, err := segment.Slice[blockHeader](seg, segment.Offset(chunkOff), int(n*chunkSize/blockAlign))
	if err != nil {
		return nil, err
	}
	slot, gen := seg.Slot()
	return &Allocator{seg: seg, hdr: hdr, table: table, blocks: blocks, chunkOff: chunkOff, nChunks: n, slot: slot, gen: gen, shard: max(slot, 0) & (shards - 1)}, nil
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
	class := classFor(n + blockHdr)
	if class < 0 {
		return 0, fmt.Errorf("%w: %d bytes", ErrTooLarge, n)
	}
	// Take from this process's list of the class, then from the others,
	// moving on from a list whose CAS another caller won as from an empty
	// one, and carve fresh blocks only when a round found every list of
	// the class empty.
	home, lists := a.home(class), a.shardsOf(class)
	var h uint64
	var l *classList
	for h == 0 {
		contended := false
		for i := 0; i < lists && h == 0; i++ {
			l = a.list(class, (home+i)&(shards-1))
			var lost bool
			if h, lost, err = a.pop(l, class); err != nil {
				return 0, err
			}
			contended = contended || lost
		}
		if h == 0 && !contended {
			l = a.list(class, home)
			if h, err = a.carve(l, class, n); err != nil {
				return 0, err
			}
		}
	}
	// Count before the block is marked owned. A process killed between
	// the two then leaves the counters one block high (a popped block,
	// still marked free, is the one leak a kill in Alloc can cause, and
	// counting it in use is right). In the other order, recovery frees the
	// owned block of the dead process and counts that free, so the
	// counters would say one block fewer than the heap holds.
	//
	// A release store is enough: whatever the caller does to make the
	// block reachable (Publish, a CAS of its offset into shared state) is
	// an atomic that orders it, and recovery reads it after our death.
	l.allocs.Add(1)
	segment.StoreRelease(&a.block(h).state, packState(stateOwned, class, a.slot, a.gen))
	return segment.Offset(h + blockHdr), nil
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

// Free returns a block to its size class. Freeing an offset that is not a
// block, or a block already free, is an ErrInvalidFree error and changes
// nothing. Does not block.
func (a *Allocator) Free(off segment.Offset) (err error) {
	if prev := debug.SetPanicOnFault(true); !prev {
		defer a.seg.Catch(&err, prev) // nested guards: see guardNote
	}
	h, w, err := a.header(off)
	if err != nil {
		return err
	}
	return a.release(h, w)
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
		// the heap walks of recovery hand over whatever the block says
		// (found by the corruption campaign).
		return fmt.Errorf("%w: block %d names class %d of %d", ErrCorrupt, h+blockHdr, class, len(classes))
	}
	if !a.block(h).state.CompareAndSwap(w, packState(stateFree, class, 0, 0)) {
		return fmt.Errorf("%w: block %d freed twice concurrently", ErrInvalidFree, h+blockHdr)
	}
	a.push(class, a.home(class), h).frees.Add(1)
	return nil
}

// list returns free list shard of class.
func (a *Allocator) list(class, shard int) *classList {
	if shard == 0 || class >= numSmallClasses {
		return &a.hdr.lists[class]
	}
	return &a.hdr.shards[class][shard-1]
}

// home returns the free list of class that the caller tries first: the
// process's own (by registry slot), offset by the caller's P
// (segment.ProcHint), so that goroutines of one process running at once
// start on different lists, and one goroutine's frees and allocations of a
// size reuse the same, cache-warm blocks. Alloc and push move on to the
// next list whenever a CAS loses to another caller.
//
// The P's bits are reversed (P 1 offsets by 4, P 2 by 2, P 3 by 6), so
// that processes in neighbouring slots do not meet: slots 1 to 4 with Ps
// 0 and 1 take eight different lists, where a plain sum would send slot 1
// on P 1 to slot 2's list on P 0.
func (a *Allocator) home(class int) int {
	if class >= numSmallClasses {
		return 0
	}
	return (a.shard + int(bits.Reverse8(uint8(segment.ProcHint()))>>(8-shardBits))) & (shards - 1)
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
	if stateOf(w) == stateNone || class >= len(classes) {
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
	chunk := rel / chunkSize
	if chunk >= a.nChunks || a.table[chunk].Load() != chunkEntry(class) {
		return fmt.Errorf("%w: block at %d claims class %d, its chunk says otherwise", ErrCorrupt, h+blockHdr, class)
	}
	c := classes[class]
	if c.chunks == 0 {
		if (rel%chunkSize)%c.size != 0 || rel%chunkSize+c.size > chunkSize {
			return fmt.Errorf("%w: block at %d is not on a class-%d boundary", ErrCorrupt, h+blockHdr, class)
		}
	} else if rel%chunkSize != 0 || chunk+c.chunks > a.nChunks {
		return fmt.Errorf("%w: large block at %d misplaced", ErrCorrupt, h+blockHdr)
	}
	return nil
}

// block returns the header at offset h, which callers have checked lies in
// the chunk area (header, validIndex, or their own arithmetic).
func (a *Allocator) block(h uint64) *blockHeader {
	return &a.blocks[(h-a.chunkOff)/blockAlign]
}

// validIndex reports whether a block index read from shared memory names a
// 16-aligned header inside the chunk area.
func (a *Allocator) validIndex(idx uint32) bool {
	h := uint64(idx) * blockAlign
	return h >= a.chunkOff && h < a.chunkOff+a.nChunks*chunkSize
}

// pop takes the top block of l, a free list of class, and returns its
// header offset; 0 if the list is empty, or if its CAS lost to another
// caller (lost), when the caller had better try another list.
func (a *Allocator) pop(l *classList, class int) (h uint64, lost bool, err error) {
	for {
		head := l.head.Load()
		idx := uint32(head)
		if idx == 0 {
			return 0, false, nil
		}
		if !a.validIndex(idx) {
			return 0, false, fmt.Errorf("%w: class %d free list head %d is outside the heap", ErrCorrupt, class, idx)
		}
		h := uint64(idx) * blockAlign
		next := a.block(h).next.Load()
		nidx := uint32(next)
		if next>>32 != blockMagic || (nidx != 0 && !a.validIndex(nidx)) {
			// Either another process popped the block and reused it since
			// we read the head (the CAS would fail: retry), or the list is
			// corrupt (the head is unchanged).
			if l.head.Load() == head {
				return 0, false, fmt.Errorf("%w: class %d free list: block %d has a bad link", ErrCorrupt, class, h+blockHdr)
			}
			continue
		}
		if !l.head.CompareAndSwap(head, (head>>32+1)<<32|uint64(nidx)) {
			return 0, true, nil
		}
		if w := a.block(h).state.Load(); stateOf(w) != stateFree || classOf(w) != class {
			return 0, false, fmt.Errorf("%w: class %d free list held a block in state %s", ErrCorrupt, class, stateName(stateOf(w)))
		}
		return h, false, nil
	}
}

// push puts the block at header offset h on a free list of class, starting
// with list shard and moving on to the next when a CAS loses to another
// caller (home), and returns the list.
func (a *Allocator) push(class, shard int, h uint64) *classList {
	l := a.list(class, shard)
	idx := uint64(h / blockAlign)
	b := a.block(h)
	for {
		head := l.head.Load()
		b.next.Store(blockMagic<<32 | uint64(uint32(head)))
		if l.head.CompareAndSwap(head, (head>>32+1)<<32|idx) {
			return l
		}
		if class < numSmallClasses {
			shard = (shard + 1) & (shards - 1)
			l = a.list(class, shard)
		}
	}
}

// carve claims fresh chunks for class. For a small class it cuts the chunk
// into blocks, keeps the first and pushes the rest with one CAS; for a large
// class the block is the claimed span. It returns the kept block's header
// offset. The other blocks go on l, a free list of class.
func (a *Allocator) carve(l *classList, class int, n uint64) (uint64, error) {
	c := classes[class]
	span := max(c.chunks, 1)
	var first uint64
	for {
		used := a.hdr.chunks.Load()
		if used > a.nChunks || span > a.nChunks-used {
			st := a.Stats()
			return 0, fmt.Errorf("%w: %d bytes (class %d, %d chunks) requested; %d of %d chunks in use, %d bytes free in blocks of other sizes", ErrOutOfMemory, n, class, span, min(used, a.nChunks), a.nChunks, st.FreeBytes)
		}
		if a.hdr.chunks.CompareAndSwap(used, used+span) {
			first = used
			break
		}
	}
	// A death right here leaves chunk table entries of zero: the chunks are
	// lost, but the heap stays walkable (walk skips zero entries one chunk
	// at a time).
	base := a.chunkOff + first*chunkSize
	if c.chunks > 0 {
		a.block(base).state.Store(packState(stateFree, class, 0, 0))
		a.table[first].Store(chunkEntry(class))
		l.carved.Add(1)
		return base, nil
	}
	count := chunkSize / c.size
	for i := uint64(0); i < count; i++ {
		h := base + i*c.size
		b := a.block(h)
		b.state.Store(packState(stateFree, class, 0, 0))
		next := uint64(0)
		if i+1 < count {
			next = (h + c.size) / blockAlign
		}
		b.next.Store(blockMagic<<32 | next)
	}
	a.table[first].Store(chunkEntry(class))
	l.carved.Add(count)
	if count > 1 {
		// Link blocks 1..count-1 in front of the current list in one CAS.
		firstIdx := uint64((base + c.size) / blockAlign)
		last := a.block(base + (count-1)*c.size)
		for {
			head := l.head.Load()
			last.next.Store(blockMagic<<32 | uint64(uint32(head)))
			if l.head.CompareAndSwap(head, (head>>32+1)<<32|firstIdx) {
				break
			}
		}
	}
	return base, nil
}

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
	}
	return fmt.Sprintf("state(%d)", st)
}
