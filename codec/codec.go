package codec

import (
	"reflect"
	"sync"
)

// Codec encodes values of type T into bytes stored in shared memory and decodes them
// back. The codecs of this package are immutable and safe for concurrent use by any
// number of goroutines; one value may be shared by every structure that stores T.
type Codec[T any] interface {
	// Append appends the encoding of v to dst and returns the extended slice.
	// Callers pass dst = slot[:0:cap] to encode in place; if the result no longer
	// aliases slot (len > cap), the caller spills. Does not allocate for fixed-size
	// codecs when cap suffices. On error it returns dst unchanged in length, though
	// bytes past len(dst) may have been written.
	Append(dst []byte, v T) ([]byte, error)

	// Decode decodes src. It does not retain src (shared memory is reused): what it
	// keeps, it copies. Garbage input returns an error wrapping ErrDecode, never panics.
	Decode(src []byte) (T, error)

	// FixedSize returns n > 0 when every value encodes to exactly n bytes, else 0.
	FixedSize() int

	// ID names the codec and type, e.g. "raw-bytes", "raw-string",
	// "plain2:{Name [16]uint8@0;ID int64@16}/24", "cbor:map[string]interface {}". Structures store
	// Fingerprint(ID) in shared memory to refuse attaching with another element type.
	ID() string
}

// Bytes returns the codec that stores a []byte as its raw bytes. Decode copies src, so
// the result never aliases shared memory; an empty src decodes to an empty, non-nil
// slice. ID is "raw-bytes".
func Bytes() Codec[[]byte] { return bytesCodec{} }

// String returns the codec that stores a string as its raw bytes, without validating
// UTF-8 (a Go string may hold any bytes). ID is "raw-string".
func String() Codec[string] { return stringCodec{} }

type bytesCodec struct{}

func (bytesCodec) Append(dst []byte, v []byte) ([]byte, error) { return append(dst, v...), nil }
func (bytesCodec) Decode(src []byte) ([]byte, error)           { return append([]byte{}, src...), nil }
func (bytesCodec) FixedSize() int                              { return 0 }
func (bytesCodec) ID() string                                  { return "raw-bytes" }

type stringCodec struct{}

func (stringCodec) Append(dst []byte, v string) ([]byte, error) { return append(dst, v...), nil }
func (stringCodec) Decode(src []byte) (string, error)           { return string(src), nil }
func (stringCodec) FixedSize() int                              { return 0 }
func (stringCodec) ID() string                                  { return "raw-string" }

// defaultCodecs caches For: reflect.Type -> Codec[T] (stored as any).
var defaultCodecs sync.Map

// For returns the default codec for T:
//
//   - []byte: Bytes
//   - string: String
//   - plain fixed-size data (see Plain), e.g. int64, [4]float64, structs of numbers: Plain
//   - everything else, including named string and []byte types: CBOR with default limits
//
// The choice is made once per type and cached, so For is cheap to call repeatedly.
func For[T any]() Codec[T] {
	t := reflect.TypeFor[T]()
	if c, ok := defaultCodecs.Load(t); ok {
		return c.(Codec[T])
	}
	var c Codec[T]
	switch any(*new(T)).(type) {
	case []byte:
		c = any(Bytes()).(Codec[T])
	case string:
		c = any(String()).(Codec[T])
	default:
		if p, err := Plain[T](); err == nil {
			c = p
		} else {
			c = CBOR[T]()
		}
	}
	actual, _ := defaultCodecs.LoadOrStore(t, c)
	return actual.(Codec[T])
}

// Fingerprint returns the 64-bit FNV-1a hash of id. It is stable across processes,
// builds and releases, so structures store it in shared memory and compare it on attach.
func Fingerprint(id string) uint64 {
	const (
		offset64 = 14695981039346656037
		prime64  = 1099511628211
	)
	h := uint64(offset64)
	for i := 0; i < len(id); i++ {
		h ^= uint64(id[i])
		h *= prime64
	}
	return h
}
