package bitset

// A bitset's block in the segment heap, at the offset its directory entry
// names. docs/LAYOUT.md readers in other languages see the same bytes;
// layout_test.go pins every size and offset.
//
//	[0, 64)            header, written once by the creator
//	[64, 64+8*nwords)  the bits, 64 to a word: bit i is bit i%64 of word i/64
//
// All integers are in the host's byte order (the segment header records
// which). The words are accessed only with 64-bit atomics, so each is 8-byte
// aligned: the heap hands out 16-byte aligned blocks and the header is 64
// bytes, which also puts the first word on its own cache line, away from
// the read-only header. Bits of the last word at or past length are unused:
// writers never set them and readers mask them off, so a peer that sets
// them anyway changes nothing this package reports.

const (
	// Magic is the first word of every bitset block: "PSHMBIT1" read as a
	// little-endian uint64.
	Magic uint64 = 0x315449424d485350

	// LayoutVersion is the version of the layout described in this file. It
	// is the object's version in the segment directory, checked on attach.
	LayoutVersion uint32 = 1

	headerSize = 64
	wordBits   = 64

	// MaxLen is the largest number of bits a bitset may hold (32 GiB of
	// words; the segment's own limit, segment.MaxSize, is 64 GiB).
	MaxLen = 1 << 38
)

// header is the first 64 bytes of a bitset's block. The creator writes every
// field inside segment.FindOrCreate's init, before the object becomes
// visible to other processes; afterwards all processes only read it, and
// read it once, on attach. It is untrusted on attach: every field is checked
// against the directory entry and the block size.
type header struct {
	magic   uint64   // 0: Magic
	version uint32   // 8: LayoutVersion, also the directory entry's version
	_       uint32   // 12: reserved, zero
	length  uint64   // 16: number of bits; equals the directory entry's Params[0]
	nwords  uint64   // 24: (length+63)/64, the number of words that follow
	_       [32]byte // 32: padding: the words start on the next cache line
}

// blockSize returns the bytes a bitset of n bits needs.
func blockSize(n uint64) uint64 { return headerSize + 8*wordsFor(n) }

func wordsFor(n uint64) uint64 { return (n + wordBits - 1) / wordBits }
