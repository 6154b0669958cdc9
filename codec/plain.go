package codec

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// plainCodecs caches Plain: reflect.Type -> plainEntry. Plain walks a type with reflect
// once; every later call for that type is a map load.
var plainCodecs sync.Map

type plainEntry struct {
	codec any // Codec[T] when err is nil
	err   error
}

// Plain returns the codec that copies values of T byte for byte, for fixed-size plain
// data: booleans, integers (not uintptr), floats, complex numbers, and arrays and structs
// made only of those. Append is a memmove (plus zeroing of padding, see below) and does
// not allocate when dst has room; Decode copies src into a fresh T, so src may be
// unaligned.
//
// Plain refuses, with an error wrapping ErrNotPlain that names the offending field path
// and kind (e.g. "codec: main.Task.Name is a string"), any type containing pointers,
// strings, slices, maps, chans, funcs, interfaces, unsafe.Pointer or uintptr, since those
// hold addresses that mean nothing in another process; and types of size zero, whose
// FixedSize could not be positive. The check runs with reflect once per type and is
// cached.
//
// Padding between struct fields and blank (_) fields is written as zeros, so equal
// values always encode to equal bytes (hash map keys rely on it) and no stale stack
// bytes leak into shared memory. Decode refuses a bool byte other than 0 or 1, and src
// whose length is not FixedSize, with an error wrapping ErrDecode.
//
// The ID describes the layout, not the type's name: "plain2:" + the layout + "/" + the
// size, where numbers are named by kind and size (int is int64 on a 64-bit host),
// arrays by length and element, and structs by each field's name, layout and offset,
// recursively. A struct Task{Name [16]byte; ID int64} has the ID
// "plain2:{Name [16]uint8@0;ID int64@16}/24" in any package and under any name, and
// no other layout shares it. ("plain2" is the second version of the ID; the first,
// "plain:" + the type's name + "/" + the size, accepted unrelated types of one name
// and refused a struct moved to another package.) The bytes are the host's in-memory
// representation: see the Caveats in the package documentation.
func Plain[T any]() (Codec[T], error) {
	t := reflect.TypeFor[T]()
	if e, ok := plainCodecs.Load(t); ok {
		return plainResult[T](e.(plainEntry))
	}
	var e plainEntry
	l, err := plainLayoutOf(t)
	if err != nil {
		e.err = err
	} else {
		e.codec = &plainCodec[T]{plainLayout: l, id: plainID(t, l.size)}
	}
	actual, _ := plainCodecs.LoadOrStore(t, e)
	return plainResult[T](actual.(plainEntry))
}

func plainResult[T any](e plainEntry) (Codec[T], error) {
	if e.err != nil {
		return nil, e.err
	}
	return e.codec.(Codec[T]), nil
}

// span is a run of bytes [off, off+n) inside a plain value.
type span struct{ off, n int }

// plainLayout is what Plain learns about a type with reflect, once.
type plainLayout struct {
	size   int    // reflect.Type.Size(), > 0
	holes  []span // padding and blank fields: zeroed by Append
	bools  []span // bool bytes: must be 0 or 1 on Decode
	simple bool   // no holes and no bools: every byte is copied as is
}

type plainCodec[T any] struct {
	plainLayout
	id string
}

// Append and Decode have a fast path for the common case (a type without padding or
// bools, an aligned slot with room): one typed move, with no memmove call and no loops,
// which took int64 from 4.4 to 2.8 ns per Append. The general path handles unaligned
// memory, padding, bools, errors and spilling.

func (c *plainCodec[T]) Append(dst []byte, v T) ([]byte, error) {
	n := len(dst)
	if c.simple && cap(dst)-n >= c.size {
		dst = dst[:n+c.size]
		if store(dst[n:], v) {
			return dst, nil
		}
	}
	return c.appendSlow(dst[:n], &v), nil
}

func (c *plainCodec[T]) appendSlow(dst []byte, v *T) []byte {
	n := len(dst)
	dst = slices.Grow(dst, c.size)[:n+c.size]
	copy(dst[n:], bytesOf(v))
	for _, h := range c.holes {
		clear(dst[n+h.off : n+h.off+h.n])
	}
	return dst
}

func (c *plainCodec[T]) Decode(src []byte) (T, error) {
	if c.simple && len(src) == c.size {
		if v, ok := load[T](src); ok {
			return v, nil
		}
	}
	var v T
	err := c.decodeSlow(&v, src)
	return v, err
}

// decodeSlow fills *v, which is zero, from src, or leaves it zero and returns an error.
func (c *plainCodec[T]) decodeSlow(v *T, src []byte) error {
	if len(src) != c.size {
		return decodeError(c.id, fmt.Errorf("want %d bytes, got %d", c.size, len(src)))
	}
	for _, b := range c.bools {
		for i, x := range src[b.off : b.off+b.n] {
			if x > 1 {
				return decodeError(c.id, fmt.Errorf("byte %d is %#x, not a bool (0 or 1)", b.off+i, x))
			}
		}
	}
	copy(bytesOf(v), src)
	return nil
}

func (c *plainCodec[T]) FixedSize() int { return c.size }
func (c *plainCodec[T]) ID() string     { return c.id }

// plainLayoutOf checks that t is plain data and records its padding and bools.
func plainLayoutOf(t reflect.Type) (plainLayout, error) {
	holes, bools, err := walkPlain(t, t.String())
	if err != nil {
		return plainLayout{}, err
	}
	if t.Size() == 0 {
		return plainLayout{}, &notPlainError{path: t.String(), what: "of size 0"}
	}
	simple := len(holes) == 0 && len(bools) == 0
	return plainLayout{size: int(t.Size()), holes: holes, bools: bools, simple: simple}, nil
}

// plainIDVersion names the scheme of plain IDs; see Plain.
const plainIDVersion = "plain2:"

// plainID returns the ID of the plain codec of t, whose size is size.
func plainID(t reflect.Type, size int) string {
	var b strings.Builder
	b.WriteString(plainIDVersion)
	describePlain(&b, t)
	b.WriteByte('/')
	b.WriteString(strconv.Itoa(size))
	return b.String()
}

// describePlain writes the layout of t, a type walkPlain accepted: what two
// processes must agree on to share its bytes, and nothing else (no type
// names).
func describePlain(b *strings.Builder, t reflect.Type) {
	bits := strconv.Itoa(int(t.Size()) * 8)
	switch t.Kind() {
	case reflect.Bool:
		b.WriteString("bool")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		b.WriteString("int" + bits)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		b.WriteString("uint" + bits)
	case reflect.Float32, reflect.Float64:
		b.WriteString("float" + bits)
	case reflect.Complex64, reflect.Complex128:
		b.WriteString("complex" + bits)
	case reflect.Array:
		b.WriteString("[" + strconv.Itoa(t.Len()) + "]")
		describePlain(b, t.Elem())
	case reflect.Struct:
		b.WriteByte('{')
		for i := range t.NumField() {
			f := t.Field(i)
			if i > 0 {
				b.WriteByte(';')
			}
			b.WriteString(f.Name + " ")
			describePlain(b, f.Type)
			b.WriteString("@" + strconv.Itoa(int(f.Offset)))
		}
		b.WriteByte('}')
	}
}

// walkPlain returns the holes and bool spans of t, relative to its start, or an error
// naming the first field (by path) whose kind is not plain.
func walkPlain(t reflect.Type, path string) (holes, bools []span, err error) {
	switch t.Kind() {
	case reflect.Bool:
		return nil, []span{{0, 1}}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128:
		return nil, nil, nil
	case reflect.Array:
		eh, eb, err := walkPlain(t.Elem(), path+"[0]")
		if err != nil {
			return nil, nil, err
		}
		if len(eh) == 0 && len(eb) == 0 {
			return nil, nil, nil // e.g. [1 << 20]int64: nothing to repeat
		}
		es := int(t.Elem().Size())
		for i := range t.Len() {
			holes = appendSpans(holes, eh, i*es)
			bools = appendSpans(bools, eb, i*es)
		}
		return holes, bools, nil
	case reflect.Struct:
		end := 0 // end of the last field seen
		for i := range t.NumField() {
			f := t.Field(i)
			off := int(f.Offset)
			if off > end {
				holes = appendSpans(holes, []span{{end, off - end}}, 0)
			}
			fh, fb, err := walkPlain(f.Type, path+"."+f.Name)
			if err != nil {
				return nil, nil, err
			}
			if f.Name == "_" {
				fh = []span{{0, int(f.Type.Size())}}
				fb = nil // never read by Go code, so any byte is harmless
			}
			holes = appendSpans(holes, fh, off)
			bools = appendSpans(bools, fb, off)
			end = max(end, off+int(f.Type.Size()))
		}
		if size := int(t.Size()); size > end {
			holes = appendSpans(holes, []span{{end, size - end}}, 0)
		}
		return holes, bools, nil
	}
	return nil, nil, &notPlainError{path: path, what: kindWords(t.Kind())}
}

// appendSpans appends spans shifted by base to dst, merging runs that touch.
func appendSpans(dst, spans []span, base int) []span {
	for _, s := range spans {
		if s.n == 0 {
			continue
		}
		s.off += base
		if k := len(dst) - 1; k >= 0 && dst[k].off+dst[k].n == s.off {
			dst[k].n += s.n
			continue
		}
		dst = append(dst, s)
	}
	return dst
}

func kindWords(k reflect.Kind) string {
	switch k {
	case reflect.Pointer:
		return "a pointer"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a slice"
	case reflect.Map:
		return "a map"
	case reflect.Chan:
		return "a chan"
	case reflect.Func:
		return "a func"
	case reflect.Interface:
		return "an interface"
	case reflect.UnsafePointer:
		return "an unsafe.Pointer"
	case reflect.Uintptr:
		return "a uintptr"
	}
	return "a " + k.String()
}
