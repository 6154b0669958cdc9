package hashmap

import (
	"fmt"
	"math/bits"
	"runtime"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/segment"
)

// This file holds the slot protocol, shared by every instantiation of Map
// and by the repair function (which knows no K or V).
//
// Linear probing over a power-of-two slot array. The invariant every
// operation keeps: for a slot holding a live (or claimed) record of a key
// whose home slot is h, every slot from h up to it is non-empty (any state
// but stEmpty/stFence). So a probe for a key may stop at the first empty slot.
//
// Insert of a key that is absent (after Purcell and Harris, "Non-blocking
// hashtables with open addressing", 2005):
//
//  1. claim the first reusable slot of the chain (a tombstone or the
//     terminating empty slot) by CAS to stInserting, holding the new record;
//  2. validate, scanning backwards from the claimed slot to the home slot,
//     that no slot between is empty; else yield the claim and start over.
//     Scanning backwards makes the check stick: a slot can only become
//     empty while its successor is empty, and the successor was already
//     seen non-empty (the claimed slot is, by construction);
//  3. scan the whole chain for another record of the key: a live one means
//     the key was inserted meanwhile (yield, then update it); a claim
//     nearer the home slot wins over ours (yield, wait for it to resolve);
//     a claim farther away is killed by CAS;
//  4. reserve the claim (stInserting|pending) by CAS. A claim killed by
//     another inserter fails this CAS; a reserved claim is never killed:
//     an inserter of the same key that meets it waits for it, as for a
//     live record of the key;
//  5. raise the Len counter (countChange), refusing if the map holds its
//     capacity (the claim is then given back), publish the record, and
//     promote the claim to stLive: the key is in the map.
//
// Two inserters of one key thus never both reserve: whichever's scan starts
// later sees the other's claim or record, and every transition is a CAS on
// the word it was decided on. A delete moves the key's slot from stLive to
// stDeleting (the key is gone), lowers the counter, then makes it a
// tombstone. How the counter stays exact across kills is in repair.go.
//
// Tombstones are reusable by any key (step 1), so churn never fills the map.
// A tombstone followed by an empty slot is turned back into an empty slot
// (cleanup), keeping chains short: it is marked stClean (no longer
// reusable), its successor is fenced (stFence, an empty slot nobody may
// claim), then it becomes empty and the fence is lifted. Anyone meeting a
// fence finishes that work, so a cleaner that dies stalls nobody.

type table struct {
	seg       *segment.Segment
	al        *alloc.Allocator
	mem       []byte // the whole segment, for bounds-checked record reads
	hdr       *header
	slots     []atomic.Uint64
	ops       *segment.Counters // ctrStores, ctrDeletes; this process's line
	mask      uint64
	obj       uint32 // directory index, named in intent records
	name      string
	seed      uint64
	capacity  int64
	maxRecord uint64
	heapLo    uint64 // lowest offset a record can have
	unguarded bool   // seg.UnguardedReads(): Load runs without the fault guard
	hdrSpan   uint64 // len(mem) - recHdrSize - heapLo: a record header fits at off iff off-heapLo <= hdrSpan
	regSlot   int    // this handle's registry slot and generation, stamped on records
	regGen    uint32
}

// Intent operation codes. Every intent record of this kind holds
// a = slot index, b = the word the writer expected, c = the word it CASes in.
// The pending words a write's slot can hold after c follow from c (the
// next version each), so c names them all (repair.go).
const (
	opReplace = 1 // LIVE(old) -> LIVE|pending(new)
	opDelete  = 2 // LIVE(old) -> DELETING|pending(old) [-> TOMB|pending(old), by a helper]
	opInsert  = 3 // free -> INSERTING(new) -> INSERTING|pending(new) [-> LIVE|pending(new), by a helper]
)

// absent is the error for a key Load found absent: nil, unless the
// segment is lost (closed, or truncated by a peer), when an unguarded Load
// read zeros (segment.UnguardedReads).
func (t *table) absent() error {
	if t.seg.Lost() {
		return t.lost()
	}
	return nil
}

// lost is the error for an operation that finds the segment lost.
func (t *table) lost() error {
	return fmt.Errorf("map %q: %w", t.name, t.seg.LostErr())
}

// full is the error for an insert into a map that holds its capacity.
func (t *table) full() error {
	return fmt.Errorf("%w: map %q holds its capacity of %d keys", ErrFull, t.name, t.capacity)
}

// count returns the Len counter, at most the capacity.
func (t *table) count() int {
	return int(min(countOf(t.hdr.live.Load()), uint64(t.capacity)))
}

func (t *table) corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: map %q: %s", ErrCorrupt, t.name, fmt.Sprintf(format, args...))
}

// readRecord returns the key and value of the record that w points at. ok
// is false when the bytes there cannot be a record; the caller re-checks
// the slot word to tell a record freed meanwhile from corruption. The
// slices alias shared memory and are only valid until that re-check.
func (t *table) readRecord(w uint64) (key, val []byte, ok bool) {
	off := recOff(w)
	kl, val, ok := t.recordAt(off)
	if !ok {
		return nil, nil, false
	}
	return unsafe.Slice(t.keyAt(off), kl), val, true
}

// recordAt reads the header of the record at off in place: its key's
// length and its value bytes (aliasing shared memory). in is false when
// the header, or the key and value it describes, would not lie in the
// heap, or would exceed the map's record limit. It, headerAt, keyAt and
// keyIs are the package's only pointer arithmetic on the mapping: one
// bounds check covers the header, and a second the key and value, where
// slicing t.mem would check each field again.
func (t *table) recordAt(off uint64) (kl int, val []byte, in bool) {
	r := t.headerAt(off)
	if r == nil {
		return 0, nil, false
	}
	k, v := uint64(r.keyLen), uint64(r.valLen)
	if k+v > t.maxRecord || off+recHdrSize+k+v > uint64(len(t.mem)) { // no overflow: off < 2^36, k and v < 2^32
		return 0, nil, false
	}
	return int(k), unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(r), recHdrSize+k)), v), true
}

// headerAt returns the record header at off, or nil when one would not
// lie in the heap.
func (t *table) headerAt(off uint64) *recordHeader {
	if off-t.heapLo > t.hdrSpan { // off < heapLo wraps around
		return nil
	}
	// off is a multiple of 16 (recOff), so the header's words are aligned.
	return (*recordHeader)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(t.mem)), off))
}

// keyAt returns the address of the key of the record at off, which
// recordAt has checked.
func (t *table) keyAt(off uint64) *byte {
	return (*byte)(unsafe.Add(unsafe.Pointer(unsafe.SliceData(t.mem)), off+recHdrSize))
}

// keyIs reports whether the kl key bytes at p (a record's key, which
// recordAt has checked) are k. Keys of 8 to 16 bytes, the common case, are
// compared as two overlapping 8-byte words in place, without the call to
// the runtime's memequal (and the register spills around it).
func keyIs(p *byte, kl int, k string) bool {
	if kl != len(k) {
		return false
	}
	if kl >= 8 && kl <= 16 {
		a, b := unsafe.Pointer(p), unsafe.Pointer(unsafe.StringData(k))
		return word(a) == word(b) && word(unsafe.Add(a, kl-8)) == word(unsafe.Add(b, kl-8))
	}
	return unsafe.String(p, kl) == k
}

// recordOwner returns the registry slot and generation stamped on the
// record w points at.
func (t *table) recordOwner(w uint64) (int, uint32, bool) {
	r := t.headerAt(recOff(w))
	if r == nil {
		return 0, 0, false
	}
	return int(r.ownerSlot), r.ownerGen, true
}

// hashOf hashes a key under seed: a wyhash-style multiply-fold over 8-byte
// words. It must be the same function in every process (a per-process seed
// such as hash/maphash's would not do); the per-map random seed keeps
// collision patterns from carrying over between maps.
//
// Keys of 8 to 16 bytes, the common case, take hashShort: two overlapping
// words and two multiplies, no loop. Other lengths take hashAny. The split
// is part of the layout (version 3): a map's processes must agree.
func hashOf(seed uint64, k string) uint64 {
	if shortKey(k) {
		return hashShort(seed, k)
	}
	return hashAny(seed, k)
}

// shortKey reports whether k hashes with hashShort: 8 to 16 bytes.
func shortKey(k string) bool { return uint(len(k))-8 <= 8 }

// hashShort is hashOf for a short key (shortKey).
func hashShort(seed uint64, k string) uint64 {
	n := len(k)
	p := unsafe.Pointer(unsafe.StringData(k))
	return mix(mix(word(p)^seed^hm1, word(unsafe.Add(p, n-8))^hm2)^uint64(n), hm1)
}

// word reads the 8 bytes at p, which must lie in one Go string or in the
// checked part of the mapping, in host order (any alignment).
func word(p unsafe.Pointer) uint64 { return native.Uint64((*[8]byte)(p)[:]) }

const hm1, hm2 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db

// hashAny is hashOf for keys of any length.
func hashAny(seed uint64, k string) uint64 {
	n := len(k)
	h := seed ^ hm1
	i := 0
	for ; i+16 <= n; i += 16 {
		h = mix(le64(k, i)^hm2^h, le64(k, i+8)^hm1)
	}
	if i+8 <= n {
		h = mix(le64(k, i)^hm2, h^hm1)
		i += 8
	}
	if i < n {
		var v uint64
		for s := 0; i < n; i, s = i+1, s+8 {
			v |= uint64(k[i]) << s
		}
		h = mix(v^hm2, h^hm1)
	}
	return mix(h^uint64(n)^hm1, hm2)
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

func le64(k string, i int) uint64 {
	_ = k[i+7]
	return uint64(k[i]) | uint64(k[i+1])<<8 | uint64(k[i+2])<<16 | uint64(k[i+3])<<24 |
		uint64(k[i+4])<<32 | uint64(k[i+5])<<40 | uint64(k[i+6])<<48 | uint64(k[i+7])<<56
}

func tagOfHash(h uint64) uint8 { return uint8(h >> 56) }

// lookup finds key's live record. It returns its slot, word and value bytes,
// or w == 0 when the key is absent. The caller must re-check the word after
// using val (and start over if it changed).
func lookup(t *table, key string, h uint64) (i, w uint64, val []byte, err error) {
	tag := tagOfHash(h)
restart:
	for {
		i = h & t.mask
		for n := uint64(0); n <= t.mask; n++ {
			w = t.slots[i].Load()
			switch stateOf(w) {
			case stEmpty, stFence:
				return 0, 0, nil, nil
			case stLive:
				if tagOfWord(w) == tag {
					k, v, ok := t.readRecord(w)
					if ok && string(k) == key {
						return i, w, v, nil
					}
					if t.slots[i].Load() != w {
						continue restart
					}
					if !ok {
						return 0, 0, nil, t.corrupt("slot %d points at offset %d, which holds no record", i, recOff(w))
					}
				}
			case stInserting, stTomb, stClean, stDeleting:
			default:
				if t.slots[i].Load() != w {
					continue restart
				}
				return 0, 0, nil, t.corrupt("slot %d has state %d", i, stateOf(w))
			}
			i = (i + 1) & t.mask
		}
		return 0, 0, nil, nil // probed every slot: no empty one, key absent
	}
}

// probe is what findWrite learns about a key's chain.
type probe struct {
	i, w    uint64 // the key's live record, when w != 0
	free    uint64 // first reusable slot of the chain, when hasFree
	freeW   uint64
	hasFree bool
}

// findWrite probes key's chain for its live record and the first reusable
// slot. It finishes any cleanup it meets (a fence) and starts over.
func findWrite(t *table, key string, h uint64) (probe, error) {
	tag := tagOfHash(h)
restart:
	for {
		var p probe
		i := h & t.mask
		for n := uint64(0); n <= t.mask; n++ {
			w := t.slots[i].Load()
			switch stateOf(w) {
			case stEmpty:
				if !p.hasFree {
					p.free, p.freeW, p.hasFree = i, w, true
				}
				return p, nil
			case stFence:
				t.helpFence(i, w)
				continue restart
			case stTomb:
				if !pending(w) && !p.hasFree {
					p.free, p.freeW, p.hasFree = i, w, true
				}
			case stLive:
				if tagOfWord(w) == tag {
					k, _, ok := t.readRecord(w)
					if ok && string(k) == key {
						p.i, p.w = i, w
						return p, nil
					}
					if t.slots[i].Load() != w {
						continue restart
					}
					if !ok {
						return p, t.corrupt("slot %d points at offset %d, which holds no record", i, recOff(w))
					}
				}
			case stInserting, stClean, stDeleting:
			default:
				if t.slots[i].Load() != w {
					continue restart
				}
				return p, t.corrupt("slot %d has state %d", i, stateOf(w))
			}
			i = (i + 1) & t.mask
		}
		return p, nil
	}
}

// Outcomes of settle.
const (
	claimReserved = iota // our claim is now INSERTING|pending: it holds the key
	claimCollided        // the key has a live record elsewhere; our claim is gone
	claimLost            // an earlier or reserved claim of the key wins (wait for slot j to change from wj); ours is gone
	claimRetry           // our claim is gone (killed, or the chain broke); start over
)

// settle runs steps 2-4 of an insert (see the top of this file) for our
// claim wi at slot i. On claimReserved, wj is our reserved word.
func settle(t *table, key string, h, i, wi uint64) (res int, j, wj uint64) {
	home := h & t.mask
	di := (i - home) & t.mask
	tag := tagOfHash(h)
	yield := func() {
		if t.slots[i].CompareAndSwap(wi, next(wi, stTomb, false, 0, 0)) {
			t.cleanup(i)
		}
	}
	// Step 2: the chain between home and i must be unbroken.
	for d := di; d > 0; d-- {
		if st := stateOf(t.slots[(home+d-1)&t.mask].Load()); st == stEmpty || st == stFence {
			yield()
			return claimRetry, 0, 0
		}
	}
	// Step 3: other records and claims of the key.
	budget := 4*t.mask + 64 // re-examinations of slots that change under us
	for d := uint64(0); d <= t.mask; d++ {
		j := (home + d) & t.mask
		if j == i {
			continue
		}
		w := t.slots[j].Load()
		st := stateOf(w)
		if st == stEmpty || st == stFence {
			break
		}
		if (st != stLive && st != stInserting) || tagOfWord(w) != tag {
			continue
		}
		k, _, ok := t.readRecord(w)
		same := ok && string(k) == key
		if t.slots[j].Load() != w {
			if budget == 0 {
				yield()
				return claimRetry, 0, 0
			}
			budget--
			d-- // changed while we compared: look again
			continue
		}
		if !same {
			continue
		}
		if st == stLive {
			yield()
			return claimCollided, j, w
		}
		if pending(w) || d < di { // a reserved claim, or one nearer home
			yield()
			return claimLost, j, w
		}
		if !t.slots[j].CompareAndSwap(w, next(w, stTomb, false, 0, 0)) {
			if budget == 0 {
				yield()
				return claimRetry, 0, 0
			}
			budget--
			d--
			continue
		}
		t.cleanup(j)
	}
	// Step 4.
	rw := next(wi, stInserting, true, recOff(wi), tag)
	if t.slots[i].CompareAndSwap(wi, rw) {
		return claimReserved, i, rw
	}
	return claimRetry, 0, 0 // killed by a claim nearer home
}

// cleanup turns the tombstone at i into an empty slot if the slot after it
// is empty, and goes on backwards while that keeps working.
func (t *table) cleanup(i uint64) {
	for n := uint64(0); n <= t.mask; n++ {
		j := (i + 1) & t.mask
		if stateOf(t.slots[j].Load()) != stEmpty {
			return
		}
		wi := t.slots[i].Load()
		if stateOf(wi) != stTomb || pending(wi) {
			return
		}
		cw := next(wi, stClean, false, 0, 0)
		if !t.slots[i].CompareAndSwap(wi, cw) {
			return
		}
		if !t.finishClean(i, cw) {
			return
		}
		i = (i - 1) & t.mask
	}
}

// finishClean fences the slot after i and turns i, marked stClean with
// word cw, into an empty slot. It reports whether i became empty; if the
// successor is no longer empty, i goes back to being a tombstone.
func (t *table) finishClean(i, cw uint64) bool {
	j := (i + 1) & t.mask
	wj := t.slots[j].Load()
	if stateOf(wj) != stEmpty {
		t.slots[i].CompareAndSwap(cw, next(cw, stTomb, false, 0, 0))
		return false
	}
	// The fence records which stClean word it guards (its version), so a
	// helper never empties a slot that was marked again after the fence went.
	fw := makeWord(stFence, false, (versionOf(cw)&offMask)*16, 0, versionOf(wj)+1)
	if !t.slots[j].CompareAndSwap(wj, fw) {
		t.slots[i].CompareAndSwap(cw, next(cw, stTomb, false, 0, 0))
		return false
	}
	ok := t.slots[i].CompareAndSwap(cw, next(cw, stEmpty, false, 0, 0))
	t.slots[j].CompareAndSwap(fw, next(fw, stEmpty, false, 0, 0))
	return ok
}

// helpFence finishes the cleanup a fence fw at j stands for: the slot
// before j, if still marked with the word the fence names, becomes empty,
// and the fence is lifted.
func (t *table) helpFence(j, fw uint64) {
	i := (j - 1) & t.mask
	wi := t.slots[i].Load()
	if stateOf(wi) == stClean && versionOf(wi)&offMask == recOff(fw)/16 {
		t.slots[i].CompareAndSwap(wi, next(wi, stEmpty, false, 0, 0))
	}
	t.slots[j].CompareAndSwap(fw, next(fw, stEmpty, false, 0, 0))
}

// await waits until slot i no longer holds w, a claim or a pending word
// whose writer has a few instructions left. A writer that died is repaired
// through segment.Recover; a word that stays put with no live writer is
// corruption.
func (t *table) await(i, w uint64) error {
	dead := 0
	for spin := 0; ; spin++ {
		if t.slots[i].Load() != w {
			return nil
		}
		if spin < 100 {
			runtime.Gosched()
			continue
		}
		slot, gen, ok := t.recordOwner(w)
		if ok && t.seg.Alive(slot, gen) {
			// The record's writer lives, but the process holding this
			// pending word may be another one (a deleter stamps nothing
			// of its own into the word) and may be dead. Recovery finds
			// dead processes by their registry locks, whoever they are,
			// so running it now and then bounds the wait on a dead
			// deleter to a fraction of a second.
			if spin%256 == 0 {
				t.seg.Recover()
				// Every writer holds an intent naming this slot for as
				// long as its word is pending. None at all, with the word
				// unchanged, means no writer made it: corrupt memory
				// (one flipped bit), not an operation to wait for.
				if !t.seg.HasIntent(segment.KindHashMap, t.obj, i) && t.slots[i].Load() == w {
					return t.corrupt("slot %d is pending (%#x) but no process has a write to it in flight", i, w)
				}
			}
			time.Sleep(time.Duration(min(spin, 1000)) * time.Microsecond)
			continue
		}
		// The owner is dead (or the word names no record: garbage). One
		// recovery normally settles it; a few more tries cover a recovery
		// that another process is running at the moment. Anything still
		// there after that (about 55 ms) is corruption: a garbage word
		// that no recovery will change, reported as such rather than
		// waited on (it was 50 tries, about 1.3 s).
		limit := 10
		if !ok {
			limit = 2 // no record at all: no writer made this word
		}
		if dead++; dead > limit {
			if t.slots[i].Load() != w {
				return nil
			}
			return t.corrupt("slot %d stays %#x, whose writer (slot %d gen %d) is gone", i, w, slot, gen)
		}
		t.seg.Recover()
		time.Sleep(time.Duration(dead) * time.Millisecond)
	}
}

// maxFullWaits bounds the waits of an insert that finds the map full
// (mutate): fullYields yields to other goroutines first, whatever is in
// flight, then, while deletes are in flight, sleeps: about 1 ms in all, with
// one recovery halfway for a deleter that died between its CAS and
// lowering the counter.
const (
	maxFullWaits = 32
	fullYields   = 8
)

// waitForRoom is the n-th wait (from 1) of such an insert: a yield (an
// in-process writer preempted between its counter and its CAS), then
// sleeps of n µs (a deleter in another process).
func waitForRoom(seg *segment.Segment, n int) {
	switch {
	case n <= fullYields:
		runtime.Gosched()
	case n == maxFullWaits/2:
		seg.Recover()
	default:
		time.Sleep(time.Duration(n) * time.Microsecond)
	}
}

// countChange changes the count in the live word by delta (+1 for an
// insert whose claim in slot i is reserved, -1 for a delete whose slot i
// holds stDeleting) and marks the word with slot i, in one CAS: the mark
// tells a repairer that the change landed (repair.go). It returns the word
// it wrote. An increase is refused, changing nothing, while the count is
// the capacity. Before it replaces another write's mark it helps that
// write (help).
func (t *table) countChange(i uint64, delta int) (uint64, bool) {
	for {
		g := t.hdr.live.Load()
		if m := markOf(g); m != 0 {
			t.help(g, m-1)
		}
		c := countOf(g)
		switch {
		case delta > 0 && c >= uint64(t.capacity):
			return g, false
		case delta > 0:
			c++
		case c > 0: // a counter of 0 under a key being deleted is corrupt: leave it
			c--
		}
		ng := liveWord(c, i, true)
		if t.hdr.live.CompareAndSwap(g, ng) {
			return ng, true
		}
	}
}

// help is what a writer does before it replaces the live word g, which
// marks slot j: it raises the high-water mark to g's count, and if slot j
// still holds an uncounted word while g still marks j, it moves the slot to
// the counted word, as the marked write itself does next (markCounted). The
// word is the marked write's, not a later write's: a write takes its mark
// off before its slot can change hands (unmark).
func (t *table) help(g, j uint64) {
	t.raiseHighWater(g)
	if j > t.mask {
		return // a corrupt mark: the CAS that replaces it is all the help it gets
	}
	w := t.slots[j].Load()
	if !uncounted(w) || t.hdr.live.Load() != g {
		return
	}
	t.slots[j].CompareAndSwap(w, countedWord(w))
}

// raiseHighWater raises the high-water mark to the count in the live word
// g, reading it first, so that it costs a load when there is nothing to
// raise (almost always).
func (t *table) raiseHighWater(g uint64) {
	if c := countOf(g); c > t.hdr.highWater.Load() {
		segment.Max(&t.hdr.highWater, c)
	}
}

// uncounted reports whether w is the word of a write that has still to
// change the count, or has changed it without recording so in its slot: a
// reserved claim or a deleted key.
func uncounted(w uint64) bool {
	st := stateOf(w)
	return pending(w) && (st == stInserting || st == stDeleting)
}

// countedWord returns the word that follows the uncounted word w once the
// count is changed: the claim promoted (stLive|pending), or the deleted
// key's tombstone (stTomb|pending).
func countedWord(w uint64) uint64 {
	if stateOf(w) == stInserting {
		return next(w, stLive, true, recOff(w), tagOfWord(w))
	}
	return next(w, stTomb, true, recOff(w), 0)
}

// markCounted records in slot i that its write, whose uncounted word is
// w, changed the count: it moves the slot to the counted word, unless a
// helper did, and returns that word.
func (t *table) markCounted(i, w uint64) uint64 {
	cw := countedWord(w)
	t.slots[i].CompareAndSwap(w, cw) // fails only if help did the same
	if testHook != nil {
		if stateOf(w) == stInserting {
			testHook(hkInsertPromoted)
		} else {
			testHook(hkDeleteMarked)
		}
	}
	return cw
}

// unmark takes the mark off the live word g that its write wrote
// (countChange), once markCounted has recorded the change in the write's
// slot, unless another write has replaced it meanwhile. It raises the
// high-water mark first, as whoever replaces a mark does (help). The load
// spares a CAS that would fail.
func (t *table) unmark(g uint64) {
	t.raiseHighWater(g)
	if t.hdr.live.Load() == g {
		t.hdr.live.CompareAndSwap(g, g&countMask)
	}
}

// finish completes a write whose word pw (LIVE|pending or TOMB|pending)
// landed in slot i, its Len counter change (if any) made: it publishes the
// new record (LIVE), clears the pending bit, and frees the record it
// displaced (old, 0 if none). The owner calls it, or the repair of a dead
// owner; nobody else changes such a word, so the block cannot be anything
// but ours while we publish it. It reports whether it cleared the bit (and
// so did the rest).
//
// The owner (owner true) clears the bit with a release store: while it
// lives nobody else writes the word, and the locked add that counts the
// write below orders the store before its later loads. A repairer CASes,
// since a second repair may race it.
func (t *table) finish(i, pw, old uint64, owner bool) bool {
	if old != 0 {
		// Owned again before the pending bit goes, which drops the last
		// reference to it: a death between that and the free below then
		// leaves a block of a dead attachment, which recovery frees, not a
		// published one nobody can reach. An error means it was adopted
		// already (a dead owner's step repeated) or is not a block.
		t.al.Adopt(segment.Offset(old))
	}
	if stateOf(pw) == stLive {
		// An error means a dead owner had published it already.
		t.al.Publish(segment.Offset(recOff(pw)))
		if testHook != nil {
			testHook(hkPublished)
		}
		if !t.clearPending(i, pw, pw&^pendingBit, owner) {
			return false
		}
	} else {
		if !t.clearPending(i, pw, next(pw, stTomb, false, 0, 0), owner) {
			return false
		}
		if testHook != nil {
			testHook(hkTombCleared)
		}
	}
	if stateOf(pw) == stLive {
		t.ops.Add(ctrStores, 1)
	} else {
		t.ops.Add(ctrDeletes, 1)
	}
	if testHook != nil {
		testHook(hkCleared)
	}
	// A death between the CAS above and this free leaves the old record
	// owned by a dead attachment (adopted above): recovery frees it.
	if old != 0 {
		t.al.Free(segment.Offset(old))
	}
	if testHook != nil {
		testHook(hkFreed)
	}
	if stateOf(pw) == stTomb {
		t.cleanup(i)
	}
	return true
}

// clearPending replaces the pending word pw of slot i with nw: see finish.
func (t *table) clearPending(i, pw, nw uint64, owner bool) bool {
	if owner {
		segment.StoreRelease(&t.slots[i], nw)
		return true
	}
	return t.slots[i].CompareAndSwap(pw, nw)
}

// Hook points in the write path, where a test can stop (and SIGKILL) a
// writer in each state a crash can leave. testHook is nil outside tests
// (export_test.go sets it), so each point costs one predictable branch.
const (
	hkReplaceBuilt   = iota + 1 // replace: record built, intent taken, CAS not yet tried
	hkReplaceLinked             // replace: CAS landed (LIVE|pending new), nothing published
	hkDeleteLinked              // delete: CAS landed (DELETING|pending old), Len not yet lowered
	hkInsertReserved            // insert: claim reserved (INSERTING|pending new), Len not yet raised
	hkInsertClaimed             // insert: claim landed (INSERTING new)
	hkInsertPromoted            // insert: Len raised and recorded (LIVE|pending new), live word still marked
	hkPublished                 // finish: new record published, pending still set
	hkTombCleared               // finish of a delete: pending cleared, not yet counted in Deletes
	hkCleared                   // finish: pending cleared and the write counted, displaced record not yet freed
	hkFreed                     // finish: displaced record freed, intent not yet ended
	hkCounted                   // insert or delete: Len changed and the live word marked, slot not yet told
	hkDeleteMarked              // delete: Len lowered and recorded (TOMB|pending old), live word still marked
	hkInsertLost                // insert: lost to a claim of its key, intent ended, about to wait for it
	hkRepairCounted             // repair of a dead deleter: Len lowered for it, slot not yet told
	hkInsertFull                // insert: Len refused (full), reserved claim not yet given back
	hkRepairYielded             // repair of a dead inserter: its claim yielded, not yet cleaned up
)

var testHook func(point int)
