package hashmap

import (
	"bytes"
	"fmt"
	"iter"
	"runtime/debug"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/segment"
)

// Raw is a view of a map for tools (shmctl) that know neither its key type
// nor its value codec: keys are raw bytes, as every key type stores them,
// and values are the bytes the map's value codec wrote. Raw does not check
// the codec fingerprints that New and Open compare, so it attaches to any
// map; it is the caller's job to write values the map's processes can
// decode (ValueFingerprint names the codec).
//
// Load, All and Stats only read and work on a segment opened with
// segment.ReadOnly; Store and Delete follow the same lock-free protocol,
// intent records included, as Map's.
type Raw struct {
	t   *table
	obj segment.Object
}

// OpenRaw attaches a Raw view to the map called name in seg. It checks the
// object's kind, layout version and header as Open does, but not the key
// and value codecs.
func OpenRaw(seg *segment.Segment, name string) (_ *Raw, err error) {
	defer seg.Catch(&err, debug.SetPanicOnFault(true)) // the attach reads the header
	obj, err := seg.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("hashmap %q: %w", name, err)
	}
	return openRawObject(seg, obj)
}

func openRawObject(seg *segment.Segment, obj segment.Object) (*Raw, error) {
	if obj.Kind != segment.KindHashMap || obj.Version != LayoutVersion {
		return nil, fmt.Errorf("%w: object %q: want hashmap v%d, found %v v%d", ErrMismatch, obj.Name, LayoutVersion, obj.Kind, obj.Version)
	}
	al, err := alloc.Of(seg)
	if err != nil {
		return nil, err
	}
	t, err := attachTable(seg, al, obj)
	if err != nil {
		return nil, err
	}
	return &Raw{t: t, obj: obj}, nil
}

// KeyFingerprint returns the fingerprint (codec.Fingerprint) of the key
// codec ID: "raw-string" for string keys, "raw-bytes" for []byte keys,
// "int64" or "uint32" and so on for integer keys (named by width and sign).
func (r *Raw) KeyFingerprint() uint64 { return r.t.hdr.keyFP }

// KeyEncoding names how the map stores its keys: "raw-string" or
// "raw-bytes" (the key's bytes), or "int64", "uint32" and so on (an integer
// of that width in host byte order). It is "" when the key fingerprint
// names none of these.
func (r *Raw) KeyEncoding() string { return keyEncodings[r.t.hdr.keyFP] }

// ValueFingerprint returns the fingerprint (codec.Fingerprint) of the
// value codec's ID; the ID itself is not stored.
func (r *Raw) ValueFingerprint() uint64 { return r.t.hdr.valFP }

// MaxRecordSize returns the largest key plus encoded value the map accepts.
func (r *Raw) MaxRecordSize() int { return int(r.t.maxRecord) }

// Cap returns the map's capacity.
func (r *Raw) Cap() int { return int(r.t.capacity) }

// Len returns the map's live counter, as Map.Len.
func (r *Raw) Len() int {
	defer r.t.seg.Catch(nil, debug.SetPanicOnFault(true)) // 0 on a fault
	return r.t.count()
}

// Load returns a copy of the encoded value stored for key. Does not block.
func (r *Raw) Load(key []byte) (val []byte, ok bool, err error) {
	defer r.t.seg.Catch(&err, debug.SetPanicOnFault(true))
	t := r.t
	k := bytesKey(key)
	h := hashOf(t.seed, k)
	for {
		i, w, v, err := lookup(t, k, h)
		if err != nil || w == 0 {
			return nil, false, err
		}
		c := bytes.Clone(v)
		if t.slots[i].Load() != w {
			continue // replaced while we copied it
		}
		return c, true, nil
	}
}

// Store sets key's encoded value to val, which must be what the map's value
// codec produces. It fails as Map.Store does (ErrFull, ErrTooLarge), and
// with segment.ErrReadOnly on a read-only segment.
func (r *Raw) Store(key, val []byte) (err error) {
	defer r.t.seg.Catch(&err, debug.SetPanicOnFault(true))
	if !r.t.seg.Writable() {
		return fmt.Errorf("map %q: %w", r.t.name, segment.ErrReadOnly)
	}
	return mutate(r.t, bytesKey(key), val, func([]byte, bool) (int, error) { return actPut, nil })
}

// Delete deletes key and reports whether it was present.
func (r *Raw) Delete(key []byte) (found bool, err error) {
	defer r.t.seg.Catch(&err, debug.SetPanicOnFault(true))
	if !r.t.seg.Writable() {
		return false, fmt.Errorf("map %q: %w", r.t.name, segment.ErrReadOnly)
	}
	err = mutate(r.t, bytesKey(key), nil, func(_ []byte, present bool) (int, error) {
		found = present
		if present {
			return actDelete, nil
		}
		return actNone, nil
	})
	return found, err
}

// All returns an iterator over copies of the keys and encoded values, as
// Map.All: not a snapshot; records that cannot be read are skipped.
func (r *Raw) All() iter.Seq2[[]byte, []byte] {
	return func(yield func([]byte, []byte) bool) {
		t := r.t
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
				key, val := bytes.Clone(k), bytes.Clone(v)
				if t.slots[i].Load() != w {
					continue
				}
				if !yield(key, val) {
					return
				}
				break
			}
		}
	}
}

// Stats scans the table, as Map.Stats.
func (r *Raw) Stats() Stats { return r.t.stats() }

// Check verifies what can be verified of a map without writing: its
// header against the directory, every slot's state, every live record's
// bounds and stored hash, that each live key is reachable from its home
// slot, that no key is live twice, and, with no write in flight, that the
// Len counter equals the live keys. Slots pending a
// writer's last step or claimed by an insert are reported when the writer
// is dead (run recover). It returns one line per problem. Run it when no
// process is writing: under concurrent writes it reports false problems.
// A memory fault (the segment's file truncated by a peer) is reported as a
// problem.
func Check(seg *segment.Segment, obj segment.Object) (probs []string) {
	var ferr error
	defer func() {
		if ferr != nil {
			probs = append(probs, ferr.Error())
		}
	}()
	defer seg.Catch(&ferr, debug.SetPanicOnFault(true))
	r, err := openRawObject(seg, obj)
	if err != nil {
		return []string{err.Error()}
	}
	t := r.t
	add := func(format string, args ...any) {
		probs = append(probs, fmt.Sprintf("map %q: ", t.name)+fmt.Sprintf(format, args...))
	}
	seen := make(map[string]uint64)
	live, inFlight := 0, 0
	ps := seg.Processes()
	alive := func(slot int, gen uint32) bool {
		for _, p := range ps {
			if p.Slot == slot {
				return p.Gen == gen && p.Alive
			}
		}
		return false
	}
	for i := range t.slots {
		w := t.slots[i].Load()
		st := stateOf(w)
		switch st {
		case stEmpty, stFence, stTomb, stClean:
		case stLive, stInserting, stDeleting:
		default:
			add("slot %d has unknown state %d", i, st)
			continue
		}
		if st == stInserting || pending(w) {
			inFlight++
		}
		if (st == stLive || st == stInserting || st == stDeleting || (st == stTomb && pending(w))) && recOff(w) != 0 {
			if _, _, ok := t.readRecord(w); !ok {
				add("slot %d points at offset %d, which holds no record", i, recOff(w))
				continue
			}
		}
		if st == stInserting || pending(w) {
			if s, g, ok := t.recordOwner(w); ok && !alive(s, g) {
				add("slot %d: write left in flight by a dead process (registry slot %d); run recover", i, s)
			}
		}
		if st != stLive {
			continue
		}
		live++
		k, _, _ := t.readRecord(w)
		h := hashOf(t.seed, bytesKey(k))
		if tagOfWord(w) != tagOfHash(h) {
			add("slot %d: tag %#x, the key's hash has tag %#x", i, tagOfWord(w), tagOfHash(h))
		}
		if j, dup := seen[string(k)]; dup {
			add("key %q is live in slots %d and %d", k, j, i)
		}
		seen[string(k)] = uint64(i)
		for j := h & t.mask; j != uint64(i); j = (j + 1) & t.mask {
			if s := stateOf(t.slots[j].Load()); s == stEmpty || s == stFence {
				add("key %q in slot %d is unreachable: slot %d on its probe chain is empty", k, i, j)
				break
			}
		}
	}
	if live > int(t.capacity) {
		add("%d live keys exceed the capacity %d", live, t.capacity)
	}
	// With no write in flight the counter is exact (repair.go); with one,
	// it may be a step ahead or behind until that write ends or is repaired.
	g := t.hdr.live.Load()
	if mk := markOf(g); mk != 0 && (mk-1 > t.mask || !pending(t.slots[mk-1].Load())) {
		add("the live word marks slot %d, which has no write in flight", mk-1)
	}
	if inFlight == 0 && markOf(g) == 0 && countOf(g) != uint64(live) {
		add("the Len counter says %d keys, %d are live", countOf(g), live)
	}
	return probs
}
