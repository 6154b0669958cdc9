//go:build linux

package segment

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Segment is a mapped posixshm segment: a header, a directory of named
// objects, a process registry and a heap, shared by every process that maps
// the same file. Structures (queue, stack, hashmap, bitset, array) live in it.
//
// A Segment is safe for concurrent use by multiple goroutines. It holds one
// process-registry slot from Open until Close, so peers can tell that this
// process is alive. Using a structure after its Segment is closed is a
// memory fault: close the segment last.
//
// If the process dies, the kernel drops its registry lock; the next process
// that opens the segment or calls Recover sees the slot as dead and repairs
// what the process left half done.
type Segment struct {
	name     string // as given by the caller: "/name" or a path
	path     string // file path
	fd       int
	mem      []byte
	size     uint64
	hdr      *header
	dir      []dirEntry
	reg      []regSlot
	heapOff  uint64
	heapSize uint64
	opts     options

	slot      int
	gen       uint32
	attachRep Report // what recovery did while this handle attached
	// intentFree[k] bit i set: intents[k*intentsPerShard+i] of our slot
	// is free. The words sit on cache lines of their own, and goroutines
	// start on the word of their P and move on to the next when one is
	// contended (takeIntent), so that concurrent writers of shared
	// structures do not all CAS one word.
	intentFree [intentShards]paddedUint64

	dirMu  sync.Mutex // serialises directory changes within this process (the OFD lock does across processes)
	sealed bool       // the file is sealed against shrinking (Sealed); set once at attach
	// lost: lostClosed (Close was called: Closed) | lostFaulted (rescue.go);
	// the SIGBUS handler sets lostFaulted through its entry in rescueTab,
	// index rescue (-1: none).
	lost   atomic.Uint32
	rescue int
}

// paddedUint64 is an atomic word alone on its cache line.
type paddedUint64 struct {
	atomic.Uint64
	_ [56]byte
}

// intentShards words of intentsPerShard bits cover the intentsPerSlot
// records.
const (
	intentShards    = 4
	intentsPerShard = (intentsPerSlot + intentShards - 1) / intentShards
)

// Option configures Create, Open and their variants.
type Option func(*options)

type options struct {
	mode        os.FileMode
	dirEntries  int
	regSlots    int
	initTimeout time.Duration
	lockTimeout time.Duration
	readOnly    bool
}

func defaultOptions() options {
	return options{
		mode:        0o600,
		dirEntries:  defaultDirEntries,
		regSlots:    defaultRegSlots,
		initTimeout: 5 * time.Second,
		lockTimeout: 30 * time.Second,
	}
}

// Mode sets the permission bits of a segment created by this call (default
// 0600: only the creating user). The process umask still applies.
func Mode(m os.FileMode) Option { return func(o *options) { o.mode = m.Perm() } }

// DirectoryEntries sets how many named objects a new segment can hold
// (default 256, at most 65536).
func DirectoryEntries(n int) Option { return func(o *options) { o.dirEntries = n } }

// ProcessSlots sets how many handles can be attached to a new segment at once
// (default 64, at most 4096). Each Open takes one slot until Close.
func ProcessSlots(n int) Option { return func(o *options) { o.regSlots = n } }

// InitTimeout sets how long Open waits for a segment whose creator is still
// initialising it (default 5s).
func InitTimeout(d time.Duration) Option { return func(o *options) { o.initTimeout = d } }

// LockTimeout sets how long a directory change waits for another live process
// that is changing the directory (default 30s). Dead holders never count.
func LockTimeout(d time.Duration) Option { return func(o *options) { o.lockTimeout = d } }

// ReadOnly opens a segment for inspection: mapped read-only, without a
// process-registry slot, and without running recovery. Tools use it to look
// at a segment without changing anything another process relies on.
// Operations that write return ErrReadOnly; structures opened on it offer
// their reading methods only.
func ReadOnly() Option { return func(o *options) { o.readOnly = true } }

func buildOptions(opts []Option) options {
	o := defaultOptions()
	for _, f := range opts {
		f(&o)
	}
	return o
}

// Create creates a named segment of size bytes and maps it. It fails with
// ErrExist if the name is taken. The name is a POSIX shared memory name: a
// slash followed by up to 255 bytes without another slash, such as
// "/my_shared_mem"; the file lives in /dev/shm.
//
// Create reserves the segment's pages up front (fallocate), so a full
// /dev/shm is an ErrNoSpace error here rather than a SIGBUS later.
func Create(name string, size int64, opts ...Option) (*Segment, error) {
	if err := checkSegmentName(name); err != nil {
		return nil, err
	}
	return create(name, shmDir+name, size, buildOptions(opts), false)
}

// Open maps an existing named segment, taking its size from the file. It
// fails with ErrNotExist if there is none, and with ErrForeign, ErrVersion or
// ErrCorrupt if the file is not a segment this library can read.
func Open(name string, opts ...Option) (*Segment, error) {
	if err := checkSegmentName(name); err != nil {
		return nil, err
	}
	return open(name, shmDir+name, buildOptions(opts))
}

// OpenOrCreate opens the named segment, creating it with size bytes if it
// does not exist; this is the Python library's SharedMemory(name, size).
// When the segment exists its own size is used and size is ignored. If many
// processes call it at once, one creates and the others attach once the
// segment is fully initialised; if a creator died halfway, a caller takes
// over and initialises it.
//
// Errors, each a sentinel for errors.Is: ErrInvalidName for a name that is
// not "/" plus up to 255 bytes without a slash or NUL; ErrInvalidSize for a
// size out of range; ErrNoSpace when /dev/shm cannot back the pages (a
// container's --shm-size); ErrForeign for a file that is not a posixshm
// segment; ErrVersion for another layout version or word size; ErrCorrupt
// for a header whose checksum or geometry is wrong; ErrNotReady when a
// creator is still initialising past InitTimeout; ErrRegistryFull when
// every process slot is taken.
func OpenOrCreate(name string, size int64, opts ...Option) (*Segment, error) {
	if err := checkSegmentName(name); err != nil {
		return nil, err
	}
	return create(name, shmDir+name, size, buildOptions(opts), true)
}

// CreateFile is Create for a segment backed by a regular file at path, on any
// file system. A segment on disk outlives reboots, as an LMDB or Chronicle Map
// file does.
func CreateFile(path string, size int64, opts ...Option) (*Segment, error) {
	return create(path, path, size, buildOptions(opts), false)
}

// OpenFile is Open for a file-backed segment.
func OpenFile(path string, opts ...Option) (*Segment, error) {
	return open(path, path, buildOptions(opts))
}

// OpenOrCreateFile is OpenOrCreate for a file-backed segment.
func OpenOrCreateFile(path string, size int64, opts ...Option) (*Segment, error) {
	return create(path, path, size, buildOptions(opts), true)
}

// Remove unlinks the named segment. Processes that have it mapped keep using
// it; the memory is freed when the last one closes it. Removing a name that
// does not exist is not an error, so Remove is safe to call twice.
func Remove(name string) error {
	if err := checkSegmentName(name); err != nil {
		return err
	}
	return RemoveFile(shmDir + name)
}

// RemoveFile unlinks a file-backed segment; a missing file is not an error.
func RemoveFile(path string) error {
	err := unix.Unlink(path)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("segment: remove %s: %w", path, err)
	}
	return nil
}

func create(name, path string, size int64, o options, orOpen bool) (*Segment, error) {
	if o.readOnly {
		return nil, fmt.Errorf("%w: cannot create %s", ErrReadOnly, name)
	}
	if _, err := planLayout(size, o); err != nil {
		return nil, fmt.Errorf("segment %s: %w", name, err)
	}
	flags := unix.O_RDWR | unix.O_CREAT | unix.O_EXCL | unix.O_NOFOLLOW | unix.O_CLOEXEC
	fd, err := unix.Open(path, flags, uint32(o.mode))
	switch {
	case errors.Is(err, unix.EEXIST):
		if !orOpen {
			return nil, fmt.Errorf("%w: %s", ErrExist, name)
		}
		return attachPath(name, path, size, o)
	case err != nil:
		return nil, fmt.Errorf("segment: create %s: %w", name, err)
	}
	// The umask may have narrowed the mode; a mode the caller widened on
	// purpose is applied exactly.
	if err := unix.Fchmod(fd, uint32(o.mode)); err != nil {
		unix.Close(fd)
		unix.Unlink(path)
		return nil, fmt.Errorf("segment: chmod %s: %w", name, err)
	}
	s, err := attach(name, path, fd, size, o)
	if err != nil {
		// The file is ours and unusable; leave no half-made name behind.
		unix.Unlink(path)
		return nil, err
	}
	return s, nil
}

func open(name, path string, o options) (*Segment, error) {
	return attachPath(name, path, 0, o)
}

func attachPath(name, path string, size int64, o options) (*Segment, error) {
	mode := unix.O_RDWR
	if o.readOnly {
		if size > 0 {
			return nil, fmt.Errorf("%w: cannot create %s", ErrReadOnly, name)
		}
		mode = unix.O_RDONLY
	}
	fd, err := unix.Open(path, mode|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	switch {
	case errors.Is(err, unix.ENOENT):
		if size > 0 {
			// Removed between our O_EXCL attempt and now: try again.
			return create(name, path, size, o, true)
		}
		return nil, fmt.Errorf("%w: %s", ErrNotExist, name)
	case errors.Is(err, unix.ELOOP):
		return nil, fmt.Errorf("%w: %s is a symbolic link", ErrForeign, name)
	case err != nil:
		return nil, fmt.Errorf("segment: open %s: %w", name, err)
	}
	return attach(name, path, fd, size, o)
}

// attach waits until the file holds an initialised segment (initialising it
// itself when size > 0 and nobody else is), then maps it and takes a registry
// slot. It owns fd from here on.
func attach(name, path string, fd int, size int64, o options) (_ *Segment, err error) {
	defer func() {
		if err != nil {
			unix.Close(fd)
		}
	}()
	deadline := time.Now().Add(o.initTimeout)
	var unlockedSince time.Time
	backoff := 50 * time.Microsecond
	for {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return nil, fmt.Errorf("segment: stat %s: %w", name, err)
		}
		if st.Mode&unix.S_IFMT != unix.S_IFREG {
			return nil, fmt.Errorf("%w: %s is not a regular file", ErrForeign, name)
		}
		buf, ready, err := readHeader(fd, st.Size)
		if err != nil {
			return nil, fmt.Errorf("segment %s: %w", name, err)
		}
		if ready {
			return mapSegment(name, path, fd, buf, st.Size, o)
		}
		// Not initialised: its creator is at work, died, or has not taken
		// the init lock yet. Whoever gets the lock and still finds it
		// uninitialised initialises it, when it knows a size.
		typ := int16(unix.F_RDLCK)
		if size > 0 {
			typ = unix.F_WRLCK
		}
		if testHookBeforeInitLock != nil {
			testHookBeforeInitLock()
		}
		got, err := tryLock(fd, lockInit, typ)
		if err != nil {
			return nil, err
		}
		if got {
			// Look again now that we hold the lock: the creator may have
			// finished (and released it) since we read the header, and
			// initialising then would truncate a live segment.
			if err := fstatReady(fd); err != errNotReadyYet {
				unlock(fd, lockInit)
				if err != nil {
					return nil, fmt.Errorf("segment %s: %w", name, err)
				}
				continue
			}
			if size > 0 {
				err = initialise(fd, size, o)
				unlock(fd, lockInit)
				if err != nil {
					return nil, fmt.Errorf("segment %s: %w", name, err)
				}
				continue
			}
			unlock(fd, lockInit)
			// Nobody is initialising it. A creator between its O_EXCL open
			// and its lock looks the same for a moment; a dead one forever.
			if unlockedSince.IsZero() {
				unlockedSince = time.Now()
			} else if time.Since(unlockedSince) > 200*time.Millisecond {
				return nil, fmt.Errorf("%w: %s: the file is %d bytes of zeros: its creator died before finishing (or someone truncated it); OpenOrCreate with a size takes it over, or Remove it", ErrNotReady, name, st.Size)
			}
		} else {
			unlockedSince = time.Time{}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: %s: still being initialised after %v", ErrNotReady, name, o.initTimeout)
		}
		time.Sleep(backoff)
		if backoff < 10*time.Millisecond {
			backoff *= 2
		}
	}
}

// testHookBeforeInitLock, set only by tests, runs when attach has found the
// file uninitialised and is about to try the init lock.
var testHookBeforeInitLock func()

// errNotReadyYet says fstatReady found no finished header.
var errNotReadyYet = errors.New("not ready")

// fstatReady re-reads the file's header: nil if it is initialised,
// errNotReadyYet if not (yet), or the error that makes it unusable.
func fstatReady(fd int) error {
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	_, ready, err := readHeader(fd, st.Size)
	switch {
	case err != nil:
		return err
	case ready:
		return nil
	}
	return errNotReadyYet
}

// readHeader reads the header with pread, without mapping anything, so a
// short or foreign file cannot fault. ready reports whether the creator has
// finished. A file that is empty or all zeros so far is one being
// initialised (or abandoned by its creator); anything else without the magic
// is foreign and is never overwritten.
func readHeader(fd int, fileSize int64) ([]byte, bool, error) {
	n := min(fileSize, headerSize)
	buf := make([]byte, headerSize)
	got, err := unix.Pread(fd, buf[:n], 0)
	if err != nil {
		return nil, false, fmt.Errorf("read header: %w", err)
	}
	if allZero(buf[:got]) {
		return nil, false, nil
	}
	if got < 8 || native.Uint64(buf[0:]) != Magic {
		return nil, false, fmt.Errorf("%w: no %q magic at the start of the file", ErrForeign, "PSHMSEG1")
	}
	if got < headerSize {
		return nil, false, fmt.Errorf("%w: file is %d bytes, shorter than the %d-byte header (was it truncated?)", ErrCorrupt, fileSize, headerSize)
	}
	return buf, native.Uint32(buf[128:]) == stateReady, nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// layout is where each region of a segment starts.
type layout struct {
	total, dirOff, regOff, heapOff uint64
	dirEntries, regSlots           uint32
}

// MaxSize is the largest segment size: the allocator addresses 16-byte blocks
// with 32-bit indexes.
const MaxSize = 64 << 30

func planLayout(size int64, o options) (layout, error) {
	if o.dirEntries < 1 || o.dirEntries > maxDirEntries {
		return layout{}, fmt.Errorf("%w: %d directory entries, want 1 to %d", ErrInvalidSize, o.dirEntries, maxDirEntries)
	}
	if o.regSlots < 1 || o.regSlots > maxRegSlots {
		return layout{}, fmt.Errorf("%w: %d process slots, want 1 to %d", ErrInvalidSize, o.regSlots, maxRegSlots)
	}
	l := layout{dirEntries: uint32(o.dirEntries), regSlots: uint32(o.regSlots)}
	l.dirOff = headerSize
	l.regOff = roundUp(l.dirOff+uint64(o.dirEntries)*dirEntrySize, 4096)
	l.heapOff = roundUp(l.regOff+uint64(o.regSlots)*regSlotSize, 4096)
	min := l.heapOff + minHeap
	if size < int64(min) || size > MaxSize {
		return layout{}, fmt.Errorf("%w: %d bytes; with %d objects and %d process slots a segment needs at least %d (64 KiB of heap), and at most %d", ErrInvalidSize, size, o.dirEntries, o.regSlots, min, int64(MaxSize))
	}
	l.total = uint64(size)
	return l, nil
}

func roundUp(n, to uint64) uint64 { return (n + to - 1) / to * to }

// initialise lays out a fresh segment in fd. The caller holds the init lock
// and has seen the header uninitialised, so no process has it mapped.
func initialise(fd int, size int64, o options) error {
	l, err := planLayout(size, o)
	if err != nil {
		return err
	}
	// Start from zero bytes: an abandoned attempt may have left some.
	if err := unix.Ftruncate(fd, 0); err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	if err := reserve(fd, size); err != nil {
		return err
	}
	mem, err := unix.Mmap(fd, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return fmt.Errorf("mmap: %w", err)
	}
	defer unix.Munmap(mem)
	h := headerAt(mem)
	h.magic = Magic
	h.version = LayoutVersion
	h.byteOrder = byteOrderMark
	h.wordSize = 8
	h.headerSize = headerSize
	h.totalSize = l.total
	h.createdNanos = time.Now().UnixNano()
	h.dirOff = l.dirOff
	h.dirEntries = l.dirEntries
	h.dirEntrySize = dirEntrySize
	h.regOff = l.regOff
	h.regSlots = l.regSlots
	h.regSlotSize = regSlotSize
	h.heapOff = l.heapOff
	h.heapSize = l.total - l.heapOff
	h.checksum = checksumOf(mem)
	h.state.Store(stateReady) // publishes everything above
	return nil
}

// reserve gives the file size bytes backed by real pages. On tmpfs ftruncate
// alone reserves nothing, and touching a page the file system cannot supply
// later is a SIGBUS; fallocate makes that an error now.
func reserve(fd int, size int64) error {
	err := unix.Fallocate(fd, 0, 0, size)
	for err == unix.EINTR {
		err = unix.Fallocate(fd, 0, 0, size)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EOPNOTSUPP):
		if err := unix.Ftruncate(fd, size); err != nil {
			return fmt.Errorf("truncate: %w", err)
		}
		return nil
	case errors.Is(err, unix.ENOSPC):
		unix.Ftruncate(fd, 0)
		var fs unix.Statfs_t
		free := "unknown"
		if unix.Fstatfs(fd, &fs) == nil {
			free = fmt.Sprintf("%d", uint64(fs.Bavail)*uint64(fs.Bsize))
		}
		return fmt.Errorf("%w: asked for %d bytes, %s bytes free on the file system; in a container /dev/shm is often small (Docker's default is 64 MB: raise it with --shm-size)", ErrNoSpace, size, free)
	default:
		return fmt.Errorf("reserve %d bytes: %w", size, err)
	}
}

// validateHeader checks a header read from a file of fileSize bytes and
// returns its layout. Every field is untrusted.
func validateHeader(buf []byte, fileSize int64) (layout, error) {
	if v := native.Uint32(buf[8:]); v != LayoutVersion {
		return layout{}, fmt.Errorf("%w: segment layout v%d, this library reads v%d", ErrVersion, v, LayoutVersion)
	}
	if bo := native.Uint32(buf[12:]); bo != byteOrderMark {
		return layout{}, fmt.Errorf("%w: byte order mark %#x, want %#x (made on a machine of the other byte order)", ErrVersion, bo, byteOrderMark)
	}
	if ws := native.Uint32(buf[16:]); ws != 8 {
		return layout{}, fmt.Errorf("%w: word size %d, want 8", ErrVersion, ws)
	}
	if sum := checksumOf(buf); sum != native.Uint64(buf[96:]) {
		return layout{}, fmt.Errorf("%w: header checksum %#x, want %#x", ErrCorrupt, native.Uint64(buf[96:]), sum)
	}
	l := layout{
		total:      native.Uint64(buf[24:]),
		dirOff:     native.Uint64(buf[48:]),
		dirEntries: native.Uint32(buf[56:]),
		regOff:     native.Uint64(buf[64:]),
		regSlots:   native.Uint32(buf[72:]),
		heapOff:    native.Uint64(buf[80:]),
	}
	switch {
	case native.Uint32(buf[20:]) != headerSize, native.Uint32(buf[60:]) != dirEntrySize, native.Uint32(buf[76:]) != regSlotSize:
		return layout{}, fmt.Errorf("%w: header, directory entry or slot size differs from v%d's", ErrVersion, LayoutVersion)
	case l.total > MaxSize:
		return layout{}, fmt.Errorf("%w: header says %d bytes, more than the %d maximum", ErrCorrupt, l.total, int64(MaxSize))
	case int64(l.total) > fileSize:
		return layout{}, fmt.Errorf("%w: file is %d bytes but the header says %d (was it truncated?)", ErrCorrupt, fileSize, l.total)
	case l.dirEntries == 0 || l.dirEntries > maxDirEntries || l.regSlots == 0 || l.regSlots > maxRegSlots:
		return layout{}, fmt.Errorf("%w: %d directory entries, %d slots", ErrCorrupt, l.dirEntries, l.regSlots)
	case l.dirOff < headerSize || l.dirOff%64 != 0 || l.dirOff+uint64(l.dirEntries)*dirEntrySize > l.regOff,
		l.regOff%64 != 0 || l.regOff+uint64(l.regSlots)*regSlotSize > l.heapOff,
		l.heapOff%4096 != 0 || l.heapOff+minHeap > l.total,
		native.Uint64(buf[88:]) != l.total-l.heapOff:
		return layout{}, fmt.Errorf("%w: regions overlap or exceed the segment (dir %d, registry %d, heap %d, total %d)", ErrCorrupt, l.dirOff, l.regOff, l.heapOff, l.total)
	}
	return l, nil
}

func mapSegment(name, path string, fd int, buf []byte, fileSize int64, o options) (*Segment, error) {
	l, err := validateHeader(buf, fileSize)
	if err != nil {
		return nil, fmt.Errorf("segment %s: %w", name, err)
	}
	prot := unix.PROT_READ | unix.PROT_WRITE
	if o.readOnly {
		prot = unix.PROT_READ
	}
	mem, err := unix.Mmap(fd, 0, int(l.total), prot, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("segment %s: mmap %d bytes: %w", name, l.total, err)
	}
	s := &Segment{
		name:     name,
		path:     path,
		fd:       fd,
		mem:      mem,
		size:     l.total,
		hdr:      headerAt(mem),
		dir:      sliceAt[dirEntry](mem, l.dirOff, int(l.dirEntries)),
		reg:      sliceAt[regSlot](mem, l.regOff, int(l.regSlots)),
		heapOff:  l.heapOff,
		heapSize: l.total - l.heapOff,
		opts:     o,
		slot:     -1,
		rescue:   -1,
	}
	s.sealed = shrinkSealed(fd)
	if o.readOnly {
		return s, nil
	}
	if err := s.claimSlot(); err != nil {
		unix.Munmap(mem)
		return nil, fmt.Errorf("segment %s: %w", name, err)
	}
	// Repair what dead processes left, so a newcomer never starts on
	// half-done state. With nobody dead this costs a lock probe per
	// attached process.
	if rep, err := s.Recover(); err == nil {
		s.attachRep.DeadProcesses += rep.DeadProcesses
		s.attachRep.Intents += rep.Intents
		s.attachRep.Reclaimed += rep.Reclaimed
		s.attachRep.Unhandled += rep.Unhandled
		s.attachRep.Errors = append(s.attachRep.Errors, rep.Errors...)
	}
	return s, nil
}

// Close releases the registry slot and unmaps the segment (or, where reads
// may be unguarded, leaves zero pages in its place: UnguardedReads). It does not
// remove the segment; see Remove. Structures opened on s must not be used
// afterwards. Close is idempotent.
func (s *Segment) Close() error {
	if s.lost.Or(lostClosed)&lostClosed != 0 {
		return nil // closed already
	}
	if s.slot >= 0 {
		s.releaseSlot()
		unlock(s.fd, lockSlotBase+int64(s.slot))
	}
	// s.mem keeps its (now dangling) value: other goroutines may still read
	// the field, and every accessor checks Closed first.
	err := s.unmap()
	if cerr := unix.Close(s.fd); err == nil {
		err = cerr
	}
	return err
}

// releaseSlot marks this handle's slot free. On a truncated file the store
// faults; the slot's lock is released anyway, which is what peers check.
func (s *Segment) releaseSlot() {
	defer s.Catch(nil, debug.SetPanicOnFault(true))
	s.reg[s.slot].ctl.Store(uint64(s.gen)<<32 | slotFree)
}

// Remove unlinks s's file; see the function Remove. s stays usable. For an
// anonymous or inherited segment there is nothing to unlink.
func (s *Segment) Remove() error {
	if s.path == "" {
		return nil
	}
	return RemoveFile(s.path)
}

// Writable reports whether s was opened for writing (not ReadOnly).
func (s *Segment) Writable() bool { return !s.opts.readOnly }

// Name returns the name or path the segment was opened with.
func (s *Segment) Name() string { return s.name }

// Path returns the file backing the segment.
func (s *Segment) Path() string { return s.path }

// Size returns the mapped size in bytes.
func (s *Segment) Size() int64 { return int64(s.size) }

// Created returns when the segment was created.
func (s *Segment) Created() (t time.Time) {
	defer s.Catch(nil, debug.SetPanicOnFault(true))
	return time.Unix(0, s.hdr.createdNanos)
}

// Heap returns the offset and length of the heap, the region the alloc
// module manages. Both are fixed at creation and validated on open.
func (s *Segment) Heap() (Offset, uint64) { return Offset(s.heapOff), s.heapSize }
