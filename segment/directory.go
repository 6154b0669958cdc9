//go:build linux

package segment

import (
	"fmt"
	"hash/fnv"
	"runtime/debug"

	"golang.org/x/sys/unix"
)

// The directory maps object names to blocks of the heap. It is an open
// addressing table changed only under the directory lock (an OFD lock, so a
// holder that dies releases it), which makes find-or-create race-free across
// processes: the lock holder sees every entry settled. Creating an object is
// rare and off the data path, so a lock costs nothing that matters here,
// while the structures themselves stay lock-free. Lock-free readers (Objects)
// copy an entry and re-check its ctl word, as a seqlock reader does.

// Kind identifies what an object is.
type Kind uint32

// The kinds of objects the posixshm modules create.
const (
	KindQueue   Kind = 1
	KindStack   Kind = 2
	KindHashMap Kind = 3
	KindBitset  Kind = 4
	KindArray   Kind = 5
)

func (k Kind) String() string {
	switch k {
	case KindQueue:
		return "queue"
	case KindStack:
		return "stack"
	case KindHashMap:
		return "hashmap"
	case KindBitset:
		return "bitset"
	case KindArray:
		return "array"
	}
	return fmt.Sprintf("kind(%d)", uint32(k))
}

// Spec describes an object to find or create.
type Spec struct {
	Kind    Kind
	Version uint32    // the object's own layout version
	Params  [4]uint64 // kind-specific parameters, checked by the structure on attach
	Size    uint64    // bytes to allocate for a new object
}

// Object describes a named object in the directory.
type Object struct {
	Name    string
	Kind    Kind
	Version uint32
	Params  [4]uint64
	Offset  Offset // where the object's bytes start: Block rounded up to 64, so objects start on a cache line
	Block   Offset // the heap block holding the object (what the heap frees)
	Size    uint64
	Index   uint32 // directory index; names the object in intent records
}

// Heap allocates the blocks objects live in. The alloc module's Allocator
// implements it; segment cannot import alloc, which depends on it.
type Heap interface {
	// Alloc returns a block of at least n bytes, owned by this process
	// until Publish: if the process dies before Publish, recovery frees it.
	Alloc(n uint64) (Offset, error)
	// Publish marks a block as reachable from shared state.
	Publish(off Offset) error
	// Free returns a block.
	Free(off Offset) error
}

// FindOrCreate returns the object called name, creating it if there is none.
// A new object's block is allocated from heap and handed to init before any
// other process can see the object; if init fails the object is not created.
// Among processes racing on one name exactly one creates it and the others
// get the finished object. An existing object of another kind or version is
// an ErrMismatch naming both; checking Params is left to the caller, which
// knows what they mean.
//
// A creator that dies inside init leaves an entry that the next directory
// change discards, returning its block to heap.
func (s *Segment) FindOrCreate(name string, spec Spec, heap Heap, init func(Object) error) (obj Object, created bool, err error) {
	defer s.Catch(&err, debug.SetPanicOnFault(true))
	if err := checkObjectName(name); err != nil {
		return Object{}, false, err
	}
	if spec.Size == 0 {
		return Object{}, false, fmt.Errorf("segment: object %q: size is zero", name)
	}
	err = s.withDirLock(func() error {
		idx, found, err := s.find(name, heap)
		if err != nil {
			return err
		}
		if found {
			obj, err = s.entryObject(uint32(idx))
			if err != nil {
				return err
			}
			if obj.Kind != spec.Kind || obj.Version != spec.Version {
				return fmt.Errorf("%w: object %q: want %v v%d, found %v v%d", ErrMismatch, name, spec.Kind, spec.Version, obj.Kind, obj.Version)
			}
			return nil
		}
		if idx < 0 {
			return fmt.Errorf("%w: all %d entries are in use (DirectoryEntries sets the number at creation)", ErrDirectoryFull, len(s.dir))
		}
		obj, err = s.create(idx, name, spec, heap, init)
		created = err == nil
		return err
	})
	return obj, created, err
}

// Lookup returns the object called name, or ErrNotFound. It takes no lock,
// so it works on a ReadOnly segment and never waits for a creator: an object
// still being created is not found yet.
func (s *Segment) Lookup(name string) (_ Object, err error) {
	defer s.Catch(&err, debug.SetPanicOnFault(true))
	if err := checkObjectName(name); err != nil {
		return Object{}, err
	}
	if s.Closed() {
		return Object{}, ErrClosed
	}
	n := uint64(len(s.dir))
	start := nameHash(name) % n
	for i := uint64(0); i < n; i++ {
		j := uint32((start + i) % n)
		e := &s.dir[j]
		for try := 0; ; try++ {
			ctl := e.ctl.Load()
			st := entryState(ctl)
			if st == entryEmpty {
				return Object{}, fmt.Errorf("%w: %q in %s", ErrNotFound, name, s.name)
			}
			if st != entryReady {
				break
			}
			// Copy, then accept the copy only if ctl did not move meanwhile
			// (a seqlock read); entries change rarely, so retries are rare.
			nameLen := e.nameLen
			match := nameLen <= MaxObjectName && string(e.name[:nameLen]) == name
			var obj Object
			var err error
			if match {
				obj, err = s.entryObject(j)
			}
			if e.ctl.Load() != ctl {
				if try < 100 {
					continue
				}
				return Object{}, fmt.Errorf("%w: directory entry %d keeps changing", ErrBusy, j)
			}
			if match {
				return obj, err
			}
			break
		}
	}
	return Object{}, fmt.Errorf("%w: %q in %s", ErrNotFound, name, s.name)
}

// Delete removes the object called name and frees its block into heap. No
// process may use the object afterwards: Delete does not know who still
// holds it. Deleting a missing name is ErrNotFound.
func (s *Segment) Delete(name string, heap Heap) (err error) {
	defer s.Catch(&err, debug.SetPanicOnFault(true))
	if err := checkObjectName(name); err != nil {
		return err
	}
	return s.withDirLock(func() error {
		idx, found, err := s.find(name, heap)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("%w: %q in %s", ErrNotFound, name, s.name)
		}
		e := &s.dir[idx]
		off := e.off
		e.ctl.Store(makeEntryCtl(entryDeleted, entrySeq(e.ctl.Load())+1))
		if err := heap.Free(Offset(off)); err != nil {
			return fmt.Errorf("segment: delete %q: free its block: %w", name, err)
		}
		return nil
	})
}

// Objects returns a snapshot of the objects in the directory. It takes no
// lock: each entry is copied and kept only if it did not change meanwhile,
// so an object created or deleted during the call may or may not appear.
func (s *Segment) Objects() (objs []Object) {
	defer s.Catch(nil, debug.SetPanicOnFault(true))
	for i := range s.dir {
		e := &s.dir[i]
		for try := 0; try < 8; try++ {
			ctl := e.ctl.Load()
			if entryState(ctl) != entryReady {
				break
			}
			obj, err := s.entryObject(uint32(i))
			if e.ctl.Load() == ctl {
				if err == nil {
					objs = append(objs, obj)
				}
				break
			}
		}
	}
	return objs
}

func (s *Segment) withDirLock(fn func() error) error {
	if s.Closed() {
		return ErrClosed
	}
	if s.opts.readOnly {
		return fmt.Errorf("%w: %s cannot change its directory", ErrReadOnly, s.name)
	}
	s.dirMu.Lock()
	defer s.dirMu.Unlock()
	if err := lockWait(s.fd, lockDir, unix.F_WRLCK, s.opts.lockTimeout, "the directory lock"); err != nil {
		return fmt.Errorf("segment %s: %w", s.name, err)
	}
	defer unlock(s.fd, lockDir)
	return fn()
}

func nameHash(name string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return h.Sum64()
}

// find probes for name with the directory lock held. It returns the entry's
// index and found=true, or the first reusable index (-1 if none) and false.
// Entries left in entryCreating can only belong to dead creators, since
// creation happens under the lock; with heap != nil they are discarded.
func (s *Segment) find(name string, heap Heap) (idx int, found bool, err error) {
	n := uint64(len(s.dir))
	start := nameHash(name) % n
	free := -1
	for i := uint64(0); i < n; i++ {
		j := (start + i) % n
		e := &s.dir[j]
		ctl := e.ctl.Load()
		switch entryState(ctl) {
		case entryEmpty:
			if free < 0 {
				free = int(j)
			}
			return free, false, nil
		case entryCreating:
			if heap == nil {
				continue
			}
			if e.off != 0 {
				heap.Free(Offset(e.off)) // an error means it was never fully allocated or is already free
			}
			e.ctl.Store(makeEntryCtl(entryDeleted, entrySeq(ctl)+1))
			fallthrough
		case entryDeleted:
			if free < 0 {
				free = int(j)
			}
		case entryReady:
			if e.nameLen <= MaxObjectName && string(e.name[:e.nameLen]) == name {
				return int(j), true, nil
			}
		default:
			return 0, false, fmt.Errorf("%w: directory entry %d has state %d", ErrCorrupt, j, entryState(ctl))
		}
	}
	return free, false, nil
}

func (s *Segment) create(idx int, name string, spec Spec, heap Heap, init func(Object) error) (Object, error) {
	e := &s.dir[idx]
	seq := entrySeq(e.ctl.Load())
	e.off, e.size = 0, spec.Size
	e.kind, e.version, e.params = uint32(spec.Kind), spec.Version, spec.Params
	e.creatorSlot, e.creatorGen = uint32(s.slot), uint64(s.gen)
	e.name = [MaxObjectName]byte{}
	e.nameLen = uint32(copy(e.name[:], name))
	seq++
	e.ctl.Store(makeEntryCtl(entryCreating, seq))
	discard := func() { seq++; e.ctl.Store(makeEntryCtl(entryDeleted, seq)) }

	// Allocator payloads are 16-aligned; ask for enough to start the
	// object on a cache line, so its hot words line up with the lines
	// its layout plans for.
	off, err := heap.Alloc(spec.Size + objectAlign - 16)
	if err != nil {
		discard()
		return Object{}, fmt.Errorf("segment: create %v %q (%d bytes): %w", spec.Kind, name, spec.Size, err)
	}
	// Publish before recording: if we die in between the block leaks, which
	// is safe; the other order could let two recoveries free it twice.
	if err := heap.Publish(off); err != nil {
		discard()
		return Object{}, err
	}
	e.off = uint64(off)
	obj := Object{Name: name, Kind: spec.Kind, Version: spec.Version, Params: spec.Params, Offset: alignObject(off), Block: off, Size: spec.Size, Index: uint32(idx)}
	if err := init(obj); err != nil {
		discard()
		heap.Free(off)
		return Object{}, err
	}
	seq++
	e.ctl.Store(makeEntryCtl(entryReady, seq))
	return obj, nil
}

// entryObject decodes entry idx, checking what it says against the segment.
func (s *Segment) entryObject(idx uint32) (Object, error) {
	e := &s.dir[idx]
	if e.nameLen == 0 || e.nameLen > MaxObjectName {
		return Object{}, fmt.Errorf("%w: directory entry %d: name length %d", ErrCorrupt, idx, e.nameLen)
	}
	obj := Object{
		Name:    string(e.name[:e.nameLen]),
		Kind:    Kind(e.kind),
		Version: e.version,
		Params:  e.params,
		Offset:  alignObject(Offset(e.off)),
		Block:   Offset(e.off),
		Size:    e.size,
		Index:   idx,
	}
	if !s.inHeap(e.off, e.size) || !s.inHeap(uint64(obj.Offset), e.size) {
		return Object{}, fmt.Errorf("%w: object %q: block [%d, +%d) is outside the heap [%d, %d)", ErrCorrupt, obj.Name, e.off, e.size, s.heapOff, s.size)
	}
	return obj, nil
}

// objectAlign is the alignment of every object's start.
const objectAlign = 64

func alignObject(off Offset) Offset { return (off + objectAlign - 1) &^ (objectAlign - 1) }

// inHeap reports whether [off, off+n) lies within the heap, without overflow.
func (s *Segment) inHeap(off, n uint64) bool {
	return off >= s.heapOff && off <= s.size && n <= s.size-off
}

// ObjectAt returns the object at directory index idx, as named by an intent
// record; repair functions use it.
func (s *Segment) ObjectAt(idx uint32) (_ Object, err error) {
	defer s.Catch(&err, debug.SetPanicOnFault(true))
	if idx >= uint32(len(s.dir)) {
		return Object{}, fmt.Errorf("%w: directory index %d of %d", ErrCorrupt, idx, len(s.dir))
	}
	if st := entryState(s.dir[idx].ctl.Load()); st != entryReady {
		return Object{}, fmt.Errorf("%w: directory entry %d is not a live object (state %d)", ErrNotFound, idx, st)
	}
	return s.entryObject(idx)
}
