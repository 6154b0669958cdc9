// Package alloc is a lock-free memory allocator inside a posixshm segment.
// Structures use it for the blocks they keep in shared memory: a queue's
// spilled values, a hash map's records, an object's own memory.
//
//	a, err := alloc.Of(seg)
//	off, err := a.Alloc(200) // a segment.Offset, valid in every process
//	...
//	err = a.Free(off)
//
// Memory is handed out in 16 KiB chunks. A small block (up to 8 KiB) is cut
// from a chunk of its size class, and a bit per block in the chunk's free
// bitmap says whether it is free: Alloc claims a block by clearing its bit,
// Free gives it back by setting it. When every block of a chunk is free
// again, the chunk returns to the pool, where any size class, or a large
// block (a run of whole chunks), takes it: freed memory serves every size.
// Each small class has eight cursors, one per shard; a process starts on
// its own shard, offset by the P its goroutine runs on, so processes, and
// goroutines of one process, allocating the same size work in different
// chunks. Blocks carry a header with their class and state, validated on
// Free, so a bad or double free is an error rather than corruption. Stats
// reads the heap's own record (chunk table and bitmaps), so its figures are
// exact at rest; Check walks every block and proves bits, states and hints
// consistent.
//
// # Crash safety
//
// No operation takes a lock. A block returned by Alloc is stamped with the
// caller's registry slot until Publish; if the caller dies first, the
// segment's recovery (which every Open runs) frees it. A process killed at
// any instruction inside Alloc or Free leaks nothing either: every step
// that changes a block's state or a chunk's table entry together with a
// bit first moves the word to a state that names the process (freeing,
// retired, carving, releasing), which only it moves on; recovery finishes
// whatever a dead process's name is still on, without meeting any live
// process. After any number of kills and recoveries, Check reports a whole
// heap and Stats agrees with it. The argument is in repair.go.
//
// # Caveats
//
//   - Blocks are not zeroed.
//   - Each shard of a size class keeps the chunk it allocates from even
//     when all its blocks are free (so that allocating and freeing one
//     block does not cut and return a chunk every time): up to eight
//     chunks per small class. Alloc returns them to the pool before it
//     reports ErrOutOfMemory.
//   - Large blocks are whole chunks (16 KiB multiples), rounded to four
//     sizes per power of two, and need a run of free chunks in a row.
//   - Finding a run of free chunks scans a bit per chunk, and Stats reads
//     every chunk's table entry and bitmap: both grow with the heap (a
//     1 GiB heap has 65536 chunks). Recovery of a dead process walks every
//     block of the small chunks, as it did to free its unpublished blocks.
//   - Stats reads words one at a time; under load it is approximate.
package alloc
