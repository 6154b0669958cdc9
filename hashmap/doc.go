// Package hashmap is a fixed-capacity, lock-free hash map in POSIX shared
// memory, shared by separate processes: the Python library's
// cache["user:123"] = {...}, in Go.
//
//	seg, err := segment.OpenOrCreate("/my_shared_mem", 10<<20)
//	m, err := hashmap.New[string, User](seg, "users", hashmap.MaxEntries(10000))
//	err = m.Store("user:123", User{Name: "Ada"})
//	u, ok, err := m.Load("user:123")
//
// Keys are strings or byte slices, stored raw, or integers of any width,
// stored as their 1 to 8 bytes in host order (Map[int64, V] and Map[int, V]
// open the same map on a 64-bit host; a map is never opened with keys of
// another width, sign or kind). Values go through a codec
// (codec.For[V]: raw bytes and strings, plain fixed-size data copied, CBOR
// for the rest). The method set is sync.Map's: Load, Store, LoadOrStore,
// LoadAndDelete, Delete, Swap, CompareAndSwap, CompareAndDelete, Clear, All,
// plus Len, Cap and Stats. Methods return an error where shared memory can
// make them fail: ErrFull, ErrTooLarge, ErrCorrupt.
//
// # Design
//
// Open addressing with linear probing over a power-of-two slot array (load
// factor at most 1/2 at capacity). A slot is one uint64: the offset of an
// immutable record (key, value) in an alloc block, the slot's state,
// an 8-bit hash tag and a version. Readers probe, compare the key in place,
// decode the value and re-check the slot word: a record replaced, freed
// and reused under them fails the re-check and is read again, never
// returned. Writers build a new record and CAS the slot word. Inserting an
// absent key claims a slot, checks the chain for a competing insert of the
// same key, reserves the claim, counts it and promotes it (see table.go);
// deleted slots become tombstones that any later insert reuses, and a
// tombstone before an empty slot becomes empty again, so churn never fills
// the map.
//
// Load is the hot path. It hashes the key (two multiplies for keys of 8 to
// 16 bytes), walks the chain comparing tags, reads the matching record in
// place after one bounds check, and re-checks the slot. It also skips the
// SIGBUS guard that every other operation carries, wherever the segment
// promises that its reads cannot fault (segment.UnguardedReads): always
// for an anonymous segment, whose file the kernel forbids shrinking, and
// on linux/amd64 for a named one, where a peer that truncates the file
// leaves zero pages in this process instead of a fatal SIGBUS. Load then
// checks segment.Lost before it returns, and reports ErrTruncated (or
// ErrClosed) rather than what it read from such pages.
//
// Crash safety: each write holds an intent record from before its CAS to
// after its completion, and a new record is published to the allocator
// only after it is linked, under a pending bit that only its writer (or
// the repair of a dead writer) clears. Recovery therefore knows exactly
// whether a dead writer's CAS landed: if so it finishes the write, if not
// the allocator frees the unpublished record. The Len counter changes in
// one CAS that also names the write, while that write's slot holds a word
// no other writer may change, and the write then records the change in its
// slot; so recovery knows whether a dead writer changed the counter too,
// and after it Len is exact and a kill has cost no capacity (repair.go).
//
// # Caveats
//
//   - Capacity is fixed at creation. To grow, create a bigger map (in a new
//     segment if need be) and copy with All.
//   - All is not a snapshot (see All), and Clear is not atomic.
//   - No record leaks: a writer adopts the record it displaced
//     (alloc.Adopt) before it drops the last reference, so one killed
//     before freeing it leaves a block recovery frees. A writer killed
//     between clearing its pending bit and
//     counting the write leaves Stats.Stores or Stats.Deletes one short
//     (and a repairer killed likewise, Stats.Repaired): activity figures,
//     unlike Len, which is exact once recovery has run.
//   - Capacity is enforced by the Len counter, which runs ahead of the
//     keys for an instant while a delete is between the CAS that removes
//     its key and lowering the counter (and, for a deleter killed there,
//     until recovery). An insert that finds the map full yields a few
//     times, then waits while deletes are in flight (up to about a
//     millisecond, with one recovery), before it reports ErrFull, so it
//     does not fail for want of room that a concurrent delete has made.
//   - A writer waits for another writer of the same slot that sits between
//     its CAS and its completion (a few instructions), and an insert for
//     another insert of its key that has reserved its claim, and runs
//     recovery if that writer died. A writer paused there (SIGSTOP, a
//     debugger) delays other writers of that one slot or key; readers never
//     wait.
//   - Slot versions are 20 bits: a reader paused while one slot changes
//     exactly a multiple of 2^20 times, ending on the same record offset,
//     could accept a stale read.
//   - The hash is a fixed, fast, non-cryptographic function with a random
//     seed per map, stored in the map; processes that can read the segment
//     can read the seed, so it is no defence against them.
//   - Values are compared by CompareAndSwap and CompareAndDelete as encoded
//     bytes: CBOR encodes deterministically, Plain compares bytes (so +0.0
//     and -0.0 differ).
//   - A map registers its named segment for unguarded reads (Load's, see
//     above). Closing that segment then leaves its address range reserved,
//     as read-only zero pages without memory, until the process exits, so
//     that a Load racing Close reads zeros rather than crashing: a process
//     that opens and closes such segments by the tens of thousands can
//     reach the kernel's vm.max_map_count. In race builds and off amd64,
//     Load keeps its guard instead and Close unmaps.
package hashmap
