package hashmap

import (
	"bytes"
	"errors"
	"fmt"
	"iter"
	"math/bits"
	"math/rand/v2"
	"reflect"
	"runtime/debug"
	"sync"
	"sync/atomic"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/codec"
	"github.com/posixshm/posixshm/segment"
)

// Map is a fixed-capacity hash map in a posixshm segment, shared by every
// process that opens the same segment and name, like a Go map[K]V that many
// processes use at once. Keys are strings, byte slices or integers, stored
// as their bytes (a lookup never allocates); values are encoded by a codec
// (codec.For[V] unless ValueCodec says otherwise).
//
// A Map is safe for concurrent use by multiple goroutines and processes.
// Create or attach one with New, attach with Open; a Map must not be copied
// and must not be used after its Segment is closed.
//
// Every method is lock-free: readers never block and never see a torn or
// mixed value (a record replaced and freed under a reader is detected by a
// re-check of its slot and read again); writers CAS one slot word. A writer
// waits only for another writer of the same slot that is between its CAS and
// the two instructions that complete it; if that writer's process died,
// the waiter runs segment recovery, which completes or undoes the dead
// writer's operation. Every operation is linearizable: a Store that returns
// synchronizes before any Load that observes its value.
//
// If a process dies during a call, the call's effect is all or nothing, and
// the next segment recovery (segment.Open runs one) reclaims its records.
type Map[K keyType, V any] struct {
	t    *table
	kk   keyKind // how a K's bytes are found (keyOf)
	vc   codec.Codec[V]
	word bool      // V is a plain 8-byte number under the default codec: Load reads it in place (codec.IsWord)
	bufs sync.Pool // *[]byte for encoded values
}

// fastProbes bounds Load's inlined walk of a probe chain: at a load factor
// of at most 1/2 nearly every chain is shorter; a longer one takes lookup.
const fastProbes = 8

// Option configures New and Open.
type Option func(*config)

type config struct {
	capacity  int
	capSet    bool
	maxRecord int
	codec     any
}

// MaxEntries sets the capacity of a new map: how many keys it can hold at
// once (default DefaultMaxEntries, at most MaxMaxEntries). When attaching
// to an existing map it must match that map's capacity if given.
func MaxEntries(n int) Option { return func(c *config) { c.capacity, c.capSet = n, true } }

// MaxRecordSize sets the largest key plus encoded value a new map accepts,
// in bytes (default DefaultMaxRecordSize). Readers bound every record by it.
// An existing map keeps the limit it was created with.
func MaxRecordSize(n int) Option { return func(c *config) { c.maxRecord = n } }

// ValueCodec sets the codec for values instead of codec.For[V]. Its ID is
// recorded in the map, so every process must use a codec with the same ID.
func ValueCodec[V any](c codec.Codec[V]) Option { return func(cf *config) { cf.codec = c } }

// New returns the map called name in seg, creating it if it does not exist.
// Among processes racing to create one name, one creates it and the others
// attach to it. An existing map with another key type, value codec, or (if
// MaxEntries is given) capacity is an error wrapping ErrMismatch that names
// both sides.
func New[K keyType, V any](seg *segment.Segment, name string, opts ...Option) (_ *Map[K, V], err error) {
	defer seg.Catch(&err, debug.SetPanicOnFault(true)) // the attach reads the header
	return open[K, V](seg, name, true, opts)
}

// Open attaches to the existing map called name in seg; it fails with an
// error wrapping segment.ErrNotFound if there is none.
func Open[K keyType, V any](seg *segment.Segment, name string, opts ...Option) (_ *Map[K, V], err error) {
	defer seg.Catch(&err, debug.SetPanicOnFault(true)) // the attach reads the header
	return open[K, V](seg, name, false, opts)
}

// slotsFor returns the slot count for a capacity: a power of two with the
// load factor at most 1/2, and at least 8. Linear probing's chains grow
// fast past a half: with 10,000 keys a Load on a sealed segment took
// 17.2 ns with the 16,384 slots a 3/4 bound gives (load 0.61) and 14.0 ns
// with 32,768 (0.31), for 8 bytes more per key on average (BENCHMARKS.md).
func slotsFor(capacity uint64) uint64 {
	n := max(capacity*2, 8)
	return 1 << bits.Len64(n-1)
}

func open[K keyType, V any](seg *segment.Segment, name string, create bool, opts []Option) (*Map[K, V], error) {
	cfg := config{capacity: DefaultMaxEntries, maxRecord: DefaultMaxRecordSize}
	for _, o := range opts {
		o(&cfg)
	}
	var vc codec.Codec[V]
	switch c := cfg.codec.(type) {
	case nil:
		vc = codec.For[V]()
	case codec.Codec[V]:
		vc = c
	default:
		return nil, fmt.Errorf("hashmap %q: ValueCodec is a %T, want a codec.Codec[%v]", name, cfg.codec, reflect.TypeFor[V]())
	}
	if cfg.capacity < 1 || cfg.capacity > MaxMaxEntries {
		return nil, fmt.Errorf("hashmap %q: MaxEntries(%d): want 1 to %d", name, cfg.capacity, MaxMaxEntries)
	}
	if cfg.maxRecord < 1 || cfg.maxRecord > MaxRecordSizeLimit {
		return nil, fmt.Errorf("hashmap %q: MaxRecordSize(%d): want 1 to %d", name, cfg.maxRecord, MaxRecordSizeLimit)
	}
	al, err := alloc.Of(seg)
	if err != nil {
		return nil, err
	}
	kid, vid := keyID[K](), vc.ID()
	kfp, vfp := codec.Fingerprint(kid), codec.Fingerprint(vid)
	capacity := uint64(cfg.capacity)
	nslots := slotsFor(capacity)
	var obj segment.Object
	if create {
		spec := segment.Spec{
			Kind:    segment.KindHashMap,
			Version: LayoutVersion,
			Params:  [4]uint64{capacity, nslots, kfp, vfp},
			Size:    headerSize + 8*nslots + segment.CountersSize(seg),
		}
		obj, _, err = seg.FindOrCreate(name, spec, al, func(o segment.Object) error {
			return initMap(seg, o, uint64(cfg.maxRecord))
		})
	} else {
		obj, err = seg.Lookup(name)
		if err == nil && (obj.Kind != segment.KindHashMap || obj.Version != LayoutVersion) {
			err = fmt.Errorf("%w: object %q: want hashmap v%d, found %v v%d", ErrMismatch, name, LayoutVersion, obj.Kind, obj.Version)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("hashmap %q: %w", name, err)
	}
	p := obj.Params
	switch {
	case p[2] != kfp:
		return nil, fmt.Errorf("%w: map %q: want keys %s, found %s", ErrMismatch, name, kid, keyName(p[2]))
	case p[3] != vfp:
		return nil, fmt.Errorf("%w: map %q: want values %s (fingerprint %#x), found value fingerprint %#x", ErrMismatch, name, vid, vfp, p[3])
	case cfg.capSet && p[0] != capacity:
		return nil, fmt.Errorf("%w: map %q: want capacity %d, found capacity %d", ErrMismatch, name, capacity, p[0])
	}
	t, err := attachTable(seg, al, obj)
	if err != nil {
		return nil, err
	}
	return &Map[K, V]{t: t, kk: kindOf[K](), vc: vc, word: codec.IsWord(vc)}, nil
}

// initMap lays out a new map in its (not zeroed) object block, before any
// other process can see it.
func initMap(seg *segment.Segment, o segment.Object, maxRecord uint64) error {
	h, err := segment.At[header](seg, o.Offset)
	if err != nil {
		return err
	}
	slots, err := segment.Slice[atomic.Uint64](seg, o.Offset+headerSize, int(o.Params[1]))
	if err != nil {
		return err
	}
	for i := range slots {
		slots[i].Store(0)
	}
	ctr, err := seg.Bytes(o.Offset+headerSize+8*segment.Offset(o.Params[1]), segment.CountersSize(seg))
	if err != nil {
		return err
	}
	clear(ctr) // the block is not zeroed, and nobody else sees it yet
	*h = header{
		magic:     headerMagic,
		version:   LayoutVersion,
		capacity:  o.Params[0],
		slots:     o.Params[1],
		keyFP:     o.Params[2],
		valFP:     o.Params[3],
		seed:      rand.Uint64(),
		maxRecord: maxRecord,
	}
	return nil
}

// attachTable maps the object's words, checking everything it reads: the
// header must agree with the directory's parameters and fit the block.
func attachTable(seg *segment.Segment, al *alloc.Allocator, obj segment.Object) (*table, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: map %q: %s", ErrCorrupt, obj.Name, fmt.Sprintf(format, args...))
	}
	p := obj.Params
	if p[1] < 8 || p[1] > 2*MaxMaxEntries || p[1]&(p[1]-1) != 0 || p[0] < 1 || p[0] > p[1] {
		return nil, bad("capacity %d with %d slots", p[0], p[1])
	}
	if obj.Size < headerSize+8*p[1]+segment.CountersSize(seg) {
		return nil, bad("block of %d bytes holds no %d slots and their counters", obj.Size, p[1])
	}
	ops, err := segment.CountersAt(seg, obj.Offset+headerSize+8*segment.Offset(p[1]))
	if err != nil {
		return nil, err
	}
	h, err := segment.At[header](seg, obj.Offset)
	if err != nil {
		return nil, err
	}
	switch {
	case h.magic != headerMagic:
		return nil, bad("header magic %#x, want %#x", h.magic, headerMagic)
	case h.version != LayoutVersion:
		return nil, fmt.Errorf("%w: map %q: header says layout v%d, this library reads v%d", ErrMismatch, obj.Name, h.version, LayoutVersion)
	case h.capacity != p[0] || h.slots != p[1] || h.keyFP != p[2] || h.valFP != p[3]:
		return nil, bad("header (capacity %d, %d slots, fingerprints %#x %#x) differs from the directory (%d, %d, %#x %#x)",
			h.capacity, h.slots, h.keyFP, h.valFP, p[0], p[1], p[2], p[3])
	case h.maxRecord < 1 || h.maxRecord > MaxRecordSizeLimit:
		return nil, bad("record limit %d", h.maxRecord)
	}
	slots, err := segment.Slice[atomic.Uint64](seg, obj.Offset+headerSize, int(p[1]))
	if err != nil {
		return nil, err
	}
	mem, err := seg.Bytes(0, uint64(seg.Size()))
	if err != nil {
		return nil, err
	}
	heapOff, _ := seg.Heap()
	if uint64(heapOff)+recHdrSize > uint64(len(mem)) {
		return nil, bad("heap at offset %d of a %d-byte segment", heapOff, len(mem))
	}
	rs, rg := seg.Slot()
	return &table{
		seg: seg, al: al, mem: mem, hdr: h, slots: slots, ops: ops, mask: p[1] - 1,
		obj: obj.Index, name: obj.Name, seed: h.seed, capacity: int64(p[0]),
		unguarded: seg.UnguardedReads(), maxRecord: h.maxRecord, heapLo: uint64(heapOff), hdrSpan: uint64(len(mem)) - recHdrSize - uint64(heapOff),
		regSlot: rs, regGen: rg,
	}, nil
}

// Cap returns the map's capacity: the most keys it holds at once.
func (m *Map[K, V]) Cap() int { return int(m.t.capacity) }

// Len returns the number of keys in the map. It reads one counter and does
// not block. Under concurrent writes it is a moment's value. A writer
// killed mid-write can leave it one off until segment recovery repairs
// that write; after recovery it is exact.
func (m *Map[K, V]) Len() int {
	defer m.t.seg.Catch(nil, debug.SetPanicOnFault(true)) // 0 on a fault
	return m.t.count()
}

// Load returns the value stored for key, and whether there was one. Does
// not block and does not allocate beyond what decoding V needs. The error
// is non-nil only for corrupt shared memory (ErrCorrupt) and a segment that
// is gone: closed (segment.ErrClosed) or truncated by a peer
// (segment.ErrTruncated).
func (m *Map[K, V]) Load(key K) (value V, ok bool, err error) {
	t := m.t
	// Catch's guard, with the deferred closure written out: Load is the
	// map's hottest path, and this form saves it 1.5 ns (segment.Fault).
	// done, set once the last access to shared memory is behind us, spares
	// the common returns the call to recover (1 ns more); a panic before
	// it leaves done false. Where the segment's reads cannot fault
	// (segment.UnguardedReads) Load skips the guard, and checks Lost
	// before it returns: a truncated or closed segment's mapping reads as
	// zeros there, empty slots or a zero value.
	done := false
	if !t.unguarded {
		prev := debug.SetPanicOnFault(true)
		defer func() {
			debug.SetPanicOnFault(prev)
			if done {
				return
			}
			if r := recover(); r != nil {
				var zero V
				value, ok, err = zero, false, m.t.seg.Fault(r)
			}
		}()
	}
	k := keyOf(m.kk, &key)
	h := hashOf(t.seed, k)
	// Fast path: walk the key's probe chain, the same walk as lookup and
	// readRecord, over the slot states a reader can judge alone. A live
	// slot with another tag, a tombstone or an insert in flight is passed;
	// an empty slot ends the chain; a live slot with the key's tag is
	// compared with its record, read in place (recordAt) after one bounds
	// check. Anything else (a fence, a record that is not the key's but
	// whose slot changed meanwhile, corruption) takes loadSlow, which
	// handles every case.
	want := stLive<<stateShift | uint64(tagOfHash(h))<<tagShift
	slots := t.slots
	i := h & t.mask
	for range fastProbes {
		if i >= uint64(len(slots)) {
			break
		}
		w := slots[i].Load()
		if w&(stateMask|tagMask) == want {
			kl, val, in := t.recordAt(recOff(w))
			if !in {
				break
			}
			if keyIs(t.keyAt(recOff(w)), kl, k) {
				var derr error
				if m.word && len(val) == 8 {
					value = codec.FromWordBits[V](native.Uint64(val))
				} else {
					value, derr = m.vc.Decode(val)
				}
				if slots[i].Load() != w {
					break
				}
				if t.seg.Lost() {
					var zero V
					done = true
					return zero, false, t.lost()
				}
				if derr != nil {
					return value, false, fmt.Errorf("%w: map %q: slot %d: %w", ErrCorrupt, t.name, i, derr)
				}
				done = true
				return value, true, nil
			}
			if slots[i].Load() != w {
				break
			}
		} else if st := stateOf(w); st == stEmpty {
			done = true // absent reads no shared memory
			return value, false, t.absent()
		} else if st != stLive && st != stTomb && st != stInserting {
			break
		}
		i = (i + 1) & t.mask
	}
	return m.loadSlow(k, h)
}

// loadSlow is Load by lookup, for whatever the fast path does not judge
// alone. It is a function of its own so that Load's frame stays small.
func (m *Map[K, V]) loadSlow(k string, h uint64) (value V, ok bool, err error) {
	t := m.t
	for {
		i, w, val, err := lookup(t, k, h)
		if err == nil && w == 0 {
			err = t.absent()
		}
		if err != nil || w == 0 {
			return value, false, err
		}
		v, derr := m.vc.Decode(val)
		if t.slots[i].Load() != w {
			continue // replaced while we copied it: read again
		}
		if t.seg.Lost() {
			return value, false, t.lost()
		}
		if derr != nil {
			return value, false, fmt.Errorf("%w: map %q: slot %d: %w", ErrCorrupt, t.name, i, derr)
		}
		return v, true, nil
	}
}

func (m *Map[K, V]) encode(v V) (*[]byte, error) {
	bp, _ := m.bufs.Get().(*[]byte)
	if bp == nil {
		bp = new([]byte)
	}
	b, err := m.vc.Append((*bp)[:0], v)
	*bp = b
	if err != nil {
		m.bufs.Put(bp)
		return nil, fmt.Errorf("hashmap %q: encode value: %w", m.t.name, err)
	}
	return bp, nil
}

func (m *Map[K, V]) release(bp *[]byte) {
	if cap(*bp) <= 64<<10 {
		m.bufs.Put(bp)
	}
}

func (m *Map[K, V]) decode(cur []byte) (V, error) {
	v, err := m.vc.Decode(cur)
	if err != nil {
		err = fmt.Errorf("%w: map %q: %w", ErrCorrupt, m.t.name, err)
	}
	return v, err
}

// Store sets the value for key. It fails with ErrFull if key is new and the
// map holds Cap keys, and with ErrTooLarge if key and value exceed the
// map's MaxRecordSize. Does not block (see Map).
func (m *Map[K, V]) Store(key K, value V) (err error) {
	defer m.t.seg.Catch(&err, debug.SetPanicOnFault(true))
	if m.word {
		// An 8-byte number: its bytes on the stack, no codec or pool.
		var b [8]byte
		native.PutUint64(b[:], codec.WordBits(value))
		return mutate(m.t, keyOf(m.kk, &key), b[:], putAlways)
	}
	bp, err := m.encode(value)
	if err != nil {
		return err
	}
	defer m.release(bp)
	return mutate(m.t, keyOf(m.kk, &key), *bp, putAlways)
}

// putAlways is Store's decision: put the value whatever the key holds.
func putAlways([]byte, bool) (int, error) { return actPut, nil }

// LoadOrStore returns the existing value for key if present (loaded true).
// Otherwise it stores value and returns it (loaded false).
func (m *Map[K, V]) LoadOrStore(key K, value V) (actual V, loaded bool, err error) {
	defer m.t.seg.Catch(&err, debug.SetPanicOnFault(true))
	bp, err := m.encode(value)
	if err != nil {
		return actual, false, err
	}
	defer m.release(bp)
	err = mutate(m.t, keyOf(m.kk, &key), *bp, func(cur []byte, present bool) (int, error) {
		if !present {
			actual, loaded = value, false
			return actPut, nil
		}
		var derr error
		actual, derr = m.decode(cur)
		loaded = true
		return actNone, derr
	})
	if err != nil {
		var zero V
		return zero, false, err
	}
	return actual, loaded, nil
}

// LoadAndDelete deletes the value for key, returning the previous value if
// any (loaded reports whether the key was present).
func (m *Map[K, V]) LoadAndDelete(key K) (value V, loaded bool, err error) {
	defer m.t.seg.Catch(&err, debug.SetPanicOnFault(true))
	err = mutate(m.t, keyOf(m.kk, &key), nil, func(cur []byte, present bool) (int, error) {
		if !present {
			loaded = false
			return actNone, nil
		}
		var derr error
		value, derr = m.decode(cur)
		loaded = true
		return actDelete, derr
	})
	if err != nil || !loaded {
		var zero V
		return zero, false, err
	}
	return value, true, nil
}

// Delete deletes the value for key. Deleting an absent key does nothing.
func (m *Map[K, V]) Delete(key K) (err error) {
	defer m.t.seg.Catch(&err, debug.SetPanicOnFault(true))
	return mutate(m.t, keyOf(m.kk, &key), nil, func(_ []byte, present bool) (int, error) {
		if present {
			return actDelete, nil
		}
		return actNone, nil
	})
}

// Swap stores value for key and returns the previous value if any (loaded
// reports whether the key was present).
func (m *Map[K, V]) Swap(key K, value V) (previous V, loaded bool, err error) {
	defer m.t.seg.Catch(&err, debug.SetPanicOnFault(true))
	bp, err := m.encode(value)
	if err != nil {
		return previous, false, err
	}
	defer m.release(bp)
	err = mutate(m.t, keyOf(m.kk, &key), *bp, func(cur []byte, present bool) (int, error) {
		if !present {
			loaded = false
			return actPut, nil
		}
		var derr error
		previous, derr = m.decode(cur)
		loaded = true
		return actPut, derr
	})
	if err != nil || !loaded {
		var zero V
		return zero, false, err
	}
	return previous, true, nil
}

// CompareAndSwap stores new for key if the key is present and its value
// encodes to the same bytes as old (values are compared by their encoding,
// not with ==). It reports whether it swapped.
func (m *Map[K, V]) CompareAndSwap(key K, old, new V) (swapped bool, err error) {
	defer m.t.seg.Catch(&err, debug.SetPanicOnFault(true))
	ob, err := m.encode(old)
	if err != nil {
		return false, err
	}
	defer m.release(ob)
	nb, err := m.encode(new)
	if err != nil {
		return false, err
	}
	defer m.release(nb)
	err = mutate(m.t, keyOf(m.kk, &key), *nb, func(cur []byte, present bool) (int, error) {
		swapped = present && bytes.Equal(cur, *ob)
		if swapped {
			return actPut, nil
		}
		return actNone, nil
	})
	return swapped && err == nil, err
}

// CompareAndDelete deletes key if it is present and its value encodes to
// the same bytes as old. It reports whether it deleted.
func (m *Map[K, V]) CompareAndDelete(key K, old V) (deleted bool, err error) {
	defer m.t.seg.Catch(&err, debug.SetPanicOnFault(true))
	ob, err := m.encode(old)
	if err != nil {
		return false, err
	}
	defer m.release(ob)
	err = mutate(m.t, keyOf(m.kk, &key), nil, func(cur []byte, present bool) (int, error) {
		deleted = present && bytes.Equal(cur, *ob)
		if deleted {
			return actDelete, nil
		}
		return actNone, nil
	})
	return deleted && err == nil, err
}

// Clear deletes every key. It is not atomic: it deletes the keys one at a
// time, so a concurrent Store may survive it and a concurrent Load may see
// some keys gone and others not yet.
func (m *Map[K, V]) Clear() (err error) {
	defer m.t.seg.Catch(&err, debug.SetPanicOnFault(true))
	t := m.t
	for i := range t.slots {
		for {
			w := t.slots[i].Load()
			if stateOf(w) != stLive {
				break
			}
			if pending(w) {
				if err := t.await(uint64(i), w); err != nil {
					return err
				}
				continue
			}
			if t.deleteAt(uint64(i), w) {
				break
			}
		}
	}
	return nil
}

// All returns an iterator over the map's keys and values. It is not a
// snapshot: each key present for the whole iteration is yielded exactly
// once with a value it held during the iteration; a key stored or deleted
// meanwhile may or may not be yielded. It takes no lock, so writers go on
// while it runs, and it may be used again. Keys and values are copies.
// Entries that cannot be decoded (corrupt memory) are skipped.
func (m *Map[K, V]) All() iter.Seq2[K, V] {
	return func(yield func(K, V) bool) {
		t := m.t
		defer t.seg.Catch(nil, debug.SetPanicOnFault(true)) // a fault ends the iteration
		for i := range t.slots {
			for try := 0; try < 64; try++ {
				w := t.slots[i].Load()
				if stateOf(w) != stLive {
					break
				}
				k, v, ok := t.readRecord(w)
				if !ok {
					if t.slots[i].Load() != w {
						continue
					}
					break
				}
				key, kok := keyFrom[K](m.kk, k)
				val, err := m.vc.Decode(v)
				if t.slots[i].Load() != w {
					continue
				}
				if err != nil || !kok {
					break
				}
				if !yield(key, val) {
					return
				}
				break
			}
		}
	}
}

// Stats describes a map's fill, counted by scanning its slots.
type Stats struct {
	Capacity   int // most keys the map holds at once
	Slots      int // slots in the table (a power of two, >= Capacity*2)
	Live       int // keys present
	Tombstones int // deleted slots not yet reclaimed (reused by later inserts)
	Empty      int // never-used or reclaimed slots
	InFlight   int // slots claimed by an insert, or pending a writer's last steps
	Counter    int // the Len counter, for comparison with Live
	Repaired   int // writes of dead processes that recovery completed or undid, since creation
	HighWater  int // most keys the map has held at once
	// Stores and Deletes count completed writes since creation, summed
	// over per-process counter lines (no process shares a written line).
	// Loads are not counted: a counter would cost a read a fifth of its
	// time.
	Stores, Deletes uint64
}

// Stats scans the table. It takes no lock; under concurrent writes the
// counts are approximate, at rest exact. On a memory fault (the segment's
// file truncated by a peer) it returns the zero Stats.
func (m *Map[K, V]) Stats() Stats { return m.t.stats() }

// stats is Stats for any view of the table (Map and Raw).
func (t *table) stats() Stats {
	defer t.seg.Catch(nil, debug.SetPanicOnFault(true)) // the zero Stats on a fault
	g := t.hdr.live.Load()
	st := Stats{
		Capacity: int(t.capacity), Slots: len(t.slots), Counter: int(countOf(g)), Repaired: int(t.hdr.repaired.Load()),
		// An insert raises the high-water mark just after its count.
		HighWater: int(min(max(t.hdr.highWater.Load(), countOf(g)), uint64(t.capacity))),
		Stores:    t.ops.Sum(ctrStores), Deletes: t.ops.Sum(ctrDeletes),
	}
	for i := range t.slots {
		w := t.slots[i].Load()
		switch stateOf(w) {
		case stLive:
			st.Live++
			if pending(w) {
				st.InFlight++
			}
		case stTomb, stClean, stDeleting:
			st.Tombstones++
			if pending(w) {
				st.InFlight++
			}
		case stInserting:
			st.InFlight++
		default:
			st.Empty++
		}
	}
	return st
}

// Actions a mutate decision can take.
const (
	actNone = iota
	actPut
	actDelete
)

// build writes a new record for key and val into a fresh block, owned by
// this attachment until finish publishes it.
func build(t *table, key string, h uint64, val []byte) (uint64, error) {
	n := uint64(len(key)) + uint64(len(val))
	if n > t.maxRecord {
		return 0, fmt.Errorf("%w: map %q: %d-byte key and %d-byte value, the limit is %d (MaxRecordSize)", ErrTooLarge, t.name, len(key), len(val), t.maxRecord)
	}
	off, err := t.al.Alloc(recHdrSize + n)
	if err != nil {
		if errors.Is(err, alloc.ErrTooLarge) {
			return 0, fmt.Errorf("%w: map %q: %w", ErrTooLarge, t.name, err)
		}
		return 0, fmt.Errorf("hashmap %q: %w", t.name, err)
	}
	o := uint64(off)
	if o < t.heapLo || o%16 != 0 || o/16 > offMask || o+recHdrSize+n > uint64(len(t.mem)) {
		t.al.Free(off)
		return 0, t.corrupt("allocator returned block %d", o)
	}
	b := t.mem[o : o+recHdrSize+n]
	putRecordHeader(b, len(key), len(val), t.regSlot, t.regGen)
	copy(b[recHdrSize:], key)
	copy(b[recHdrSize+uint64(len(key)):], val)
	return o, nil
}

// deleteAt deletes the live record w at slot i; it reports false if the
// slot changed first. The key is gone with the CAS to stDeleting; the
// counter is lowered after it, and recorded in the slot (repair.go).
func (t *table) deleteAt(i, w uint64) bool {
	dw := next(w, stDeleting, true, recOff(w), 0)
	in := t.seg.BeginIntent(segment.KindHashMap, opDelete, t.obj, i, w, dw)
	defer in.End()
	if !t.slots[i].CompareAndSwap(w, dw) {
		return false
	}
	if testHook != nil {
		testHook(hkDeleteLinked)
	}
	g, _ := t.countChange(i, -1)
	if testHook != nil {
		testHook(hkCounted)
	}
	cw := t.markCounted(i, dw)
	t.unmark(g)
	t.finish(i, cw, recOff(w), true)
	return true
}

// mutate is every write: it finds key, asks decide what to do given the
// current value (cur aliases shared memory and is valid only during the
// call; present is false when the key is absent), and does it with a CAS on
// the key's slot, starting over whenever the slot changed under it. put is
// the encoded value a put stores. decide may be called several times; the
// last call's choice is the one that took effect.
func mutate(t *table, key string, put []byte, decide func(cur []byte, present bool) (int, error)) error {
	h := hashOf(t.seed, key)
	tag := tagOfHash(h)
	var rec uint64 // our new record's offset, 0 until built
	linked := false
	fullWaits := 0
	// The compiler open-codes this defer only while mutate has at most 15
	// return statements; past that it costs an insert and a delete about
	// 30 ns more (go build -gcflags=-d=defer says which).
	defer func() {
		if rec != 0 && !linked {
			t.al.Free(segment.Offset(rec)) // never visible to readers, or no longer
		}
	}()
	// roomSoon reports whether an insert that found the map full should
	// look again, after waiting for room: the counter runs ahead of the
	// keys for an instant while a delete is between the CAS that removes
	// its key and lowering the counter. A writer caught there (preempted,
	// or a dead deleter not yet recovered) makes the map look full when it
	// is not. So yield a few times, then wait while deletes are in flight,
	// a bounded while, before ErrFull.
	roomSoon := func() bool {
		if fullWaits < maxFullWaits && (fullWaits < fullYields || t.seg.HasIntentOp(segment.KindHashMap, t.obj, opDelete)) {
			fullWaits++
			waitForRoom(t.seg, fullWaits)
			return true
		}
		return false
	}
	for {
		p, err := findWrite(t, key, h)
		if err != nil {
			return err
		}
		if p.w != 0 {
			if pending(p.w) {
				if err := t.await(p.i, p.w); err != nil {
					return err
				}
				continue
			}
			_, cur, ok := t.readRecord(p.w)
			act, derr := actNone, error(nil)
			if ok {
				act, derr = decide(cur, true)
			}
			if t.slots[p.i].Load() != p.w {
				continue // decided on a value replaced meanwhile
			}
			if !ok {
				return t.corrupt("slot %d points at offset %d, which holds no record", p.i, recOff(p.w))
			}
			if derr != nil {
				return derr
			}
			switch act {
			case actNone:
				return nil
			case actDelete:
				if t.deleteAt(p.i, p.w) {
					return nil
				}
			case actPut:
				if rec == 0 {
					if rec, err = build(t, key, h, put); err != nil {
						return err
					}
				}
				nw := next(p.w, stLive, true, rec, tag)
				in := t.seg.BeginIntent(segment.KindHashMap, opReplace, t.obj, p.i, p.w, nw)
				if testHook != nil {
					testHook(hkReplaceBuilt)
				}
				if t.slots[p.i].CompareAndSwap(p.w, nw) {
					linked = true
					if testHook != nil {
						testHook(hkReplaceLinked)
					}
					t.finish(p.i, nw, recOff(p.w), true)
					in.End()
					return nil
				}
				in.End()
			}
			continue
		}
		if act, err := decide(nil, false); err != nil || act != actPut {
			return err
		}
		// A look first, so that a full map is not sent a record and a
		// claim; countChange decides.
		if countOf(t.hdr.live.Load()) >= uint64(t.capacity) {
			if roomSoon() {
				continue
			}
			return t.full()
		}
		if !p.hasFree {
			return fmt.Errorf("%w: map %q: no free slot on the probe chain", ErrFull, t.name)
		}
		if rec == 0 {
			if rec, err = build(t, key, h, put); err != nil {
				return err
			}
		}
		cw := next(p.freeW, stInserting, false, rec, tag)
		in := t.seg.BeginIntent(segment.KindHashMap, opInsert, t.obj, p.free, p.freeW, cw)
		if !t.slots[p.free].CompareAndSwap(p.freeW, cw) {
			in.End()
			continue
		}
		if testHook != nil {
			testHook(hkInsertClaimed)
		}
		res, j, wj := settle(t, key, h, p.free, cw)
		switch res {
		case claimReserved:
			if testHook != nil {
				testHook(hkInsertReserved)
			}
			g, ok := t.countChange(p.free, 1)
			if !ok {
				// Full: give the claim back (and keep the record for the
				// next try). Nobody else changes a reserved claim whose
				// count the live word does not mark.
				if testHook != nil {
					testHook(hkInsertFull)
				}
				if !t.slots[p.free].CompareAndSwap(wj, next(wj, stTomb, false, 0, 0)) {
					linked = true // it may be; better leaked than freed under a reader
					in.End()
					return t.corrupt("slot %d changed under its reserved claim", p.free)
				}
				t.cleanup(p.free)
				in.End()
				continue // to the look above, which waits for room or reports ErrFull
			}
			if testHook != nil {
				testHook(hkCounted)
			}
			pw := t.markCounted(p.free, wj)
			t.unmark(g)
			linked = true
			t.finish(p.free, pw, 0, true)
			in.End()
			return nil
		case claimLost:
			in.End()
			if testHook != nil {
				testHook(hkInsertLost)
			}
			if err := t.await(j, wj); err != nil {
				return err
			}
		default:
			in.End()
		}
	}
}
