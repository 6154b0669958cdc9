// Package segment maps POSIX shared memory segments that separate processes
// on one Linux host share, and provides what every posixshm structure stands
// on: a checked header, a directory of named objects, a registry of attached
// processes with kernel-backed liveness, intent records for crash repair,
// bounds-checked accessors, and futex waits.
//
// A segment is created once and opened by any number of processes:
//
//	seg, err := segment.OpenOrCreate("/my_shared_mem", 10<<20) // 10 MiB
//	if err != nil { ... }
//	defer seg.Close()
//
// Structures are then created in it by name (queue.New, hashmap.New, ...).
// Named segments live in /dev/shm; CreateFile and OpenFile place one on any
// file system instead. Segments are created with mode 0600; Mode widens it.
//
// # The user API and the toolkit
//
// Users of the structures need only: Create, Open, OpenOrCreate (and their
// File and Anonymous forms, Pass and Inherited), Close, Remove, Stats,
// Objects, Recover, and the options (Mode, ProcessSlots, ReadOnly, ...).
//
// The rest is a toolkit for structure authors, the code that implements a
// queue or a map in a segment:
//
//   - memory: Heap, At, Slice, Bytes and InBounds turn offsets read from
//     shared memory into checked Go views (every offset is untrusted);
//     StoreRelease is the store that publishes what was written before it;
//   - objects: FindOrCreate, Lookup, ObjectAt and Delete manage named
//     objects in the directory, with their kind, version and parameters;
//   - crashes: BeginIntent and its Intent record an operation in flight;
//     RegisterRepair and RegisterRecoveryHook say how to finish or undo
//     one for a dead process; Slot, Alive and Processes tell who is alive;
//   - faults: Catch turns a SIGBUS in a truncated file into ErrTruncated;
//     UnguardedReads, Lost and LostErr let hot reads skip the guard;
//   - waits: Wait, WaitAtMost and Wake are futex waits on shared words;
//   - ProcHint spreads goroutines of one process over per-P shared words.
//
// # Liveness and repair
//
// Each open Segment takes a slot in the segment's process registry and holds
// an open-file-description lock on one byte of the file for it. The kernel
// releases that lock when the process dies, however it dies, so peers can
// tell a dead process from a slow one without PIDs or heartbeats. Before a
// step that would leave shared state half done, a structure writes an
// intent record (BeginIntent) into its slot; Recover, which Open also runs,
// hands the intents of dead processes to the RepairFunc registered for their
// kind, then runs recovery hooks such as the allocator's.
//
// # Caveats
//
//   - Linux only: the package needs OFD locks, futexes and fallocate.
//   - A segment is at most 64 GiB (MaxSize), fixed at creation; grow by
//     creating a larger segment and copying.
//   - The directory and registry sizes are fixed at creation
//     (DirectoryEntries, ProcessSlots).
//   - Close unmaps the memory: using a structure of a closed Segment faults.
//     A segment whose reads may be unguarded (UnguardedReads: every sealed
//     one, and a named one a structure registered) instead keeps read-only
//     zero pages at that address until the process exits: reads return
//     zeros, and operations report ErrClosed. Each such Close leaves one
//     mapping without memory behind; a process that opens and closes tens
//     of thousands of them can reach the kernel's vm.max_map_count.
//   - Remove unlinks the name only; processes that have the segment mapped
//     keep using it until they close it.
//   - If another process shrinks the file under a running process, touching
//     the lost pages raises SIGBUS, which Go reports as a fatal fault. Open
//     checks the file size against the header, and creation reserves pages,
//     but nothing can stop a hostile peer from truncating a file it may
//     write. Operations guarded by Catch report ErrTruncated instead. In a
//     segment registered by UnguardedReads (linux/amd64, not race builds)
//     the process's own SIGBUS handler puts read-only zero pages where the
//     lost ones were: every read then returns zeros, guarded or not, Lost
//     reports it, and a write still faults.
//   - Every process that opens a segment can write all of it. The library
//     checks every offset and length it reads from shared memory, so a
//     buggy or hostile peer can corrupt data but cannot make this process
//     panic or access memory outside the mapping.
package segment
