//go:build linux

package segment

import (
	"encoding/binary"
	"hash/fnv"
	"sync/atomic"
)

// The segment's bytes, from offset 0 of the file. docs/LAYOUT.md describes the
// same layout for readers in other languages; layout_test.go pins every offset.
//
//	[0, 4096)                    header
//	[dirOff, +dirEntries*128)    directory of named objects
//	[regOff, +regSlots*2048)     process registry, one slot per attached handle
//	[heapOff, totalSize)         heap, managed by the alloc module
//
// All integers are in the host's byte order (byteOrder records which) and every
// word is aligned to its size, since processes access them with sync/atomic.

const (
	// Magic is the first word of every segment: "PSHMSEG1" read as a
	// little-endian uint64.
	Magic uint64 = 0x314745534d485350 // "PSHMSEG1" in little-endian byte order

	// LayoutVersion is the version of the layout described in this file,
	// and of the heap's own header inside it (alloc/layout.go). A segment
	// with another version is refused with ErrVersion.
	//
	// Version 3: the allocator keeps a free bitmap per chunk, a claimed bit
	// per chunk and in-flight records per registry slot instead of free
	// lists (alloc/layout.go), so chunks go back to the pool and a killed
	// process leaks nothing. Version 2 had 345 free lists; version 1, 128.
	LayoutVersion uint32 = 3

	byteOrderMark  uint32 = 0x01020304
	headerSize            = 4096
	dirEntrySize          = 128
	regSlotSize           = 2048
	intentSize            = 32
	intentsPerSlot        = (regSlotSize - 64) / intentSize // 62

	// MaxObjectName is the longest object name, in bytes.
	MaxObjectName = 48

	defaultDirEntries = 256
	defaultRegSlots   = 64
	maxDirEntries     = 1 << 16
	maxRegSlots       = 1 << 12
	minHeap           = 64 << 10
)

// header is the segment header at offset 0. Every field but state is written
// once by the creator, before state becomes stateReady, and is covered by
// checksum; later processes only read it.
type header struct {
	magic        uint64 // 0: Magic
	version      uint32 // 8: LayoutVersion
	byteOrder    uint32 // 12: byteOrderMark in the creator's byte order
	wordSize     uint32 // 16: 8
	headerSize   uint32 // 20: headerSize
	totalSize    uint64 // 24: bytes mapped; the file is at least this long
	createdNanos int64  // 32: creation time, Unix nanoseconds
	flags        uint64 // 40: reserved, zero
	dirOff       uint64 // 48: offset of the directory
	dirEntries   uint32 // 56: number of directory entries
	dirEntrySize uint32 // 60: dirEntrySize
	regOff       uint64 // 64: offset of the process registry
	regSlots     uint32 // 72: number of registry slots
	regSlotSize  uint32 // 76: regSlotSize
	heapOff      uint64 // 80: offset of the heap (alloc's region)
	heapSize     uint64 // 88: totalSize - heapOff
	checksum     uint64 // 96: FNV-1a 64 of bytes [0, 96)
	_            [24]byte
	state        atomic.Uint32 // 128: stateInit until the creator finishes, then stateReady
	_            [60]byte
}

const (
	stateInit  uint32 = 0
	stateReady uint32 = 1
)

// checksumOf computes the header checksum over the bytes [0, 96) of h, as
// encoded in host order.
func checksumOf(b []byte) uint64 {
	h := fnv.New64a()
	h.Write(b[:96])
	return h.Sum64()
}

// native decodes host-order integers from a header copy
// read with pread, before anything is mapped.
var native = binary.NativeEndian

// dirEntry is one directory entry. ctl is the only word written after
// creation; the other fields are written by the process holding the
// directory lock, while ctl says entryCreating, and are frozen once ctl says
// entryReady.
//
// ctl bit layout:
//
//	bits[0:8]   state: entryEmpty, entryCreating, entryReady or entryDeleted
//	bits[8:32]  reserved, zero
//	bits[32:64] seq: incremented on every change of state, so a lock-free
//	            reader that copied the entry can tell whether it changed
type dirEntry struct {
	ctl         atomic.Uint64 // 0
	kind        uint32        // 8: Kind
	version     uint32        // 12: the object's own layout version
	nameLen     uint32        // 16
	creatorSlot uint32        // 20: registry slot of the creating process
	creatorGen  uint64        // 24: that slot's generation at creation
	off         uint64        // 32: offset of the object's heap block (0 while unallocated); the object starts at off rounded up to 64
	size        uint64        // 40: bytes of the object, from its 64-aligned start
	params      [4]uint64     // 48: kind-specific parameters
	name        [MaxObjectName]byte
}

const (
	entryEmpty    = 0
	entryCreating = 1
	entryReady    = 2
	entryDeleted  = 3
)

func entryState(ctl uint64) uint8 { return uint8(ctl) }
func entrySeq(ctl uint64) uint32  { return uint32(ctl >> 32) }
func makeEntryCtl(state uint8, seq uint32) uint64 {
	return uint64(seq)<<32 | uint64(state)
}

// regSlot is one process-registry slot, owned by the handle that holds the
// OFD lock on byte lockSlotBase+index of the file. Only the owner writes it,
// except a recovering process, which holds the same lock while it writes.
//
// ctl bit layout:
//
//	bits[0:8]   state: slotFree or slotActive
//	bits[8:32]  reserved, zero
//	bits[32:64] gen: incremented each time a handle claims the slot, so a
//	            (slot, gen) pair names one attachment and never a later one
type regSlot struct {
	ctl          atomic.Uint64 // 0
	pid          atomic.Uint32 // 8: the owner's PID, for display only (liveness uses the lock)
	_            uint32        // 12
	attachedNano atomic.Int64  // 16: when the owner claimed the slot
	_            [40]byte      // 24: pad to 64
	intents      [intentsPerSlot]intentRecord
}

const (
	slotFree   = 0
	slotActive = 1
)

func slotState(ctl uint64) uint8 { return uint8(ctl) }
func slotGen(ctl uint64) uint32  { return uint32(ctl >> 32) }

// intentRecord records an operation in flight, so that a survivor can finish
// or undo it if its process dies. The owner writes a, b and c before it
// publishes word, and clears word when the operation is complete.
//
// word bit layout:
//
//	bits[0:16]  kind: the Kind whose repair function reads the record; 0 = empty
//	bits[16:24] op: kind-specific operation code
//	bits[24:32] reserved, zero
//	bits[32:64] object: directory index of the object the operation touches
type intentRecord struct {
	word atomic.Uint64 // 0
	a    atomic.Uint64 // 8
	b    atomic.Uint64 // 16
	c    atomic.Uint64 // 24
}

// intentWord packs an intent record's word (layout above).
func intentWord(kind Kind, op uint8, object uint32) uint64 {
	return uint64(object)<<32 | uint64(op)<<16 | uint64(kind&0xffff)
}

// File byte offsets of the OFD locks. They lock bytes of the file, not the
// mapping, so they can lie anywhere; data and locks never interfere.
const (
	lockInit     = 0    // held (write) by the creator while it initialises
	lockDir      = 1    // held (write) while the directory changes
	lockSlotBase = 4096 // + slot index: held by the slot's owner while attached
)
