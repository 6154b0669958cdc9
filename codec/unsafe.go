package codec

import "unsafe"

// bytesOf returns the memory of *p as a byte slice of exactly unsafe.Sizeof(*p) bytes.
// It is the only use of unsafe in this package, and only Plain calls it, for types that
// plainLayoutOf has accepted. That makes both directions sound:
//
//   - Reading (Append): *p is a live, addressable T; every byte of it may be read.
//     The slice is used only within the calling function, while p is live, and holds no
//     pointer into the heap that the GC would need to know about beyond p itself.
//   - Writing (Decode): T contains no pointers (checked), so the GC never interprets
//     its bytes, and every bit pattern is a valid integer, float or complex value. The
//     one kind with invalid patterns, bool, is checked to be 0 or 1 before the copy.
//     Alignment is not a concern: the destination is a properly aligned local T and
//     copy moves bytes, so src in shared memory may sit at any address.
func bytesOf[T any](p *T) []byte {
	return unsafe.Slice((*byte)(unsafe.Pointer(p)), unsafe.Sizeof(*p))
}
