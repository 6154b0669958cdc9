package hashmap

import (
	"bytes"
	"fmt"
	"reflect"
	"unsafe"

	"github.com/posixshm/posixshm/codec"
)

// keyType is the constraint on keys: strings and byte slices, stored as
// their bytes, and integers, stored as their in-memory bytes (host order;
// the segment refuses a host of the other byte order).
type keyType interface {
	~string | ~[]byte |
		~int | ~int8 | ~int16 | ~int32 | ~int64 |
		~uint | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~uintptr
}

// keyKind says how a key's bytes are found: one of the three shapes of
// keyType. It is decided once per Map (from reflect) because a generic
// function cannot switch on a type's underlying type.
type keyKind uint8

const (
	keyString keyKind = iota
	keyBytes
	keyFixed // an integer: unsafe.Sizeof(K) bytes
)

func kindOf[K keyType]() keyKind {
	switch reflect.TypeFor[K]().Kind() {
	case reflect.String:
		return keyString
	case reflect.Slice:
		return keyBytes
	}
	return keyFixed
}

// keyID names the key encoding in the map's key fingerprint, so a map is
// opened only with keys that store as its creator's did. Integers are named
// by size and sign, not by type: int and int64 (on 64-bit hosts) share maps.
func keyID[K keyType]() string {
	t := reflect.TypeFor[K]()
	switch t.Kind() {
	case reflect.String:
		return "raw-string"
	case reflect.Slice:
		return "raw-bytes"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return fmt.Sprintf("uint%d", t.Size()*8)
	}
	return fmt.Sprintf("int%d", t.Size()*8)
}

// keyEncodings are the key IDs keyID gives, by fingerprint.
var keyEncodings = func() map[uint64]string {
	m := map[uint64]string{}
	for _, id := range []string{"raw-string", "raw-bytes", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"} {
		m[codec.Fingerprint(id)] = id
	}
	return m
}()

// keyName names the key encoding whose fingerprint is fp, for errors that
// name both sides of a mismatch.
func keyName(fp uint64) string {
	if id, ok := keyEncodings[fp]; ok {
		return "keys " + id
	}
	return fmt.Sprintf("key fingerprint %#x", fp)
}

// keyOf returns the bytes of *key as a string that aliases *key's memory
// (an integer) or the memory it points to (a string or slice): no copy, so
// the string must not outlive the call that holds key. kind is kindOf[K]().
//
// The conversions below reinterpret *key as what kind says it is, which is
// exactly its underlying type; nothing else in the package uses unsafe on
// Go values.
func keyOf[K keyType](kind keyKind, key *K) string {
	p := unsafe.Pointer(key)
	switch kind {
	case keyString:
		return *(*string)(p)
	case keyBytes:
		b := *(*[]byte)(p)
		return unsafe.String(unsafe.SliceData(b), len(b))
	}
	return unsafe.String((*byte)(p), unsafe.Sizeof(*key))
}

// keyFrom copies the key stored as b (a record's key bytes) into a K. ok
// is false when b cannot be a K: an integer key of the wrong length.
func keyFrom[K keyType](kind keyKind, b []byte) (k K, ok bool) {
	p := unsafe.Pointer(&k)
	switch kind {
	case keyString:
		*(*string)(p) = string(b)
	case keyBytes:
		*(*[]byte)(p) = bytes.Clone(b)
	default:
		if uintptr(len(b)) != unsafe.Sizeof(k) {
			return k, false
		}
		copy(unsafe.Slice((*byte)(p), len(b)), b)
	}
	return k, true
}

// bytesKey views a []byte key of Raw as keyOf does.
func bytesKey(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
