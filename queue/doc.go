// Package queue provides Queue, a bounded multi-producer, multi-consumer
// FIFO queue in a posixshm segment, shared by any number of processes.
//
//	seg, err := segment.OpenOrCreate("/my_shared_mem", 10<<20)
//	q, err := queue.New[Task](seg, "task_queue", queue.Capacity(1000))
//	err = q.Push(Task{Name: "process_data", ID: 42}) // ErrFull when full
//	t, err := q.Pop()                                // ErrEmpty when empty
//	t, err = q.PopWait(ctx)                          // sleeps until an item or ctx ends
//
// Elements are encoded by a codec (package codec): fixed-size plain data is
// copied as bytes straight into the queue's cell, []byte and string are
// stored raw, anything else as CBOR. An encoding up to the slot size
// (SlotSize, default 48 bytes) lives in the cell; a larger one spills to a
// block of the segment's allocator, which the consumer frees.
//
// The algorithm is Vyukov's bounded MPMC ring with per-cell sequence
// numbers, changed so that the CAS that claims a cell also stamps the
// claimer's registry slot into it. A process killed at any instruction
// therefore never stalls the others: a cell claimed by a dead process is
// recycled by the next operation that reaches it (or by segment.Recover),
// and an item a dead consumer had claimed is counted in Stats().Lost.
// repair.go gives the full argument.
//
// # Crashes: whose is an item
//
// An item is the queue's from the store that publishes it to the write
// that frees its cell after a pop; before and after, it is the caller's.
// A process killed in between leaves it in the queue or counts it in
// Stats().Lost, exactly once:
//
//   - A push killed before its publish pushed nothing, and nothing is
//     counted; one killed after it pushed its item, although its caller
//     never saw nil. PushBatch publishes item by item.
//   - A pop that had claimed its item and was killed before freeing its
//     cell leaves the item counted lost. That includes a process killed
//     inside PopFunc's fn, and every item a PopBatch had taken when it was
//     killed: PopBatch frees its items' cells only as it returns.
//   - The write that frees the cell is the store that releases it (just
//     before Pop, PopWait and PopFunc return, as PopBatch returns, before
//     Drain yields), or, for an inline 8-byte value (int64, uint64, int,
//     uint, float64 with the default codec) taken by Pop or PopWait, the
//     one CAS that takes the item and frees its cell at once. From there
//     on the item is the caller's: a process killed after it held the item
//     only in its own memory, as if it had died just after Pop returned.
//
// Lost is counted by segment.Recover, which settles every cell a dead
// consumer held, or earlier by the next operation that reaches such a
// cell. So once Recover has run and nothing is in flight,
//
//	delivered + Stats().Lost = pushed
//
// where pushed counts the pushes that got past their publish (every push
// that returned nil, and a killed one only if it got that far) and
// delivered the pops that got past the write that frees the cell. A
// program that must count exactly across kills has to learn, in a way
// that survives them, which item a killed producer was pushing and which
// one a killed consumer had popped: those two windows are the caller's.
//
// # Caveats
//
//   - Capacity is fixed at creation (rounded up to a power of two, at most
//     2^24). To grow, create a larger queue and move the items.
//   - Per-producer FIFO holds; across producers, order is the order of
//     their claims.
//   - Spill blocks do not leak: a consumer, or a process counting a dead
//     consumer's item lost, adopts the block (alloc.Adopt) before the
//     release that drops its last reference, so one killed before freeing
//     it leaves a block recovery frees; repairs, also those that
//     segment.Open runs before the attaching process holds a slot, free
//     under the dead attachment's name (alloc.ActingFor; repair.go,
//     "Recovery by a process without a slot").
//   - PopBatch holds the cells of the items it takes until it returns, so
//     a producer a lap ahead sees the queue full meanwhile.
//   - While a push is between its claim and its publish, Pop returns
//     ErrEmpty even if later items are ready (as in Vyukov's queue).
//   - Drain is single-use in effect: it removes what it yields.
//   - Every process that maps the segment can write the queue's memory. The
//     queue checks every length and offset it reads; a corrupted queue
//     returns ErrCorrupt rather than panicking, but its items are not
//     trustworthy.
//   - A push publishes with a plain (release) store instead of an atomic
//     exchange on amd64, where the process could register for membarrier(2)
//     (segment.PlainPublishOK); PopWait and PushWait sleepers issue the
//     matching fence before they re-check and sleep (about a microsecond
//     per sleep). Where the kernel refuses membarrier, publishes stay atomic
//     exchanges and sleeps are bounded at 1 ms.
//   - PopWait and PushWait first retry for a few microseconds, yielding the
//     processor between tries, since a futex sleep and wake costs more when
//     the other side is about to act; then they sleep at most 100 ms at a
//     time, so an idle waiter wakes ten times a second to re-check; it uses
//     no CPU otherwise.
//   - Close the Segment last: using a Queue after its Segment is closed
//     faults.
package queue
