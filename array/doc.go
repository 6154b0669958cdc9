// Package array puts a fixed-length array of numbers (int32, int64, uint32,
// uint64, float32 or float64) into a posixshm segment, so that separate
// processes on one host read and update the elements with atomic operations
// on shared memory, or work on all of them at once through a zero-copy Go
// slice.
//
//	seg, err := segment.OpenOrCreate("/my_shared_mem", 10<<20)
//	if err != nil { ... }
//	counters, err := array.New[int64](seg, "counters", 1000) // create or attach
//	counters.Add(0, 1)                  // atomic, from any process
//	v := counters.Load(0)
//	data := counters.Slice()            // []int64 over the shared memory
//
// Load, Store, Add, Swap and CompareAndSwap are single atomic instructions
// on one element (a compare-and-swap loop for float Add), as fast as
// sync/atomic on Go memory, and safe against a process killed at any
// instruction: a single-word atomic either happened or did not, so the
// array keeps no intent records and needs no repair.
//
// The element type is recorded in shared memory and checked on attach:
// opening an int64 array as Array[float64] is an ErrMismatch naming both.
//
// # Caveats
//
//   - Slice gives plain, non-atomic access: fine for bulk work when nothing
//     else writes, or when a stale value is acceptable, but it is not
//     synchronised with other processes. Within one process the race
//     detector reports plain accesses that race with atomic ones.
//   - All, CopyFrom and CopyTo go one element at a time, each atomically:
//     they are not snapshots. A process killed during CopyFrom leaves a
//     prefix of the elements written, none torn.
//   - An index outside [0, Len()) panics with the runtime's index error, as
//     a Go slice does.
//   - If a peer truncates a named or file-backed segment's file, element
//     operations fault with SIGBUS, which Go treats as fatal: none returns
//     an error, and a guard would cost about as much as Add itself. Guard a
//     batch of them yourself with
//     defer seg.Catch(&err, debug.SetPanicOnFault(true)), which turns the
//     fault into an error wrapping segment.ErrTruncated. In a segment that
//     also holds a hash map (which registers it with
//     segment.UnguardedReads on linux/amd64), Load and the other reads
//     return zeros instead of faulting, and seg.Lost() reports the loss;
//     writes still fault. Anonymous segments are sealed and cannot be
//     truncated.
//   - Float CompareAndSwap compares bits: NaN matches the same NaN, and 0.0
//     does not match -0.0. Float Add retries while other writers change the
//     same element, so it is lock-free, not wait-free.
//   - The length is fixed at creation; grow by creating a larger array and
//     copying. Only the six listed types: named types such as
//     type Celsius float64 are not accepted, so that what shared memory
//     records names one Go type.
//   - An *Array, and any slice from Slice, must not be used after its
//     Segment is closed: the memory is unmapped and touching it faults.
//   - Shared memory is untrusted: the header is checked on attach (magic,
//     version, element type and length against the directory entry and the
//     block size). A peer can still write any element value; numbers have
//     no invalid bit patterns, so that never makes this process fail.
package array
