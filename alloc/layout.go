package alloc

import (
	"sync/atomic"
)

// The heap's bytes, from the segment's heap offset (segment.Heap). Every
// process derives the same positions from the heap's offset and size, which
// the segment header fixes and validates on open. docs/LAYOUT.md has the
// same description; layout_test.go pins the sizes.
//
//	[heapOff, +headerSize)          heapHeader
//	[tableOff, +4*numChunks)        chunk table: one uint32 per chunk
//	[chunkOff, +chunkSize*numChunks) chunks, chunkOff aligned to 4096
//
// The heap is all zeros when a segment is created, and all zeros is an empty
// allocator, so nobody has to initialise it (and no creator can die doing so).
//
// Memory is handed out in chunks of chunkSize bytes, claimed by bumping
// heapHeader.chunks. A chunk of a small class is cut into equal blocks; a
// large block spans whole chunks. The chunk table records each chunk's class,
// so the heap can always be walked block by block (for recovery and checks)
// even if a process died right after bumping.

const (
	chunkSize  = 16 << 10
	blockAlign = 16
	blockHdr   = 16 // bytes of blockHeader before each payload

	// largest block (header included) cut from a chunk; bigger ones span chunks
	maxSmallBlock = chunkSize / 2
)

// heapHeader sits at the start of the heap.
//
// Each small class has shards free lists (each with its own counters), and
// Alloc and Free pick one at random: with a single list per class, every
// process and goroutine that allocates a size CASes the same cache line
// twice per allocate-and-free (and added to its counters twice more), and
// that line's transfers between cores bounded the whole heap, however many
// cores ran. Large classes, allocated rarely, keep one list.
type heapHeader struct {
	chunks atomic.Uint64                          // 0: chunks claimed so far (bump pointer, in chunks)
	_      [56]byte                               // 8: reserved, zero; pads chunks onto its own cache line
	lists  [numClasses]classList                  // 64: shard 0 of every class
	shards [numSmallClasses][shards - 1]classList // 64 + 64*numClasses: shards 1.. of the small classes
}

const (
	// shards is the number of free lists of each small class, a power of
	// two.
	shardBits = 3
	shards    = 1 << shardBits
	// numSmallClasses is the number of small classes (classes.go; a test
	// checks it against the table).
	numSmallClasses = 31
)

// classList is the free list of one size class and its counters, on a cache
// line of its own so classes do not contend with one another.
//
// head bit layout (a Treiber stack head, changed only by CAS):
//
//	bits[0:32]  block index of the top block (header offset / 16); 0 = empty
//	bits[32:64] tag, derived from the value read plus one on every change, so
//	            a stale head whose block was popped and pushed again (ABA)
//	            fails its CAS
type classList struct {
	head   atomic.Uint64 // 0
	allocs atomic.Uint64 // 8: blocks handed out by Alloc, ever
	frees  atomic.Uint64 // 16: blocks returned by Free or reclaimed, ever
	carved atomic.Uint64 // 24: blocks created by cutting chunks, ever
	_      [32]byte
}

// blockHeader precedes every block's payload.
//
// state bit layout:
//
//	bits[0:8]   stateFree, stateOwned, statePublished (0: never initialised)
//	bits[8:16]  size class
//	bits[16:32] owner's registry slot (stateOwned only)
//	bits[32:64] owner's slot generation (stateOwned only)
//
// next bit layout (meaningful while the block is on a free list):
//
//	bits[0:32]  block index of the next free block; 0 = end of list
//	bits[32:64] blockMagic, to catch a list pointing at something not a block
type blockHeader struct {
	state atomic.Uint64 // 0: written by CAS (Free, recovery) or a release store by the owner (Alloc, Publish)
	next  atomic.Uint64 // 8: written by whoever pushes the block, before the push's CAS publishes it
}

const (
	stateNone      = 0
	stateFree      = 1
	stateOwned     = 2
	statePublished = 3

	blockMagic = 0xB10C4EAD
)

func packState(st uint8, class int, slot int, gen uint32) uint64 {
	return uint64(gen)<<32 | uint64(uint16(slot))<<16 | uint64(uint8(class))<<8 | uint64(st)
}
func stateOf(w uint64) uint8         { return uint8(w) }
func classOf(w uint64) int           { return int(uint8(w >> 8)) }
func ownerOf(w uint64) (int, uint32) { return int(uint16(w >> 16)), uint32(w >> 32) }

// Chunk table entries: 0 means the chunk was claimed but its claimer died
// before recording it (or it is unclaimed); otherwise class+1.
func chunkEntry(class int) uint32 { return uint32(class) + 1 }
