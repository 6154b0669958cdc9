package hashmap

import (
	"encoding/binary"
	"sync/atomic"
)

// The map's bytes. The object block (allocated by segment.FindOrCreate from
// the alloc heap, 16-byte aligned) holds a header and the slot array:
//
//	[obj, +128)               header
//	[obj+128, +8*slots)       slot words, one atomic uint64 each
//
// Records live in their own alloc blocks, one per key/value pair:
//
//	[rec, +16)                record header (recordHeader below)
//	[rec+16, +keyLen)         key bytes
//	[..., +valLen)            value bytes, as the value codec encoded them
//
// A 16-byte key with an 8-byte value makes a 40-byte record: with the
// allocator's 16-byte block header, a 64-byte block, so a reader touches
// one cache line of record (version 2's 32-byte header, which also held the
// key's hash, made it 80 bytes and two lines).
//
// A record is immutable from the moment its offset is CAS'd into a slot
// until it is freed, so readers copy it without synchronisation and then
// re-check the slot word (a seqlock-style optimistic read). All integers are
// in host byte order; the segment header already refuses a foreign order.

// LayoutVersion is the version of the layout in this file; a map with
// another version is refused on attach. Version 4 made the live word a
// count with a change mark (liveWord) and added stDeleting and the
// reserved claim (stInserting with the pending bit).
const LayoutVersion uint32 = 4

const (
	headerMagic uint64 = 0x50414d4848534d50 // "PMSHHMAP" read little-endian

	headerSize = 128
	recHdrSize = 16

	// DefaultMaxEntries is the capacity of a map created without MaxEntries.
	DefaultMaxEntries = 1024
	// MaxMaxEntries is the largest capacity: slot indexes and the record
	// offset field of a slot word are 32-bit.
	MaxMaxEntries = 1 << 30
	// DefaultMaxRecordSize is the largest key plus encoded value, in bytes,
	// of a map created without MaxRecordSize.
	DefaultMaxRecordSize = 64 << 10
	// MaxRecordSizeLimit bounds MaxRecordSize.
	MaxRecordSizeLimit = 1 << 30
)

// header is the map's header at the start of its object block. Every field
// but live, repaired and highWater is written once by the creator inside
// segment.FindOrCreate's init, before any other process can see the
// object, and only read afterwards.
type header struct {
	magic     uint64        // 0: headerMagic
	version   uint32        // 8: LayoutVersion
	_         uint32        // 12: zero
	capacity  uint64        // 16: max live entries (MaxEntries); also Params[0]
	slots     uint64        // 24: number of slots, a power of two; also Params[1]
	keyFP     uint64        // 32: codec.Fingerprint of the key kind; also Params[2]
	valFP     uint64        // 40: codec.Fingerprint of the value codec ID; also Params[3]
	seed      uint64        // 48: hash seed, random per map (so keys collide differently in every map)
	maxRecord uint64        // 56: max key+value bytes of one record
	live      atomic.Uint64 // 64: live entries and the change mark (liveWord below); CAS only
	repaired  atomic.Uint64 // 72: writes of dead processes that recovery completed or undid (Stats.Repaired); atomic
	highWater atomic.Uint64 // 80: largest live count reached; raised (segment.Max) by whoever takes a mark off live or replaces it (on live's line, which inserts write anyway)
	_         [40]byte      // 88: pad to 128: live is written by every insert and delete, keep slot 0 off its line
}

// The live word: the Len counter, and which write changed it last.
//
// bit layout:
//
//	bits[0:32]  count: live entries, at most the capacity (2^30), so an
//	            insert is refused while it equals the capacity
//	bits[32:64] mark: 1 + the slot index of the insert or delete whose
//	            change of count this word is, until that write has recorded
//	            the change in its slot and taken the mark off, or another
//	            write has replaced it (see repair.go); 0 when no write is
//	            between the two
//
// One word so that a change of the count and the name of the write that
// made it are one CAS: a repairer reads the mark to learn whether a dead
// writer's change landed, which an atomic add could never tell it.
const (
	countMask = uint64(1)<<32 - 1
	markShift = 32
)

func countOf(g uint64) uint64 { return g & countMask }
func markOf(g uint64) uint64  { return g >> markShift }

// liveWord builds a live word: count, and the mark of slot i (mark false:
// no mark).
func liveWord(count, i uint64, mark bool) uint64 {
	if !mark {
		return count & countMask
	}
	return (i+1)<<markShift | count&countMask
}

// After the slots, at headerSize + 8*slots (64-aligned, since objects start
// on a cache line and slots is a power of two >= 8), lies a
// segment.Counters set: one line per registry slot, so that counting
// operations never makes processes share a written line.
const (
	ctrStores  = 0 // writes that stored a value (Store, Swap, LoadOrStore, CompareAndSwap, inserts)
	ctrDeletes = 1 // writes that deleted a key
)

// A slot word, changed only by CAS.
//
// bit layout:
//
//	bits[0:32]  record offset / 16 (alloc payloads are 16-aligned, and
//	            segments are at most 64 GiB); 0 = no record
//	bits[32:35] state: stEmpty, stInserting, stLive, stTomb, stClean,
//	            stFence, stDeleting (with stFence, bits[0:32] hold the
//	            version of the stClean word of the slot before it, which the
//	            fence guards)
//	bit  35     pending: with stLive, the record is linked but its writer has
//	            not yet published it to the allocator and freed what it
//	            replaced; with stTomb, the record in bits[0:32] is the one
//	            just deleted, not yet freed; with stInserting, the claim is
//	            reserved: it won its key and is about to raise the Len
//	            counter (no other inserter may kill it); with stDeleting
//	            (always pending), the key is deleted and the Len counter is
//	            about to be lowered. Only the writer (or the repair of a dead
//	            writer) clears it, so a slot whose writer has not finished
//	            cannot be changed under it; the one exception, marking a
//	            counted write (repair.go), moves a reserved claim to
//	            stLive|pending and stDeleting to stTomb|pending, as the
//	            writer itself does next.
//	bits[36:44] tag: the top 8 bits of the key's hash (stInserting and
//	            stLive), so a probe skips most non-matching records without
//	            touching them
//	bits[44:64] version: +1 on every change of the slot (20 bits), so a
//	            reader that re-checks the word notices a record replaced,
//	            freed and reused meanwhile (ABA)
//
// The fields sit so that a word is one CAS; the version is on top so that
// incrementing it never carries into another field.
const (
	offBits     = 32
	stateShift  = 32
	pendingBit  = uint64(1) << 35
	tagShift    = 36
	versionShft = 44
	offMask     = uint64(1)<<offBits - 1
	stateMask   = uint64(7) << stateShift
	tagMask     = uint64(0xff) << tagShift
	versionMask = uint64(1)<<(64-versionShft) - 1

	stEmpty     = 0 // never used since the last cleanup: ends every probe chain
	stInserting = 1 // claimed by an inserter checking for a duplicate of its key; invisible to readers
	stLive      = 2 // holds a live record
	stTomb      = 3 // deleted: keeps probe chains intact; reusable by any key
	stFence     = 4 // an empty slot held for an instant while its predecessor (stClean) becomes empty
	stClean     = 5 // a tombstone being turned into an empty slot; not reusable, probes pass it
	stDeleting  = 6 // deleted, Len counter not yet lowered (always pending): invisible, not reusable, probes pass it
)

func stateOf(w uint64) uint64  { return (w & stateMask) >> stateShift }
func pending(w uint64) bool    { return w&pendingBit != 0 }
func tagOfWord(w uint64) uint8 { return uint8(w >> tagShift) }
func versionOf(w uint64) uint64 {
	return w >> versionShft
}
func recOff(w uint64) uint64 { return (w & offMask) * 16 }

// makeWord builds a slot word. off must be a multiple of 16 below 64 GiB.
func makeWord(state uint64, pend bool, off uint64, tag uint8, version uint64) uint64 {
	w := (version&versionMask)<<versionShft | uint64(tag)<<tagShift | state<<stateShift | (off/16)&offMask
	if pend {
		w |= pendingBit
	}
	return w
}

// next returns a word replacing w: the same slot, version + 1.
func next(w uint64, state uint64, pend bool, off uint64, tag uint8) uint64 {
	return makeWord(state, pend, off, tag, versionOf(w)+1)
}

// recordHeader is the first 16 bytes of a record. It is written by the
// record's writer before the record's offset is CAS'd into any slot and
// never changes afterwards. The key's hash is not stored: a slot's 8-bit
// tag already skips most other keys, and the key compare decides.
type recordHeader struct {
	keyLen    uint32 // 0
	valLen    uint32 // 4
	ownerSlot uint32 // 8: registry slot of the writer, for waiters to check liveness
	ownerGen  uint32 // 12: and its generation
}

var native = binary.NativeEndian

func putRecordHeader(b []byte, klen, vlen int, slot int, gen uint32) {
	native.PutUint32(b[0:], uint32(klen))
	native.PutUint32(b[4:], uint32(vlen))
	native.PutUint32(b[8:], uint32(slot))
	native.PutUint32(b[12:], gen)
}
