package bitset

import "sync/atomic"

// A bitset's block in the segment heap, at the offset its directory entry
// names. docs/LAYOUT.md readers in other languages see the same bytes;
// layout_test.go pins every size and offset.
//
// A plain bitset (layout version 1):
//
//	[0, 64)            header, written once by the creator
//	[64, 64+8*nwords)  the bits, 64 to a word: bit i is bit i%64 of word i/64
//
// A bitset with owners (created with Owned; layout version 2):
//
//	[0, 64)                   header, as in version 1 but for its version field
//	[64, 128)                 counters (atomic), written by recovery only
//	[128, 128+8*nwords)       the bits, as in version 1
//	[ownersOff, +8*length)    owner words, one per bit: bit i's is word i;
//	                          ownersOff = 128+8*nwords rounded up to 64
//
// All integers are in the host's byte order (the segment header records
// which). The words are accessed only with 64-bit atomics, so each is 8-byte
// aligned: the heap hands out 16-byte aligned blocks (objects start on a
// cache line) and every region above starts on a multiple of 64, which also
// puts the first bit word on its own cache line, away from the read-only
// header, and the owner words on lines of their own, away from the bits
// (a claim writes both). Bits of the last word at or past length are unused:
// writers never set them and readers mask them off, so a peer that sets
// them anyway changes nothing this package reports.
//
// Plain bitsets keep version 1, byte for byte, so they cost nothing more
// than before owners existed and peers built before them still attach
// them; an owned bitset is a different layout, so those peers refuse it
// (ErrMismatch, "want bitset v1, found bitset v2") rather than use it
// without knowing about owners.

const (
	// Magic is the first word of every bitset block: "PSHMBIT1" read as a
	// little-endian uint64.
	Magic uint64 = 0x315449424d485350

	// LayoutVersion is the version of a plain bitset's layout, described in
	// this file. It is the object's version in the segment directory,
	// checked on attach.
	LayoutVersion uint32 = 1

	// OwnedLayoutVersion is the version of the layout of a bitset created
	// with Owned: LayoutVersion's, plus a counters line and an owner word
	// per bit.
	OwnedLayoutVersion uint32 = 2

	headerSize   = 64
	countersSize = 64
	ownedBitsOff = headerSize + countersSize // where an owned bitset's bits start
	wordBits     = 64

	// MaxLen is the largest number of bits a bitset may hold (32 GiB of
	// words; the segment's own limit, segment.MaxSize, is 64 GiB). A
	// bitset with owners also needs 8 bytes per bit for its owner words,
	// so it fits a segment only up to about 7.5 G bits.
	MaxLen = 1 << 38
)

// header is the first 64 bytes of a bitset's block. The creator writes every
// field inside segment.FindOrCreate's init, before the object becomes
// visible to other processes; afterwards all processes only read it, and
// read it once, on attach. It is untrusted on attach: every field is checked
// against the directory entry and the block size.
type header struct {
	magic   uint64   // 0: Magic
	version uint32   // 8: LayoutVersion or OwnedLayoutVersion, also the directory entry's version
	_       uint32   // 12: reserved, zero
	length  uint64   // 16: number of bits; equals the directory entry's Params[0]
	nwords  uint64   // 24: (length+63)/64, the number of bit words
	_       [32]byte // 32: padding: what follows starts on the next cache line
}

// counters is the second cache line of an owned bitset's block, right
// after the header. The data path never writes it: claims and releases by
// live owners are not counted (a shared counter would cost each of them a
// contended atomic add), only releases on behalf of owners that are gone.
type counters struct {
	released atomic.Uint64 // 64: owner words cleared by recovery or ReleaseOrphans, ever (atomic add)
	_        [56]byte      // 72: padding to the end of the line
}

// An owner word records who holds bit i of an owned bitset. It is 0 while
// nobody does; otherwise it names a registry attachment (the slot and
// generation segment.Segment.Slot returns, which name one attachment and
// never a later one) and says how far that attachment got:
//
//	bits[0:32]   gen: the owner's registry generation (never 0 for a real owner)
//	bits[32:48]  slot: the owner's registry slot (below 4096, segment's limit)
//	bits[48:56]  reserved, zero
//	bits[56:64]  state: ownClaiming, ownHeld or ownReleasing; never 0 in a
//	             non-zero word
//
// Only the attachment a word names changes it, by CAS or store, with two
// exceptions, both for owners that are gone: segment recovery (holding the
// dead owner's registry lock) clears it, and ReleaseOrphans takes it over
// by a CAS that writes its own name. Any word with another state or with
// reserved bits set was written by no correct process: ReleaseOrphans
// releases it. repair.go says why every order of these writes is safe.
const (
	ownClaiming  = 1 // the owner won the word and is setting the bit
	ownHeld      = 2 // the owner set the bit: ClaimOwned returned true
	ownReleasing = 3 // the owner (or who took the word over) is clearing the bit

	stateShift = 56
	slotShift  = 32
	stampMask  = 1<<48 - 1 // gen and slot: who, without the state
	reserved   = 0xff << 48
)

// stamp names the attachment (slot, gen) in an owner word without a state.
func stamp(slot int, gen uint32) uint64 { return uint64(slot)&0xffff<<slotShift | uint64(gen) }

func ownState(w uint64) uint64 { return w >> stateShift }

// wellFormed reports whether a non-zero owner word is one a correct process
// writes.
func wellFormed(w uint64) bool {
	s := ownState(w)
	return w&reserved == 0 && s >= ownClaiming && s <= ownReleasing
}

// ownerOf decodes the attachment an owner word names.
func ownerOf(w uint64) Owner {
	return Owner{Slot: int(w >> slotShift & 0xffff), Gen: uint32(w)}
}

// blockSize returns the bytes a plain bitset of n bits needs.
func blockSize(n uint64) uint64 { return headerSize + 8*wordsFor(n) }

// ownersOff returns where an owned bitset of n bits keeps its owner words.
func ownersOff(n uint64) uint64 { return (ownedBitsOff + 8*wordsFor(n) + 63) &^ 63 }

// ownedBlockSize returns the bytes an owned bitset of n bits needs.
func ownedBlockSize(n uint64) uint64 { return ownersOff(n) + 8*n }

func wordsFor(n uint64) uint64 { return (n + wordBits - 1) / wordBits }
