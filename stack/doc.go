// Package stack provides Stack, a bounded LIFO stack in a posixshm segment,
// shared by any number of processes.
//
//	seg, err := segment.OpenOrCreate("/my_shared_mem", 10<<20)
//	s, err := stack.New[int64](seg, "undo", stack.Capacity(100))
//	err = s.Push(42)  // ErrFull when full
//	v, err := s.Pop() // ErrEmpty when empty
//	v, err = s.Peek()
//
// The stack is an array of cells and a top word that packs the height with
// an ABA tag, so a CAS based on a stale read always fails. Each cell's
// state word is claimed by a CAS that stamps the claimer's registry slot,
// so a process killed at any instruction never stalls the others; the item
// it was popping, if any, is counted in Stats().Lost (repair.go).
//
// # Caveats
//
//   - Values are stored inline only: an encoding longer than the slot size
//     (SlotSize, default 48 bytes) is ErrTooLarge, unlike the queue, which
//     spills large values to the allocator. Choose the slot size for your
//     largest value (memory is capacity x (16 + SlotSize) bytes). A spill
//     path is planned; repair.go says how it must work to stay crash-safe.
//   - Capacity is fixed at creation.
//   - Operations at the top serialize on one cell: while one process is
//     between its claim and its CAS on top, others spin (a few
//     instructions). If a process is stopped (SIGSTOP, a debugger) there,
//     others spin until it resumes; if it dies, they recycle its claim.
//   - Peek may return an item that a concurrent Pop removes at once.
//   - A corrupted stack returns ErrCorrupt rather than panicking.
//   - Close the Segment last: using a Stack after its Segment is closed
//     faults.
package stack
