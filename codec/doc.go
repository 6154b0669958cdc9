// Package codec defines how a Go value becomes bytes in POSIX shared memory and back.
//
// The structures of posixshm (queue, stack, hashmap, ...) store elements as bytes in a
// segment that several processes map. A [Codec] turns a value of type T into those bytes
// (Append, which encodes in place into a slot when it fits) and back (Decode, which
// copies, since the slot is reused). Four codecs cover the cases:
//
//   - [Bytes] and [String] store raw bytes.
//   - [Plain] copies fixed-size plain data (numbers, bools, and arrays and structs of
//     them) byte for byte: one memmove, no allocation. This is the hot path.
//   - [CBOR] stores any other value as CBOR (RFC 8949), with decode limits, because the
//     bytes come from another process and may be garbage or hostile.
//
// [For] picks the default codec for a type, and is what structures use unless told
// otherwise. Each codec has an ID naming it and its type; structures keep
// [Fingerprint](ID) in shared memory and refuse to attach with a different element type.
//
// All codecs are immutable and safe for concurrent use. Decode never panics on bad
// input: it returns an error wrapping [ErrDecode] (and [ErrTooLarge] for a limit).
//
// # Caveats
//
// Plain bytes are the host's in-memory representation: byte order, int size and struct
// layout of one architecture and one Go toolchain. Every process attached to a
// structure must run on the same host (shared memory implies it) and on the same
// architecture; the ID describes the layout with sizes, so that, for example, a 32-bit
// build that sees int as 4 bytes does not attach. The ID is the layout, field names
// included, and not the type's name ("plain2:{Name [16]uint8@0;ID int64@16}/24"): a
// struct moved to another package or renamed still attaches, and a struct whose
// fields changed does not.
//
// Plain compares bytes, not values: padding is zeroed so equal values give equal bytes,
// but +0.0 and -0.0 differ, and a NaN equals itself, unlike ==.
//
// CBOR bytes are readable from other languages (Python cbor2, Rust ciborium, ...), and
// are written in Core Deterministic form. What a reader allocates is bounded by the
// limits (nesting depth, array elements, map pairs, string length; see [DefaultMaxDepth]
// and the options of [CBOR]) and by the input's length, since well-formedness is
// checked before anything is allocated. A CBOR value decodes as the Go type of the
// codec, so what sits in an interface comes back in the decoder's default types:
// integers as int64, floats as float64, maps as map[string]any, arrays as []any. Maps
// with non-string keys inside an interface encode but do not decode.
// Unexported struct fields are not stored by CBOR.
//
// Named string and []byte types (type Name string) are not raw under [For]: they use
// CBOR, which adds a one- to nine-byte header.
package codec
