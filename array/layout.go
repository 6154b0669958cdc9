package array

// An array's block in the segment heap, at the offset its directory entry
// names. docs/LAYOUT.md readers in other languages see the same bytes;
// layout_test.go pins every size and offset.
//
//	[0, 64)                    header, written once by the creator
//	[64, 64+length*elemSize)   the elements, packed, in the host's byte order
//
// Elements are accessed with 32- or 64-bit atomics of their own size, so each
// is aligned to its size: the heap hands out 16-byte aligned blocks and the
// 64-byte header also puts element 0 on its own cache line, away from the
// read-only header. Floats are stored as their IEEE 754 bits.

const (
	// Magic is the first word of every array block: "PSHMARR1" read as a
	// little-endian uint64.
	Magic uint64 = 0x315252414d485350

	// LayoutVersion is the version of the layout described in this file. It
	// is the object's version in the segment directory, checked on attach.
	LayoutVersion uint32 = 1

	headerSize = 64

	// MaxLen is the largest number of elements an array may hold (32 GiB of
	// 8-byte elements; the segment's own limit, segment.MaxSize, is 64 GiB).
	MaxLen = 1 << 32
)

// header is the first 64 bytes of an array's block. The creator writes every
// field inside segment.FindOrCreate's init, before the object becomes
// visible to other processes; afterwards all processes only read it, once,
// on attach. It is untrusted on attach: every field is checked against the
// directory entry and the block size.
type header struct {
	magic    uint64   // 0: Magic
	version  uint32   // 8: LayoutVersion, also the directory entry's version
	elem     uint32   // 12: element type (an ElemType); equals the directory entry's Params[1]
	length   uint64   // 16: number of elements; equals the directory entry's Params[0]
	elemSize uint32   // 24: bytes per element, 4 or 8, implied by elem
	_        uint32   // 28: reserved, zero
	_        [32]byte // 32: padding: the elements start on the next cache line
}

// ElemType names an array's element type in shared memory.
type ElemType uint32

// The element types, as stored in the header and the directory.
const (
	Int32   ElemType = 1
	Int64   ElemType = 2
	Uint32  ElemType = 3
	Uint64  ElemType = 4
	Float32 ElemType = 5
	Float64 ElemType = 6
)

func (e ElemType) String() string {
	switch e {
	case Int32:
		return "int32"
	case Int64:
		return "int64"
	case Uint32:
		return "uint32"
	case Uint64:
		return "uint64"
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	}
	return "elem(" + itoa(uint64(e)) + ")"
}

// Size returns the bytes per element, or 0 for an unknown type.
func (e ElemType) Size() uint64 {
	switch e {
	case Int32, Uint32, Float32:
		return 4
	case Int64, Uint64, Float64:
		return 8
	}
	return 0
}

// blockSize returns the bytes an array of n elements of type e needs.
func blockSize(e ElemType, n uint64) uint64 { return headerSize + (n*e.Size()+7)&^7 }

func itoa(v uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + v%10)
		v /= 10
		if v == 0 {
			return string(b[i:])
		}
	}
}
