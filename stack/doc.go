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
// # Crashes: whose is an item
//
// An item is the stack's from the CAS on top that publishes its push to
// the store that frees its cell after the pop that took it; before and
// after, it is the caller's. A process killed in between leaves it on the
// stack or counts it in Stats().Lost, exactly once:
//
//   - A Push killed before its CAS on top pushed nothing, and nothing is
//     counted; one killed after it pushed its item, although its caller
//     never saw nil.
//   - A Pop killed after it claimed the top cell and before its CAS on
//     top took nothing: the item stays on the stack. One killed after
//     that CAS and before the store that frees the cell leaves the item
//     counted lost.
//   - From that store on (just before Pop returns) the item is the
//     caller's: a process killed after it held the item only in its own
//     memory, as if it had died just after Pop returned. Peek takes
//     nothing.
//
// Lost is counted by segment.Recover, which settles every cell a dead
// popper held, or earlier by the next push that reaches the cell. So once
// Recover has run and nothing is in flight,
//
//	delivered + Stats().Lost = pushed
//
// where pushed counts the pushes that got past their CAS on top (every
// Push that returned nil, and a killed one only if it got that far) and
// delivered the pops that got past the store that frees the cell. Which
// item a killed pusher was pushing, and which one a killed popper had
// popped, are the caller's to record if it must count exactly across kills.
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
