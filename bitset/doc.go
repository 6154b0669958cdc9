// Package bitset puts a fixed-size set of bits into a posixshm segment, so
// that separate processes on one host set, clear and test bits with atomic
// operations on shared memory: no lock, no broker, no copy.
//
//	seg, err := segment.OpenOrCreate("/my_shared_mem", 10<<20)
//	if err != nil { ... }
//	bits, err := bitset.New(seg, "flags", 100_000) // create or attach
//	bits.Set(42)
//	if !bits.TestAndSet(7) { ... } // this process claimed bit 7
//	for i := range bits.Ones() { ... }
//
// Any size can be chosen at creation (up to MaxLen). Single-bit operations
// (Set, Clear, Flip, Test, TestAndSet, TestAndClear) are one atomic
// instruction on one 64-bit word: as fast as sync/atomic on Go memory, and
// safe against a process killed at any instruction, since a single-word
// atomic either happened or did not. That is why the bitset keeps no intent
// records.
//
// # Claims with owners
//
// A bit claimed with TestAndSet belongs to nobody in particular: if the
// claiming process dies, the bit stays set. For slot allocators and lock
// tables, create the bitset with the Owned option: it keeps an owner word
// per bit, and ClaimOwned, ClaimAnyOwned and ReleaseOwned record which
// process attachment holds each bit.
//
//	slots, err := bitset.New(seg, "workers", 64, bitset.Owned())
//	i, err := slots.ClaimAnyOwned() // ErrFull when every bit is held
//	defer slots.ReleaseOwned(i)
//
// When a process dies, segment recovery (Segment.Recover, also run by
// every Open) releases every bit it owned, whatever instruction it was
// killed at; repair.go gives the argument. ReleaseOrphans releases bits
// whose owner closed its handle without releasing them. Owners iterates
// the owned bits with their owners, and Stats counts them.
//
// # Caveats
//
//   - Operations over the whole set (Count, Any, All, None, NextSet,
//     NextClear, Ones, SetAll, ClearAll and the bulk And, Or, Xor, AndNot)
//     go one word at a time, each word atomically: they are not snapshots,
//     and a bulk operation is not one atomic step. A process killed during
//     one leaves some words done and the rest untouched, never a torn word.
//   - An index outside [0, Len()) panics with the runtime's index error, as
//     a Go slice does; NextSet and NextClear accept any index >= 0.
//   - The size is fixed at creation. To grow, create a larger bitset (or
//     segment) and copy.
//   - A *Bitset must not be used after its Segment is closed: the words are
//     unmapped and touching them faults.
//   - If a peer truncates a named or file-backed segment's file, And, Or,
//     Xor and AndNot return an error wrapping segment.ErrTruncated; the other
//     methods return no error and stay unguarded (a guard costs about as
//     much as Set itself), so they fault with SIGBUS, which Go treats as
//     fatal. Guard a batch of them yourself:
//     defer seg.Catch(&err, debug.SetPanicOnFault(true)). In a segment
//     that also holds a hash map (which registers it with
//     segment.UnguardedReads on linux/amd64), Test and the other reads
//     return zeros instead of faulting, and seg.Lost() reports the loss;
//     writes still fault. Anonymous segments are sealed and cannot be
//     truncated.
//   - Owned claims cover bits used only through ClaimOwned, ClaimAnyOwned
//     and ReleaseOwned. The plain writes (Set, TestAndSet, Flip, SetAll,
//     Or, Xor, ...) still work on an owned bitset but record no owner: a
//     bit they set is never released by recovery and fails ClaimOwned, and
//     a claimer killed while it finds such a bit set may have it cleared
//     by recovery. Keep them to bits the owned operations do not use.
//   - Recovery releases owned bits only in processes that link this
//     package (its recovery hook registers at init). A dead process's slot
//     recovered by a program that does not import bitset, or a handle
//     closed while holding bits, leaves them to ReleaseOrphans (or to a
//     ClaimAnyOwned that finds the bitset full).
//   - Ownership is per segment handle (attachment), not per goroutine:
//     any goroutine of the owning process may release the bit.
//   - Shared memory is untrusted: the header is checked on attach (magic,
//     version, length against the directory entry and the block size), and
//     bits a peer sets past Len are ignored. A peer can still set or clear
//     any valid bit; nothing protects data from a process that may write the
//     segment.
package bitset
