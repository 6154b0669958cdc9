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
// recycled by the next operation that reaches it, and the item it carried
// is counted in Stats().Lost. repair.go gives the full argument.
//
// # Caveats
//
//   - Capacity is fixed at creation (rounded up to a power of two, at most
//     2^24). To grow, create a larger queue and move the items.
//   - Per-producer FIFO holds; across producers, order is the order of
//     their claims.
//   - A push or pop in flight when its process dies is lost, and counted in
//     Stats().Lost. A push cut short may be counted lost although its
//     caller never saw it return; a pop cut short after it claimed the item
//     is counted lost although the dead process may have seen the value.
//     So after crashes, delivered + Lost may exceed the pushes callers saw
//     return by at most one per killed producer goroutine. A Pop of a
//     plain 8-byte value (int64, uint64, int, uint, float64 with the
//     default codec) takes the item in one CAS after reading it, so a
//     consumer killed in it either took nothing or holds the value, which
//     is then neither delivered nor counted (as for a consumer killed just
//     after any Pop returned).
//   - A consumer killed between releasing a spilled item's cell and freeing
//     its block leaks that block (a window of a few instructions); the
//     allocator's Check reports it. A repairer killed halfway may leak the
//     block it was repairing.
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
