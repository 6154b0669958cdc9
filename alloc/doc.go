// Package alloc is a lock-free memory allocator inside a posixshm segment.
// Structures use it for the blocks they keep in shared memory: a queue's
// spilled values, a hash map's records, an object's own memory.
//
//	a, err := alloc.Of(seg)
//	off, err := a.Alloc(200) // a segment.Offset, valid in every process
//	...
//	err = a.Free(off)
//
// Fresh memory comes from a bump pointer over 16 KiB chunks; freed blocks go
// to per-size-class free lists (Treiber stacks with ABA tags) and are reused.
// Each small class has eight lists; a process starts on its own, offset by
// the P its goroutine runs on, and moves on when a list is empty or
// contended, so processes, and goroutines of one process, allocating the
// same size do not all fight over one cache line.
// Blocks carry a header with their class and state, validated on Free, so a
// bad or double free is an error rather than corruption. Stats shows bytes
// in use and free per class, so a leak is visible; Check walks the whole
// heap and proves the lists and counters consistent.
//
// # Crash safety
//
// No operation takes a lock. A block returned by Alloc is stamped with the
// caller's registry slot until Publish; if the caller dies first, the
// segment's recovery (which every Open runs) frees it. A process killed
// inside Alloc or Free itself can leak the single block, or the fresh chunk,
// it was handling; Check reports such a leak.
//
// # Caveats
//
//   - Blocks are not zeroed.
//   - Memory is never returned from a size class to the chunk pool: a heap
//     that once held many small blocks keeps them for small allocations.
//   - Large blocks are whole chunks (16 KiB multiples), rounded to four
//     sizes per power of two.
//   - Stats reads counters one at a time; under load it is approximate.
package alloc
