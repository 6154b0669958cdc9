package alloc

import (
	"sync/atomic"
)

// The heap's bytes, from the segment's heap offset (segment.Heap). Every
// process derives the same positions from the heap's offset and size, which
// the segment header fixes and validates on open. docs/LAYOUT.md has the
// same description; layout_test.go pins the sizes and offsets.
//
//	[heapOff, +hdrSize)            heapHeader
//	[availOff, +8*31*words)        per small class, one bit per chunk: the chunk may have free blocks
//	[claimedOff, +8*words)         one bit per chunk: set while the chunk is in use (clear: in the pool)
//	[tableOff, +8*n)               chunk table: one chunkWord per chunk
//	[bitsOff, +64*n)               free bitmaps: 8 words per chunk, bit i set = block i free; 64-aligned
//	[chunkOff, +chunkSize*n)       chunks, chunkOff aligned to 4096
//
// with words = ceil(n/64). The heap is all zeros when a segment is created,
// and all zeros is an empty allocator (every chunk unused and in the pool),
// so nobody has to initialise it and no creator can die doing so.
//
// What is true and what is a hint. The truth is two kinds of word, each
// changed by a CAS or by its owner alone:
//   - a chunk's table entry: unused, being carved, cut into blocks of one
//     small class, the head of a large block, covered by one, or on its way
//     back to the pool (with the attachment moving it);
//   - a block's state word: free, owned by an attachment, published, or on
//     its way back to free (with the attachment moving it).
//
// The bits are indexes over the truth, kept in step by the step that
// changes it: a free block's bit is set, a chunk in use has its claimed bit
// set. Every change that needs a truth word and a bit goes through a state
// that names the attachment making it (freeing, retired, carving,
// releasing), and nothing else moves a word out of such a state; so a
// process killed between the two leaves a word naming it, and recovery
// (repair.go) finishes the change without meeting any live process on the
// way. The cursors and the avail bits are hints only: an allocator that
// follows a stale one finds nothing and moves on.

const (
	chunkSize  = 16 << 10
	blockAlign = 16
	blockHdr   = 16 // bytes of blockHeader before each payload

	// largest block (header included) cut from a chunk; bigger ones span chunks
	maxSmallBlock = chunkSize / 2

	// bitmapWords is the number of free-bitmap words per chunk: enough
	// for the smallest class (32-byte blocks, 512 per chunk).
	bitmapWords = chunkSize / 32 / 64
)

// heapHeader sits at the start of the heap.
type heapHeader struct {
	chunks atomic.Uint64 // 0: high-water mark: no chunk at or past it was ever claimed; raised before a claim
	_      [56]byte      // 8: reserved, zero; pads chunks onto its own cache line

	// 64: for each small class, the chunk each of its shards allocates
	// from, as chunk index + 1 (0: none yet). Read on every Alloc, written
	// when a shard moves to another chunk; a hint.
	cursors [numSmallClasses][shards]atomic.Uint64

	// 64 + 64*31: activity counters, a cache line per shard.
	counters [shards]shardCounters
}

const (
	// shards is the number of cursors and counter lines of each small
	// class, a power of two.
	shardBits = 3
	shards    = 1 << shardBits
	// numSmallClasses is the number of small classes (classes.go; a test
	// checks it against the table).
	numSmallClasses = 31
)

// shardCounters count Alloc and Free calls, a line per shard so that
// processes and goroutines allocating at once add to different lines. They
// are statistics, not the heap's truth: Stats derives what is in use and
// free from the chunk table and the bitmaps, and a process killed between
// an operation and its count leaves them one short.
type shardCounters struct {
	allocs atomic.Uint64 // 0: blocks returned by Alloc
	frees  atomic.Uint64 // 8: blocks freed by Free or by recovery
	_      [48]byte
}

// chunkWord is a chunk's table entry.
//
// bit layout:
//
//	bits[0:8]   status: chunkUnused, chunkCarving, chunkSmall, chunkLarge,
//	            chunkCont, chunkRetiring, chunkFreeing or chunkReleasing
//	bits[8:16]  size class (small, large, cont, retiring, freeing)
//	bits[16:32] registry slot of the attachment carving, retiring, freeing
//	            or releasing
//	bits[32:64] that attachment's slot generation; for chunkCont, the index
//	            of the large block's first chunk
//
// Zero is an unused chunk, so a fresh heap needs no initialisation.
const (
	chunkUnused    = 0 // in the pool
	chunkCarving   = 1 // claimed by a process that is initialising it
	chunkSmall     = 2 // cut into blocks of a small class
	chunkLarge     = 3 // the first chunk of a large block
	chunkCont      = 4 // a later chunk of a large block
	chunkRetiring  = 5 // a small chunk whose blocks are all free, going back to the pool
	chunkFreeing   = 6 // a large block going back to the pool
	chunkReleasing = 7 // a chunk whose claimed bit is being cleared; then unused
)

func packChunk(status uint8, class int, slot int, gen uint32) uint64 {
	return uint64(gen)<<32 | uint64(uint16(slot))<<16 | uint64(uint8(class))<<8 | uint64(status)
}
func chunkStatus(w uint64) uint8             { return uint8(w) }
func chunkClass(w uint64) int                { return int(uint8(w >> 8)) }
func chunkOwner(w uint64) (int, uint32)      { return int(uint16(w >> 16)), uint32(w >> 32) }
func contWord(class int, head uint64) uint64 { return packChunk(chunkCont, class, 0, uint32(head)) }

// blockHeader precedes every block's payload.
//
// state bit layout:
//
//	bits[0:8]   stateFree, stateOwned, statePublished, stateFreeing or
//	            stateRetired (0: never initialised)
//	bits[8:16]  size class
//	bits[16:32] registry slot of the owner (owned), of the attachment
//	            freeing it (freeing) or returning its chunk (retired)
//	bits[32:64] that attachment's slot generation
//
// A small block's bit in its chunk's bitmap is set exactly when its state
// is free, except while a step moves it: Alloc CASes free to owned, then
// clears the bit; Free CASes owned or published to freeing, sets the bit,
// then stores free. A large block is free when its chunks are back in the
// pool.
type blockHeader struct {
	state atomic.Uint64 // 0: written by the block's owner (Alloc, Publish), by CAS in Free, and by recovery
	_     uint64        // 8: reserved, zero; keeps payloads 16-aligned
}

const (
	stateNone      = 0
	stateFree      = 1
	stateOwned     = 2
	statePublished = 3
	stateFreeing   = 4 // Free has it: bit being set
	stateRetired   = 5 // taken by the attachment returning its chunk to the pool
)

func packState(st uint8, class int, slot int, gen uint32) uint64 {
	return uint64(gen)<<32 | uint64(uint16(slot))<<16 | uint64(uint8(class))<<8 | uint64(st)
}
func stateOf(w uint64) uint8         { return uint8(w) }
func classOf(w uint64) int           { return int(uint8(w >> 8)) }
func ownerOf(w uint64) (int, uint32) { return int(uint16(w >> 16)), uint32(w >> 32) }
