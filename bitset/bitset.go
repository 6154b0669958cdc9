package bitset

import (
	"errors"
	"fmt"
	"iter"
	"math/bits"
	"runtime/debug"
	"sync/atomic"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/segment"
)

// Bitset is a fixed-size set of bits in shared memory that any number of
// goroutines and processes may use concurrently.
//
// Create or attach one with New, attach only with Open. A *Bitset is a
// handle into the segment: it must not outlive the Segment's Close, which
// unmaps the bits. Copying the handle (the pointer) is fine.
//
// Set, Clear, Flip, Test, TestAndSet and TestAndClear are each one atomic
// operation on one 64-bit word, sequentially consistent like sync/atomic: of
// any processes racing TestAndSet on one bit, exactly one sees false. A
// process killed mid-call has either done the operation or not; there is
// nothing half done to repair, so the bitset needs no intent records. But a
// bit set by TestAndSet has no owner: if the process that claimed it dies,
// nobody can tell that the bit is free again.
//
// A bitset created with the Owned option also records an owner for each
// bit claimed with ClaimOwned or ClaimAnyOwned: the claiming attachment's
// registry slot and generation. ReleaseOwned gives the bit back, and when
// the owner's process dies, segment recovery (Segment.Recover, which Open
// also runs) releases every bit it held, at whatever instruction it was
// killed. Of processes racing ClaimOwned on one free bit exactly one wins,
// and a ClaimOwned that returns true synchronizes after the ReleaseOwned
// (or recovery) that freed the bit.
//
// The operations over the whole set (Count, Any, All, None, NextSet,
// NextClear, Ones, SetAll, ClearAll, And, Or, Xor, AndNot) visit the words
// one at a time, each word atomically: they are not a snapshot and not one
// atomic step. A process killed during one of them leaves a prefix of the
// words done, each word whole.
//
// No method blocks. An index outside [0, Len()) is a caller mistake and
// panics, as indexing a Go slice does.
type Bitset struct {
	words []atomic.Uint64 // resolved once at attach; len(words) = (n+63)/64
	bound []struct{}      // len(bound) = n; indexing it is the index check (see the comment before Set)
	n     uint64          // number of bits, copied from the header at attach
	tail  uint64          // mask of the valid bits of the last word
	name  string
	seg   *segment.Segment // for the fault guard of And, Or, AndNot, Xor

	// Owners (nil, nil, 0 in a plain bitset; see owned.go).
	owners []atomic.Uint64 // len(owners) = n: bit i's owner word
	ctrs   *counters       // the block's counters line
	me     uint64          // stamp of this handle's attachment; 0 if it cannot own (read-only)
}

// New returns the bitset called name in seg, creating it with size bits, all
// clear, if there is none. Among processes racing New on one name, one
// creates it and the others attach to it once it is complete.
//
// Size 0 attaches to an existing bitset of any size, like Open. A bitset
// that exists with another size, or with owners when Owned was not given
// (or the other way round), is an ErrMismatch naming both sides; a size
// below 0 or above MaxLen is an ErrInvalidSize. The bits live in seg's heap,
// managed by the alloc module.
func New(seg *segment.Segment, name string, size int, opts ...Option) (*Bitset, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if size < 0 || size > MaxLen {
		return nil, fmt.Errorf("%w: bitset %q: size %d is outside [1, %d]", ErrInvalidSize, name, size, MaxLen)
	}
	if size == 0 {
		b, err := Open(seg, name)
		if err != nil {
			return nil, fmt.Errorf("bitset: New(%q, 0) attaches only: %w", name, err)
		}
		if o.owned && b.owners == nil {
			return nil, fmt.Errorf("%w: bitset %q: want one with owners, found %d bits %s", ErrMismatch, name, b.n, describeVersion(LayoutVersion))
		}
		return b, nil
	}
	heap, err := alloc.Of(seg)
	if err != nil {
		return nil, fmt.Errorf("bitset %q: %w", name, err)
	}
	n := uint64(size)
	spec := segment.Spec{
		Kind:    segment.KindBitset,
		Version: LayoutVersion,
		Params:  [4]uint64{n},
		Size:    blockSize(n),
	}
	if o.owned {
		spec.Version, spec.Size = OwnedLayoutVersion, ownedBlockSize(n)
	}
	obj, created, err := seg.FindOrCreate(name, spec, heap, func(obj segment.Object) error {
		return initBlock(seg, obj, n, spec.Version)
	})
	if errors.Is(err, ErrMismatch) {
		// Name both sides in terms of owners, not only of layout versions.
		if found, lerr := seg.Lookup(name); lerr == nil && found.Kind == segment.KindBitset && knownVersion(found.Version) {
			return nil, fmt.Errorf("%w: bitset %q: want %d bits %s, found %d bits %s", ErrMismatch, name, n, describeVersion(spec.Version), found.Params[0], describeVersion(found.Version))
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bitset %q: %w", name, err)
	}
	if !created && obj.Params[0] != n {
		return nil, fmt.Errorf("%w: bitset %q: want %d bits, found %d bits", ErrMismatch, name, n, obj.Params[0])
	}
	return attach(seg, obj)
}

func knownVersion(v uint32) bool { return v == LayoutVersion || v == OwnedLayoutVersion }

// describeVersion says what a known layout version holds, for errors.
func describeVersion(v uint32) string {
	if v == OwnedLayoutVersion {
		return fmt.Sprintf("with owners (layout v%d)", v)
	}
	return fmt.Sprintf("without owners (layout v%d)", v)
}

// Open attaches to the existing bitset called name in seg, with owners or
// without. It is ErrNotFound if there is none and ErrMismatch if the object
// is not a bitset of a layout version this package reads.
func Open(seg *segment.Segment, name string) (*Bitset, error) {
	obj, err := seg.Lookup(name)
	if err != nil {
		return nil, err
	}
	return attach(seg, obj)
}

// initBlock writes a new bitset's header and clears its words (and, with
// owners, its counters and owner words). It runs inside FindOrCreate,
// before any other process can see the object; the heap does not zero
// blocks.
func initBlock(seg *segment.Segment, obj segment.Object, n uint64, version uint32) error {
	h, err := segment.At[header](seg, obj.Offset)
	if err != nil {
		return err
	}
	bitsAt, end := uint64(headerSize), blockSize(n)
	if version == OwnedLayoutVersion {
		bitsAt, end = ownedBitsOff, ownedBlockSize(n)
	}
	words, err := segment.Slice[uint64](seg, obj.Offset+segment.Offset(bitsAt), int(end-bitsAt)/8)
	if err != nil {
		return err
	}
	clear(words) // the bits; with owners also the padding and the owner words
	if version == OwnedLayoutVersion {
		c, err := segment.At[counters](seg, obj.Offset+headerSize)
		if err != nil {
			return err
		}
		*c = counters{}
	}
	*h = header{magic: Magic, version: version, length: n, nwords: wordsFor(n)}
	return nil
}

// attach checks obj's header, which is untrusted, and resolves its words.
// Each header field is read once and only the checked copy is used.
func attach(seg *segment.Segment, obj segment.Object) (_ *Bitset, err error) {
	defer seg.Catch(&err, debug.SetPanicOnFault(true)) // reads the header
	if obj.Kind != segment.KindBitset || !knownVersion(obj.Version) {
		return nil, fmt.Errorf("%w: object %q: want %v v%d or v%d, found %v v%d", ErrMismatch, obj.Name, segment.KindBitset, LayoutVersion, OwnedLayoutVersion, obj.Kind, obj.Version)
	}
	owned := obj.Version == OwnedLayoutVersion
	if obj.Size < headerSize {
		return nil, fmt.Errorf("%w: bitset %q: block of %d bytes is smaller than its %d-byte header", ErrCorrupt, obj.Name, obj.Size, headerSize)
	}
	h, err := segment.At[header](seg, obj.Offset)
	if err != nil {
		return nil, fmt.Errorf("bitset %q: %w", obj.Name, err)
	}
	magic, version, n, nwords := h.magic, h.version, h.length, h.nwords
	switch {
	case magic != Magic:
		return nil, fmt.Errorf("%w: bitset %q: magic %#x, want %#x", ErrCorrupt, obj.Name, magic, Magic)
	case version != obj.Version:
		return nil, fmt.Errorf("%w: bitset %q: header says layout v%d, directory says v%d", ErrCorrupt, obj.Name, version, obj.Version)
	case n != obj.Params[0]:
		return nil, fmt.Errorf("%w: bitset %q: header says %d bits, directory says %d", ErrCorrupt, obj.Name, n, obj.Params[0])
	case n == 0 || n > MaxLen:
		return nil, fmt.Errorf("%w: bitset %q: length %d is outside [1, %d]", ErrCorrupt, obj.Name, n, MaxLen)
	case nwords != wordsFor(n):
		return nil, fmt.Errorf("%w: bitset %q: %d words for %d bits, want %d", ErrCorrupt, obj.Name, nwords, n, wordsFor(n))
	case !owned && nwords > (obj.Size-headerSize)/8,
		owned && obj.Size < ownedBlockSize(n):
		return nil, fmt.Errorf("%w: bitset %q: %d bits %s do not fit its %d-byte block", ErrCorrupt, obj.Name, n, describeVersion(version), obj.Size)
	}
	b := &Bitset{bound: make([]struct{}, n), n: n, tail: ^uint64(0), name: obj.Name, seg: seg}
	if r := n % wordBits; r != 0 {
		b.tail = 1<<r - 1
	}
	bitsAt := segment.Offset(headerSize)
	if owned {
		bitsAt = ownedBitsOff
		if b.ctrs, err = segment.At[counters](seg, obj.Offset+headerSize); err != nil {
			return nil, fmt.Errorf("bitset %q: %w", obj.Name, err)
		}
		if b.owners, err = segment.Slice[atomic.Uint64](seg, obj.Offset+segment.Offset(ownersOff(n)), int(n)); err != nil {
			return nil, fmt.Errorf("bitset %q: %w", obj.Name, err)
		}
		if slot, gen := seg.Slot(); slot >= 0 && seg.Writable() {
			b.me = stamp(slot, gen)
		}
	}
	if b.words, err = segment.Slice[atomic.Uint64](seg, obj.Offset+bitsAt, int(nwords)); err != nil {
		return nil, fmt.Errorf("bitset %q: %w", obj.Name, err)
	}
	return b, nil
}

// Name returns the bitset's name in its segment.
func (b *Bitset) Name() string { return b.name }

// Len returns the number of bits, fixed at creation.
func (b *Bitset) Len() int { return int(b.n) }

// The index check of the single-bit operations is b.bound[i]: a slice of
// empty structs of length Len() takes no memory, and indexing it panics with
// the runtime's own "index out of range [i] with length n", as a Go slice
// does, for the cost of one compare, and keeps those methods small enough
// to inline.

// Set sets bit i. It is one atomic OR on one word.
func (b *Bitset) Set(i int) {
	_ = b.bound[i]
	b.words[uint64(i)/wordBits].Or(1 << (uint64(i) % wordBits))
}

// Clear clears bit i. It is one atomic AND on one word.
func (b *Bitset) Clear(i int) {
	_ = b.bound[i]
	b.words[uint64(i)/wordBits].And(^(1 << (uint64(i) % wordBits)))
}

// Flip inverts bit i and reports its new value. It is a compare-and-swap
// loop on one word, so it is atomic, but retries while other bits of the
// same word change under it.
func (b *Bitset) Flip(i int) bool {
	_ = b.bound[i]
	w, mask := &b.words[uint64(i)/wordBits], uint64(1)<<(uint64(i)%wordBits)
	for {
		old := w.Load()
		if w.CompareAndSwap(old, old^mask) {
			return old&mask == 0
		}
	}
}

// Test reports whether bit i is set. It is one atomic load.
func (b *Bitset) Test(i int) bool {
	_ = b.bound[i]
	return b.words[uint64(i)/wordBits].Load()&(1<<(uint64(i)%wordBits)) != 0
}

// TestAndSet sets bit i and reports whether it was already set. Of processes
// racing TestAndSet on one clear bit, exactly one gets false: the one that
// set it. Use it to claim bit i.
func (b *Bitset) TestAndSet(i int) bool {
	_ = b.bound[i]
	mask := uint64(1) << (uint64(i) % wordBits)
	return b.words[uint64(i)/wordBits].Or(mask)&mask != 0
}

// TestAndClear clears bit i and reports whether it was set. Of processes
// racing TestAndClear on one set bit, exactly one gets true.
func (b *Bitset) TestAndClear(i int) bool {
	_ = b.bound[i]
	mask := uint64(1) << (uint64(i) % wordBits)
	return b.words[uint64(i)/wordBits].And(^mask)&mask != 0
}

// word returns word w with its unused bits masked off.
func (b *Bitset) word(w int) uint64 {
	v := b.words[w].Load()
	if w == len(b.words)-1 {
		v &= b.tail
	}
	return v
}

// SetAll sets every bit, one word at a time.
func (b *Bitset) SetAll() {
	last := len(b.words) - 1
	for w := range b.words[:last] {
		b.words[w].Store(^uint64(0))
	}
	b.words[last].Or(b.tail)
}

// ClearAll clears every bit, one word at a time.
func (b *Bitset) ClearAll() {
	for w := range b.words {
		b.words[w].Store(0)
	}
}

// Count returns the number of set bits. It reads the words one at a time, so
// under concurrent writes it is not a snapshot.
func (b *Bitset) Count() int {
	ws := b.words // a local: the atomic loads would make the compiler reload a field
	last := len(ws) - 1
	n := bits.OnesCount64(ws[last].Load() & b.tail)
	for i := range ws[:last] {
		n += bits.OnesCount64(ws[i].Load())
	}
	return n
}

// Any reports whether any bit is set.
func (b *Bitset) Any() bool {
	for w := range b.words {
		if b.word(w) != 0 {
			return true
		}
	}
	return false
}

// None reports whether no bit is set.
func (b *Bitset) None() bool { return !b.Any() }

// All reports whether every bit is set.
func (b *Bitset) All() bool {
	last := len(b.words) - 1
	for w := range b.words[:last] {
		if b.words[w].Load() != ^uint64(0) {
			return false
		}
	}
	return b.words[last].Load()&b.tail == b.tail
}

// NextSet returns the index of the first set bit at or after i, and true; or
// false if there is none. i at or past Len() gives false; a negative i panics.
func (b *Bitset) NextSet(i int) (int, bool) {
	return b.next(i, 0)
}

// NextClear returns the index of the first clear bit at or after i, and
// true; or false if there is none. i at or past Len() gives false; a
// negative i panics.
func (b *Bitset) NextClear(i int) (int, bool) {
	return b.next(i, ^uint64(0))
}

// next finds the first bit at or after i whose value differs from flip's.
func (b *Bitset) next(i int, flip uint64) (int, bool) {
	if i < 0 {
		_ = b.bound[i]
	}
	if uint64(i) >= b.n {
		return 0, false
	}
	w := i / wordBits
	v := (b.words[w].Load() ^ flip) &^ (1<<(uint(i)%wordBits) - 1)
	for {
		if w == len(b.words)-1 {
			v &= b.tail
		}
		if v != 0 {
			return w*wordBits + bits.TrailingZeros64(v), true
		}
		w++
		if w >= len(b.words) {
			return 0, false
		}
		v = b.words[w].Load() ^ flip
	}
}

// Ones returns an iterator over the indexes of the set bits, in increasing
// order. It reads each word once, when it gets there: not a snapshot, so a
// bit changed during the iteration may or may not be seen. The iterator may
// be used more than once.
func (b *Bitset) Ones() iter.Seq[int] {
	return func(yield func(int) bool) {
		for w := range b.words {
			v := b.word(w)
			for v != 0 {
				if !yield(w*wordBits + bits.TrailingZeros64(v)) {
					return
				}
				v &= v - 1
			}
		}
	}
}

// sameSize checks that o can be combined with b.
func (b *Bitset) sameSize(op string, o *Bitset) error {
	if o.n != b.n {
		return fmt.Errorf("%w: bitset %q %s %q: %d bits vs %d bits", ErrMismatch, b.name, op, o.name, b.n, o.n)
	}
	return nil
}

// And sets b to b AND o, word by word: each word is updated atomically, the
// whole operation is not one atomic step. o must have b's size (else
// ErrMismatch). o may be b, or a bitset of another segment.
func (b *Bitset) And(o *Bitset) (err error) {
	defer b.seg.Catch(&err, debug.SetPanicOnFault(true))
	defer o.seg.Catch(&err, debug.SetPanicOnFault(true))
	if err := b.sameSize("and", o); err != nil {
		return err
	}
	for w := range b.words {
		b.words[w].And(o.words[w].Load())
	}
	return nil
}

// Or sets b to b OR o, word by word; see And.
func (b *Bitset) Or(o *Bitset) (err error) {
	defer b.seg.Catch(&err, debug.SetPanicOnFault(true))
	defer o.seg.Catch(&err, debug.SetPanicOnFault(true))
	if err := b.sameSize("or", o); err != nil {
		return err
	}
	for w := range b.words {
		b.words[w].Or(o.word(w))
	}
	return nil
}

// AndNot sets b to b AND NOT o (clears in b the bits set in o), word by
// word; see And.
func (b *Bitset) AndNot(o *Bitset) (err error) {
	defer b.seg.Catch(&err, debug.SetPanicOnFault(true))
	defer o.seg.Catch(&err, debug.SetPanicOnFault(true))
	if err := b.sameSize("andnot", o); err != nil {
		return err
	}
	for w := range b.words {
		b.words[w].And(^o.word(w))
	}
	return nil
}

// Xor sets b to b XOR o, word by word, each word by a compare-and-swap loop;
// see And. Xor of a bitset with itself clears it.
func (b *Bitset) Xor(o *Bitset) (err error) {
	defer b.seg.Catch(&err, debug.SetPanicOnFault(true))
	defer o.seg.Catch(&err, debug.SetPanicOnFault(true))
	if err := b.sameSize("xor", o); err != nil {
		return err
	}
	for w := range b.words {
		x := o.word(w)
		for {
			old := b.words[w].Load()
			if b.words[w].CompareAndSwap(old, old^x) {
				break
			}
		}
	}
	return nil
}
