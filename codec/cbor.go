package codec

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// Default CBOR decode limits. Each bounds what a reader allocates for bytes another
// process left in shared memory; each can be changed with the option of the same name.
const (
	// DefaultMaxDepth is the default nesting depth of arrays, maps and tags.
	DefaultMaxDepth = 32
	// DefaultMaxArrayElements is the default number of elements in one array.
	DefaultMaxArrayElements = 131072
	// DefaultMaxMapPairs is the default number of key/value pairs in one map.
	DefaultMaxMapPairs = 131072
	// DefaultMaxStringLength is the default length in bytes of one byte or text
	// string (an indefinite-length string counts the sum of its chunks).
	DefaultMaxStringLength = 16 << 20
)

// CBOROption changes a limit of a codec made by CBOR.
type CBOROption func(*cborLimits)

type cborLimits struct {
	depth, arrays, pairs, strlen int
}

var defaultLimits = cborLimits{DefaultMaxDepth, DefaultMaxArrayElements, DefaultMaxMapPairs, DefaultMaxStringLength}

// MaxDepth sets the maximum nesting depth of arrays, maps and tags (default
// DefaultMaxDepth). n must lie in [4, 65535]; CBOR panics otherwise.
func MaxDepth(n int) CBOROption { return func(l *cborLimits) { l.depth = n } }

// MaxArrayElements sets the maximum number of elements in one array (default
// DefaultMaxArrayElements). n must lie in [16, 2147483647]; CBOR panics otherwise.
func MaxArrayElements(n int) CBOROption { return func(l *cborLimits) { l.arrays = n } }

// MaxMapPairs sets the maximum number of key/value pairs in one map (default
// DefaultMaxMapPairs). n must lie in [16, 2147483647]; CBOR panics otherwise.
func MaxMapPairs(n int) CBOROption { return func(l *cborLimits) { l.pairs = n } }

// MaxStringLength sets the maximum length in bytes of one byte or text string (default
// DefaultMaxStringLength). n must be at least 1; CBOR panics otherwise.
func MaxStringLength(n int) CBOROption { return func(l *cborLimits) { l.strlen = n } }

// cborModes holds the encoder and decoder configured for one set of limits.
type cborModes struct {
	enc    cbor.UserBufferEncMode
	dec    cbor.DecMode
	strlen int
}

var defaultModes = sync.OnceValue(func() *cborModes { return newCBORModes(defaultLimits) })

func newCBORModes(l cborLimits) *cborModes {
	check := func(name string, v, lo, hi int) {
		if v < lo || v > hi {
			panic(fmt.Sprintf("codec: %s(%d) out of range [%d, %d]", name, v, lo, hi))
		}
	}
	check("MaxDepth", l.depth, 4, 65535)
	check("MaxArrayElements", l.arrays, 16, 1<<31-1)
	check("MaxMapPairs", l.pairs, 16, 1<<31-1)
	check("MaxStringLength", l.strlen, 1, int(^uint(0)>>1))

	// Core Deterministic Encoding (RFC 8949 section 4.2): sorted map keys, shortest
	// integers and floats, no indefinite lengths. Equal values give equal bytes, which
	// hash map keys need. Times keep nanoseconds and zone offset (tag 0, RFC 3339)
	// instead of the default whole Unix seconds, which would drop data silently.
	eo := cbor.CoreDetEncOptions()
	eo.Time = cbor.TimeRFC3339Nano
	eo.TimeTag = cbor.EncTagRequired
	enc, err := eo.UserBufferEncMode()
	if err != nil {
		panic("codec: cbor encoder: " + err.Error())
	}
	dec, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:  l.depth,
		MaxArrayElements: l.arrays,
		MaxMapPairs:      l.pairs,
		// Maps inside interface values decode as map[string]any, like Python dicts,
		// and integers as int64 (big.Int beyond), not uint64 for positive ones.
		DefaultMapType: reflect.TypeFor[map[string]any](),
		IntDec:         cbor.IntDecConvertSignedOrBigInt,
		BigIntDec:      cbor.BigIntDecodePointer,
		UTF8:           cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic("codec: cbor decoder: " + err.Error())
	}
	return &cborModes{enc: enc, dec: dec, strlen: l.strlen}
}

// CBOR returns a codec that stores values of T as CBOR (RFC 8949) through
// github.com/fxamacker/cbor/v2, so other languages can read them.
//
// Encoding is Core Deterministic (sorted map keys, shortest forms), so equal values
// encode to equal bytes. time.Time is written as tag 0 with nanoseconds.
//
// Decoding treats src as hostile: it enforces the limits (see DefaultMaxDepth and the
// other defaults; opts change them), rejects duplicate map keys and invalid UTF-8, and
// checks well-formedness before allocating anything, so a tiny input that declares a
// huge array fails fast. Maps inside interface values decode as map[string]any and
// integers as int64 (*big.Int when out of range), so CBOR[map[string]any] behaves like a
// Python dict. Struct fields follow the cbor and json struct tags; unexported fields are
// not stored.
//
// Append refuses, with an error wrapping ErrTooLarge, a value that Decode would refuse
// for its limits, and a text string that is not valid UTF-8, so a writer never publishes
// an item no reader can take back. Values whose maps inside interfaces have non-string
// keys encode but do not decode; avoid them.
//
// The ID is "cbor:" + the type's name, e.g. "cbor:map[string]interface {}". CBOR panics
// if an option is out of its documented range. Building a codec costs a few
// microseconds with options and nothing without: make it once, not per value.
func CBOR[T any](opts ...CBOROption) Codec[T] {
	l := defaultLimits
	for _, o := range opts {
		o(&l)
	}
	m := defaultModes()
	if l != defaultLimits {
		m = newCBORModes(l)
	}
	return &cborCodec[T]{m: m, id: "cbor:" + reflect.TypeFor[T]().String()}
}

type cborCodec[T any] struct {
	m  *cborModes
	id string
}

// bufPool recycles the bytes.Buffer header that MarshalToBuffer needs; its storage is
// always the caller's dst, so encoding happens in place when dst has room.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (c *cborCodec[T]) Append(dst []byte, v T) ([]byte, error) {
	buf := bufPool.Get().(*bytes.Buffer)
	*buf = *bytes.NewBuffer(dst)
	err := c.m.enc.MarshalToBuffer(v, buf)
	out := buf.Bytes()
	*buf = bytes.Buffer{}
	bufPool.Put(buf)
	if err != nil {
		return dst, &opError{op: "encode", id: c.id, err: err}
	}
	enc := out[len(dst):]
	// Refuse what a reader would refuse: the decoder's own limits check, then ours.
	if err := c.m.dec.Wellformed(enc); err != nil {
		e := &opError{op: "encode", id: c.id, err: err}
		if isLimit(err) {
			e.sentinels = []error{ErrTooLarge}
		}
		return dst, e
	}
	if err := checkStrings(enc, c.m.strlen, true); err != nil {
		e := &opError{op: "encode", id: c.id, err: err}
		if errors.Is(err, errStringTooLong) {
			e.sentinels = []error{ErrTooLarge}
		}
		return dst, e
	}
	return out, nil
}

func (c *cborCodec[T]) Decode(src []byte) (T, error) {
	var v T
	if err := checkStrings(src, c.m.strlen, false); err != nil {
		return v, &opError{op: "decode", id: c.id, sentinels: []error{ErrDecode, ErrTooLarge}, err: err}
	}
	if err := c.m.dec.Unmarshal(src, &v); err != nil {
		var zero T
		e := &opError{op: "decode", id: c.id, sentinels: []error{ErrDecode}, err: err}
		if isLimit(err) {
			e.sentinels = append(e.sentinels, ErrTooLarge)
		}
		return zero, e
	}
	return v, nil
}

func (c *cborCodec[T]) FixedSize() int { return 0 }
func (c *cborCodec[T]) ID() string     { return c.id }

func isLimit(err error) bool {
	var a *cbor.MaxNestedLevelError
	var b *cbor.MaxArrayElementsError
	var m *cbor.MaxMapPairsError
	return errors.As(err, &a) || errors.As(err, &b) || errors.As(err, &m)
}

var errStringTooLong = errors.New("string exceeds MaxStringLength")

// checkStrings walks the heads of the CBOR items in b in order and checks that no byte
// or text string (nor the sum of an indefinite-length string's chunks) is longer than
// limit, and, when utf8Check is set, that every text string is valid UTF-8 (the decoder
// checks UTF-8 itself, so Decode leaves it off). fxamacker/cbor has no string length
// limit of its own.
//
// A linear walk suffices: in well-formed CBOR every item starts with a head, string
// payloads are skipped by their length, and arrays, maps and tags are just heads whose
// contents follow. Chunks of an indefinite string are definite strings ended by a break
// (0xff), and cannot nest. Malformed input makes the walk stop with nil, leaving the
// error to the decoder's well-formedness check; the walk never reads out of bounds.
func checkStrings(b []byte, limit int, utf8Check bool) error {
	const none = 0xff
	indef := byte(none) // major type of the open indefinite-length string, if any
	total := uint64(0)  // bytes in its chunks so far
	for i := 0; i < len(b); {
		major, ai := b[i]>>5, b[i]&0x1f
		i++
		arg := uint64(ai)
		if ai >= 24 {
			switch ai {
			case 24, 25, 26, 27:
				n := 1 << (ai - 24) // 1, 2, 4 or 8 bytes follow
				if len(b)-i < n {
					return nil
				}
				arg = 0
				for _, x := range b[i : i+n] {
					arg = arg<<8 | uint64(x)
				}
				i += n
			case 31:
				if major == 2 || major == 3 {
					indef, total = major, 0
				} else if major == 7 {
					indef = none // break; ends an indefinite string if one is open
				}
				continue
			default:
				return nil // reserved additional information: malformed
			}
		}
		if major != 2 && major != 3 {
			continue
		}
		if indef == none {
			total = arg
		} else {
			total += arg // no overflow: each earlier chunk was <= len(b)
		}
		if arg > uint64(limit) || total > uint64(limit) {
			kind := "byte"
			if major == 3 {
				kind = "text"
			}
			return fmt.Errorf("%w: %s string of %d bytes at offset %d, limit %d", errStringTooLong, kind, total, i, limit)
		}
		if arg > uint64(len(b)-i) {
			return nil // truncated
		}
		s := b[i : i+int(arg)]
		i += int(arg)
		if utf8Check && major == 3 && !isASCII(s) && !utf8.Valid(s) {
			return fmt.Errorf("text string at offset %d is not valid UTF-8", i-len(s))
		}
	}
	return nil
}

// isASCII is an inlined fast path for the short keys and values that dominate.
func isASCII(s []byte) bool {
	for _, c := range s {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
