package stack

import "sync/atomic"

// The stack's shared memory: one block of the segment's heap holding a
// header and an array of cells; cell i holds the item at height i.
//
//	[0, 192)                          header (below)
//	[192, 192 + capacity*cellStride)  cells
//
// layout_test.go pins every offset and size. All integers are in host byte
// order; every word is aligned to its size.

const (
	// layoutVersion is the stack's layout version, kept in the directory
	// entry and in the header. Version 2: the lost gate (header offset
	// 152) and the counted bit of a reading cell (bit 2), through which an
	// item a dead popper held is counted in Lost exactly once (repair.go);
	// a version-1 process would count past the gate.
	layoutVersion uint32 = 2

	// sMagic is "PSHMSTK1" as a little-endian uint64.
	sMagic uint64 = 0x314b54534d485350

	headerSize = 192
	cellHeader = 16

	// DefaultCapacity and DefaultSlotSize apply when New creates a stack
	// without Capacity or SlotSize (one 64-byte line per cell).
	DefaultCapacity = 1024
	DefaultSlotSize = 48
	// MaxCapacity is the largest capacity (the height is 32 bits).
	MaxCapacity = 1 << 30
	// MaxSlotSize is the largest slot; a Stack stores values inline only.
	MaxSlotSize = 1 << 20
)

// header is the fixed part of the stack block. The first line is written
// once by the creator before the object is visible; the rest are atomics
// written by every process, one cache line each.
type header struct {
	magic       uint64 // 0: sMagic; written once
	version     uint32 // 8: layoutVersion; written once
	slotSize    uint32 // 12: inline bytes per cell (multiple of 8); written once
	capacity    uint64 // 16: number of cells; written once
	fingerprint uint64 // 24: codec.Fingerprint of the element codec's ID; written once
	_           [32]byte

	// top is the stack's height and an ABA tag, changed only by CAS:
	//
	//	bits[0:32]  height: number of items; cells [0, height) hold them
	//	bits[32:64] tag: incremented by every successful push and pop, so
	//	            a CAS based on a stale read fails even if the height
	//	            came back to the same value
	top atomic.Uint64 // 64
	_   [56]byte      // padding to prevent false sharing

	lost      atomic.Uint64 // 128: items lost with dead processes; Add by any process
	highWater atomic.Uint64 // 136: largest height reached; CAS by the pusher that raises it (rare after warm-up)
	repaired  atomic.Uint64 // 144: cells of dead processes settled; Add by the repairer
	lostGate  atomic.Uint64 // 152: the lost gate (below); CAS to take, store to give back, by whoever counts a lost item
	_         [32]byte
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

// Each cell is:
//
//	+0   state uint64, atomic, CAS by any process (bit layout below)
//	+8   meta  uint64, atomic: bits[0:32] encoded length; written by the
//	           claiming pusher before it moves top
//	+16  data  [slotSize]byte
//
// state bit layout:
//
//	bits[0:2]   st: stFree, stWriting (a pusher claimed it), stFull,
//	            stReading (a popper claimed it)
//	bit  2      counted: set only on a reading cell of a dead popper at or
//	            above the top, by the holder of the lost gate, while it
//	            counts the item in lost and frees the cell (repair.go)
//	bits[3:32]  reserved, zero
//	bits[32:44] owner slot: registry slot of the claimer (stWriting, stReading)
//	bits[44:64] owner gen: low 20 bits of the claimer's registry generation
const (
	stFree    = 0
	stWriting = 1
	stFull    = 2
	stReading = 3
	lostBit   = 1 << 2
	slotBits  = 12
	slotMask  = 1<<slotBits - 1
	genMask   = 1<<20 - 1
)

func cellState(w uint64) uint64                { return w & 3 }
func cellOwner(w uint64) uint32                { return uint32(w >> 32) }
func makeState(st uint64, owner uint32) uint64 { return st | uint64(owner)<<32 }
func stamp(slot int, gen uint32) uint32 {
	return uint32(slot)&slotMask | (gen&genMask)<<slotBits
}
func stampSlot(s uint32) int   { return int(s & slotMask) }
func stampGen(s uint32) uint32 { return s >> slotBits }

func height(t uint64) uint64            { return t & 0xffffffff }
func nextTop(t uint64, h uint64) uint64 { return (t>>32+1)<<32 | h }
