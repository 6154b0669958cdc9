package codec

import "unsafe"

// This file holds every use of unsafe in the package. Only Plain calls these helpers,
// and only for types that plainLayoutOf accepted: no pointers, strings, slices, maps,
// chans, funcs, interfaces, unsafe.Pointer or uintptr anywhere in T. That is what makes
// treating a T as bytes, and bytes as a T, sound:
//
//   - The GC never needs to see a pointer inside a T, so a T may live in a []byte's
//     (pointer-free) memory and be filled from arbitrary bytes.
//   - Every bit pattern is a valid integer, float or complex. The one kind with invalid
//     patterns, bool, is checked to be 0 or 1 by Decode before any byte reaches a T
//     (load is only used when T has no bools).
//   - Alignment: bytesOf views a properly aligned T (a local variable), and copy moves
//     bytes, so the other side may sit at any address in shared memory. store and load
//     access b as a *T only after checking that b's start is aligned for T; otherwise
//     the caller falls back to copy. (checkptr, on under -race, verifies both.)

// bytesOf returns the memory of *p as a byte slice of exactly unsafe.Sizeof(*p) bytes.
// The slice must not outlive *p.
func bytesOf[T any](p *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), unsafe.Sizeof(*p))
}

// store writes v to the start of b as a T, one typed move instead of a memmove call,
// and reports whether it did: it does nothing when b is not aligned for T.
// The caller guarantees len(b) >= unsafe.Sizeof(v).
func store[T any](b []byte, v T) bool {
	p := unsafe.Pointer(unsafe.SliceData(b))
	if uintptr(p)%unsafe.Alignof(v) != 0 {
		return false
	}
	*(*T)(p) = v
	return true
}

// load reads a T from the start of b, and reports whether it did: it does nothing when
// b is not aligned for T. The caller guarantees len(b) >= unsafe.Sizeof(v) and that
// T has no bools.
func load[T any](b []byte) (v T, ok bool) {
	p := unsafe.Pointer(unsafe.SliceData(b))
	if uintptr(p)%unsafe.Alignof(v) != 0 {
		return v, false
	}
	return *(*T)(p), true
}

// wordBits and fromWordBits view an 8-byte word kind (int64, uint64, int,
// uint, float64: the kinds ToWord accepts) as its bits, in place. The
// caller has checked the kind once (IsWord); the size check only keeps a
// misuse with a smaller T from reading past it.
func wordBits[T any](v T) uint64 {
	if unsafe.Sizeof(v) != 8 {
		return 0
	}
	return *(*uint64)(unsafe.Pointer(&v))
}

func fromWordBits[T any](w uint64) (v T) {
	if unsafe.Sizeof(v) == 8 {
		*(*uint64)(unsafe.Pointer(&v)) = w
	}
	return v
}
