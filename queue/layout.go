package queue

import (
	"sync/atomic"
)

// The queue's shared memory: one block of the segment's heap, allocated by
// segment.FindOrCreate, holding a header and the ring of cells.
//
//	[0, 256)                          header (below)
//	[256, 256 + capacity*cellStride)  cells; cell i serves positions ≡ i mod capacity
//
// layout_test.go pins every offset and size; other processes (and other
// builds of this package) depend on them. All integers are in host byte
// order, and every word is aligned to its size.

const (
	// layoutVersion is the queue's own layout version, kept in the directory
	// entry (segment checks it) and in the header (we check it).
	//
	// Version 2: free and full cells carry the position's high bits
	// (below); bit 0 of notEmpty and notFull flags sleepers (queue.go,
	// wake).
	//
	// Version 3: the lost gate (header offset 240) and the counted bit of
	// a reading cell (bit 31), through which an item a dead consumer held
	// is counted in Lost exactly once (repair.go). A version-2 process
	// would count past the gate, so the two must not share a queue.
	layoutVersion uint32 = 3

	headerSize = 256
	cellHeader = 16 // state + meta words in front of each cell's data

	// DefaultCapacity and DefaultSlotSize apply when New creates a queue
	// without Capacity or SlotSize. A 48-byte slot makes each cell exactly
	// one 64-byte cache line.
	DefaultCapacity = 1024
	DefaultSlotSize = 48

	// MaxCapacity is the largest capacity: cell state words keep 28 bits of
	// the position, and positions within twice the capacity must compare
	// unambiguously.
	MaxCapacity = 1 << 24
	// MaxSlotSize is the largest inline slot.
	MaxSlotSize = 1 << 20
	// DefaultMaxValueSize is the largest encoded value a handle pushes
	// (spilling it to the allocator) unless MaxValueSize says otherwise.
	DefaultMaxValueSize = 16 << 20
)

// header is the fixed part of the queue block. The first line is written
// once by the creator inside segment.FindOrCreate's init, before any other
// process can see the object, and only read afterwards. The other lines are
// atomics written by every process; each hot word has a cache line of its
// own so producers and consumers do not false-share.
type header struct {
	magic       uint64 // 0: qMagic; written once
	version     uint32 // 8: layoutVersion; written once
	slotSize    uint32 // 12: bytes of inline data per cell (multiple of 8, >= 8); written once
	capacity    uint64 // 16: number of cells, a power of two; written once
	fingerprint uint64 // 24: codec.Fingerprint of the element codec's ID; written once
	_           [32]byte

	enq atomic.Uint64 // 64: next position to push; a hint, advanced by CAS by producers (and helpers)
	_   [56]byte      // padding to prevent false sharing

	deq atomic.Uint64 // 128: next position to pop; a hint, advanced by CAS by consumers (and helpers)
	_   [56]byte      // padding to prevent false sharing

	lost        atomic.Uint64 // 192: items lost with dead processes (see repair.go); Add by any process
	notEmpty    atomic.Uint32 // 200: futex word: bit 0 sleepers may be waiting; bits 1.. bumped by the producer that clears it (queue.go, wake)
	popWaiters  atomic.Uint32 // 204: goroutines in PopWait about to sleep or asleep
	notFull     atomic.Uint32 // 208: futex word: as notEmpty, for PushWait, cleared by a consumer
	pushWaiters atomic.Uint32 // 212: goroutines in PushWait about to sleep or asleep
	sleeps      atomic.Uint64 // 216: futex sleeps in PushWait and PopWait, ever; Add by the sleeper (slow path only)
	highWater   atomic.Uint64 // 224: largest length seen, sampled every 64th push (stats.go); CAS when it rises
	repaired    atomic.Uint64 // 232: leftovers of dead processes repaired (cells recycled, intents settled); Add by the repairer
	lostGate    atomic.Uint64 // 240: the lost gate (below); CAS to take, store to give back, by whoever counts a lost item
	_           [8]byte       // 248: pad to 256
}

// The lost gate serializes the counting of lost items (repair.go, "Lost,
// exactly once"). lost changes only while the gate is held, so its low
// bits, kept in the gate, tell whether the holder has counted yet:
//
//	bits[0:31]  snap: the low 31 bits of lost; when the gate is free, as
//	            lost is now; when held, as lost was when it was taken
//	bit  31     held
//	bits[32:64] holder: owner stamp (below) of the process that holds it
const (
	gateHeld     = 1 << 31
	gateSnapMask = 1<<31 - 1
)

// Counters on this line are written off the fast path only (a sleep, a
// repair, a new high-water mark), so the producers and consumers that read
// the futex words here on every operation rarely lose the line.

// qMagic is "PSHMQUE1" as a little-endian uint64.
const qMagic uint64 = 0x314555514d485350

// Each cell is cellHeader bytes of words followed by slotSize bytes of data:
//
//	+0   state  uint64, atomic, CAS by any process (bit layout below)
//	+8   meta   uint64, plain (ordered by the state word's atomics); written
//	            by the cell's writer before it publishes: bits[0:32] the
//	            encoded length, bits[32:64] zero
//	+16  data   [slotSize]byte; written by the writer between its claim and
//	            its publish, read by the reader between its claim and its
//	            release. For a spilled value data[0:8] holds the offset of
//	            the allocator block and meta the value's length.
//
// state bit layout:
//
//	bits[0:28]  pos: low 28 bits of the position the cell serves now
//	bits[28:30] st: stFree (the producer of pos may claim it), stWriting
//	            (claimed by a producer), stFull (published, the consumer of
//	            pos may claim it), stReading (claimed by a consumer)
//	bit  30     spill: the value lives in an allocator block
//	bit  31     counted: set only on a reading cell of a dead consumer,
//	            by the holder of the lost gate, while it counts the item
//	            in lost and frees the cell (repair.go); zero otherwise
//	bits[32:44] owner slot: registry slot of the claimer (stWriting, stReading)
//	bits[44:64] owner gen: low 20 bits of the claimer's registry generation
//	bits[32:64] in stFree and stFull, which have no owner: bits [28:60] of
//	            the position (its lap), so that a free or full state word
//	            names a position uniquely for 2^60 operations
//
// Why free and full cells carry the lap: claims CAS a free or full word
// they computed from a position (claimPush's first try, without a load)
// or loaded a while before (the word Pop, word.go). The CAS proves the
// cell is ready for exactly that position only if the word cannot recur;
// with 28 bits it recurs after 2^28 operations, which a process stopped
// for a few seconds between its load and its CAS could sleep through.
//
// The owner is stamped by the same CAS that claims the cell, so there is no
// moment at which a cell is claimed by nobody we can name: that is what
// makes a claimer's death repairable (repair.go). A cell's whole life is
// free(p) -> writing(p) -> full(p) -> reading(p) -> free(p+capacity); a
// dead writer's cell goes writing(p) -> free(p+capacity) (no item: its
// push never published), a dead reader's reading(p) -> counted reading(p)
// -> free(p+capacity) (its item counted lost).
const (
	posBits   = 28
	posMask   = 1<<posBits - 1
	stShift   = 28
	stMask    = 3 << stShift
	spillBit  = 1 << 30
	lostBit   = 1 << 31
	ownShift  = 32
	slotBits  = 12
	genBits   = 20
	genMask   = 1<<genBits - 1
	slotMask  = 1<<slotBits - 1
	stFree    = 0
	stWriting = 1
	stFull    = 2
	stReading = 3
)

func cellState(w uint64) uint64 { return (w & stMask) >> stShift }
func cellPos(w uint64) uint32   { return uint32(w & posMask) }
func cellSpill(w uint64) bool   { return w&spillBit != 0 }

// cellOwner returns the claimer's stamp of a writing or reading cell, and 0
// for a free or full one (whose high bits are its lap).
func cellOwner(w uint64) uint32 {
	if st := cellState(w); st == stFree || st == stFull {
		return 0
	}
	return uint32(w >> ownShift)
}

// makeState builds a state word. owner is stamp(slot, gen) for stWriting
// and stReading, and ignored for stFree and stFull, which keep the lap of
// pos in its place.
func makeState(pos uint64, st uint64, spill bool, owner uint32) uint64 {
	if st == stFree || st == stFull {
		owner = uint32(pos >> posBits)
	}
	w := pos&posMask | st<<stShift | uint64(owner)<<ownShift
	if spill {
		w |= spillBit
	}
	return w
}

// stamp packs a registry slot and generation into the owner field.
func stamp(slot int, gen uint32) uint32 {
	return uint32(slot)&slotMask | (gen&genMask)<<slotBits
}

func stampSlot(s uint32) int   { return int(s & slotMask) }
func stampGen(s uint32) uint32 { return s >> slotBits }

// posDiff returns cellPos - p as a signed distance of 28-bit positions.
func posDiff(cell uint32, p uint64) int32 {
	return int32((cell-uint32(p))<<(32-posBits)) >> (32 - posBits)
}
