package conformance_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/array"
	"github.com/posixshm/posixshm/bitset"
	"github.com/posixshm/posixshm/conformance/harness"
	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/stack"
)

// The soak's worker processes. Each runs one role for one "lineage" (a
// logical worker that the supervisor restarts after every kill) until the
// deadline in its arguments. A worker streams its acknowledged state as
// harness progress: before an operation whose outcome the supervisor must
// model exactly (map writes, bit claims), it announces it (In=true); after
// it returns, it acknowledges it. A worker killed in between leaves the
// announcement as its last progress, so the supervisor knows the one
// operation whose effect is uncertain. Counted operations (pushes, pops,
// adds) are acknowledged after they return, so a killed worker may have
// done at most one operation more than it acknowledged.
//
// A restarted lineage receives its predecessor's last progress ("prev") and
// first checks it against the segment: map keys hold the acknowledged value
// or the announced one, counters the acknowledged count or one more, owned
// bits are still set. Any other state is an error, which fails the soak.

func init() {
	harness.Register("soak-qprod", soakQueueProducer)
	harness.Register("soak-qcons", soakQueueConsumer)
	harness.Register("soak-stack", soakStackWorker)
	harness.Register("soak-mapw", soakMapWriter)
	harness.Register("soak-mapr", soakMapReader)
	harness.Register("soak-bits", soakBitClaimer)
	harness.Register("soak-count", soakCounter)
	harness.Register("soak-obits", soakOwnedClaimer)
	harness.Register("soak-alloc", soakAllocator)
}

const (
	soakSegSize  = 64 << 20
	soakQCap     = 256
	soakSCap     = 256
	soakMapKeys  = 16 // keys per map-writer lineage
	soakBits     = 1024
	soakOwnBits  = 64 // bits of the bitset with owners: few, so claimers meet
	soakMaxOwned = 24 // bits a claimer holds at most
	soakLineages = 4  // upper bound on lineages of one role (item encoding)
)

// soakProg is every role's progress and final report; each role fills the
// fields it needs.
type soakProg struct {
	Ops   uint64 `json:"o"`           // operations completed, this incarnation
	Polls uint64 `json:"p,omitempty"` // ErrFull / ErrEmpty / wait timeouts
	MaxNs int64  `json:"m"`           // longest single operation, this incarnation
	MaxOp string `json:"mo,omitempty"`

	Pushed uint64 `json:"pu,omitempty"` // acknowledged pushes, this incarnation
	Popped uint64 `json:"po,omitempty"` // acknowledged pops, this incarnation
	Seq    uint64 `json:"s,omitempty"`  // highest sequence number used, lineage-wide

	Model []uint64 `json:"md,omitempty"` // map writer: seq stored per key, 0 = absent
	Owned []int    `json:"ow,omitempty"` // bit claimer: bits it owns
	Count uint64   `json:"c,omitempty"`  // counter: acknowledged value of its slot

	In    bool   `json:"in,omitempty"` // an announced operation is in flight
	InKey int    `json:"ik,omitempty"` // its key (map) or bit (bits)
	InSeq uint64 `json:"is,omitempty"` // map: seq being stored, 0 = delete; bits: 1 = claim, 0 = release

	Bad string `json:"bad,omitempty"` // a violated invariant seen by the worker
}

// soakWorker holds what every role shares: segment, deadline, progress.
type soakWorker struct {
	c       *harness.Child
	seg     *segment.Segment
	lineage int
	until   time.Time
	prev    *soakProg
	p       soakProg
	rng     *rand.Rand
	lastOut time.Time
}

func soakStartWorker(c *harness.Child) (*soakWorker, error) {
	seg, err := segment.Open(c.Seg)
	if err != nil {
		return nil, err
	}
	w := &soakWorker{
		c: c, seg: seg, lineage: c.IntArg("lineage"),
		until: time.Unix(0, int64(c.IntArg("until"))),
		rng:   rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), uint64(c.IntArg("lineage")))),
	}
	if s := c.Arg("prev"); s != "" {
		w.prev = new(soakProg)
		if err := json.Unmarshal([]byte(s), w.prev); err != nil {
			return nil, fmt.Errorf("bad prev: %v", err)
		}
	}
	return w, nil
}

// timed records how long one operation took.
func (w *soakWorker) timed(op string, t0 time.Time) {
	w.p.Ops++
	if d := time.Since(t0).Nanoseconds(); d > w.p.MaxNs {
		w.p.MaxNs, w.p.MaxOp = d, op
	}
}

// emit sends progress: always when force, else as a heartbeat every 20ms
// so the supervisor's watchdog sees a live worker.
func (w *soakWorker) emit(force bool) {
	if force || time.Since(w.lastOut) > 20*time.Millisecond {
		w.c.Progress(&w.p)
		w.lastOut = time.Now()
	}
}

func (w *soakWorker) finish() error {
	w.emit(true)
	w.c.Report(&w.p)
	return w.seg.Close()
}

func (w *soakWorker) running() bool { return time.Now().Before(w.until) }

// soakPause yields after a full or empty structure.
func soakPause() { time.Sleep(50 * time.Microsecond) }

// Queue items carry their producer lineage, a sequence number and a padding
// derived from both, so a consumer detects a torn or foreign item; their
// length varies from 16 to 215 bytes, so most spill past the 48-byte slot
// into allocator blocks.
func soakItem(lineage int, seq uint64) []byte {
	n := 16 + int(seq*37%200)
	b := make([]byte, n)
	binary.LittleEndian.PutUint64(b, uint64(lineage))
	binary.LittleEndian.PutUint64(b[8:], seq)
	for i := 16; i < n; i++ {
		b[i] = byte(seq) + byte(i) + byte(lineage)
	}
	return b
}

func soakParseItem(b []byte) (lineage int, seq uint64, err error) {
	if len(b) < 16 {
		return 0, 0, fmt.Errorf("item of %d bytes", len(b))
	}
	lineage, seq = int(binary.LittleEndian.Uint64(b)), binary.LittleEndian.Uint64(b[8:])
	if lineage < 0 || lineage >= soakLineages || seq == 0 {
		return 0, 0, fmt.Errorf("item from lineage %d seq %d", lineage, seq)
	}
	want := soakItem(lineage, seq)
	if string(want) != string(b) {
		return 0, 0, fmt.Errorf("item lineage %d seq %d: %d bytes, body differs from what was pushed", lineage, seq, len(b))
	}
	return lineage, seq, nil
}

func soakQueueProducer(c *harness.Child) error {
	w, err := soakStartWorker(c)
	if err != nil {
		return err
	}
	q, err := queue.Open[[]byte](w.seg, "soak-q")
	if err != nil {
		return err
	}
	seq := uint64(1)
	if w.prev != nil {
		// prev.Seq was acknowledged; prev.Seq+1 may have landed unacknowledged.
		seq = w.prev.Seq + 2
	}
	w.p.Seq = seq - 1
	w.emit(true)
	for w.running() {
		v := soakItem(w.lineage, seq)
		w.p.In = true // a push in flight: killed now, it may or may not have landed
		w.emit(true)
		t0 := time.Now()
		err := q.Push(v)
		w.p.In = false
		switch {
		case err == nil:
			w.timed("queue.Push", t0)
			w.p.Pushed++
			w.p.Seq = seq
			seq++
			w.emit(true)
		case errors.Is(err, queue.ErrFull):
			w.p.Polls++
			w.emit(true)
			soakPause()
		default:
			return fmt.Errorf("queue.Push: %w", err)
		}
	}
	return w.finish()
}

func soakQueueConsumer(c *harness.Child) error {
	w, err := soakStartWorker(c)
	if err != nil {
		return err
	}
	q, err := queue.Open[[]byte](w.seg, "soak-q")
	if err != nil {
		return err
	}
	last := map[int]uint64{}
	w.emit(true)
	for n := 0; w.running(); n++ {
		var v []byte
		var err error
		w.p.In = true // a pop in flight: killed now, its item may be the library's (Lost) or ours
		w.emit(true)
		t0 := time.Now()
		waited := n%16 == 0
		if waited {
			// Exercise the futex path too; its time is not an operation's.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			v, err = q.PopWait(ctx)
			cancel()
		} else {
			v, err = q.Pop()
		}
		w.p.In = false
		switch {
		case err == nil:
			if !waited {
				w.timed("queue.Pop", t0)
			} else {
				w.p.Ops++
			}
			w.p.Popped++
			l, s, perr := soakParseItem(v)
			if perr != nil {
				return fmt.Errorf("queue.Pop: %v", perr)
			}
			if s <= last[l] {
				return fmt.Errorf("queue.Pop: lineage %d seq %d after seq %d: per-producer order broken", l, s, last[l])
			}
			last[l] = s
			w.emit(true)
		case errors.Is(err, queue.ErrEmpty), errors.Is(err, context.DeadlineExceeded):
			w.p.Polls++
			w.emit(true)
			if !waited {
				soakPause()
			}
		default:
			return fmt.Errorf("queue.Pop: %w", err)
		}
	}
	return w.finish()
}

// soakStackWorker pushes and pops at random. Items are lineage<<40 | seq.
func soakStackWorker(c *harness.Child) error {
	w, err := soakStartWorker(c)
	if err != nil {
		return err
	}
	s, err := stack.Open[uint64](w.seg, "soak-s")
	if err != nil {
		return err
	}
	seq := uint64(1)
	if w.prev != nil {
		seq = w.prev.Seq + 2
	}
	w.p.Seq = seq - 1
	w.emit(true)
	for w.running() {
		if w.rng.IntN(2) == 0 {
			w.p.In, w.p.InSeq = true, 1 // a push in flight
			w.emit(true)
			t0 := time.Now()
			err := s.Push(uint64(w.lineage)<<40 | seq)
			w.p.In = false
			switch {
			case err == nil:
				w.timed("stack.Push", t0)
				w.p.Pushed++
				w.p.Seq = seq
				seq++
				w.emit(true)
			case errors.Is(err, stack.ErrFull):
				w.p.Polls++
				w.emit(true)
			default:
				return fmt.Errorf("stack.Push: %w", err)
			}
			continue
		}
		w.p.In, w.p.InSeq = true, 0 // a pop in flight
		w.emit(true)
		t0 := time.Now()
		v, err := s.Pop()
		w.p.In = false
		switch {
		case err == nil:
			w.timed("stack.Pop", t0)
			w.p.Popped++
			if l := v >> 40; l >= soakLineages || v&(1<<40-1) == 0 {
				return fmt.Errorf("stack.Pop: item %#x was never pushed", v)
			}
			w.emit(true)
		case errors.Is(err, stack.ErrEmpty):
			w.p.Polls++
			w.emit(true)
		default:
			return fmt.Errorf("stack.Pop: %w", err)
		}
	}
	return w.finish()
}

// Map keys are "w<lineage>-<k>", owned by one writer lineage each; values
// are soakItem(lineage, seq) with k folded into the sequence's high bits.
func soakKey(lineage, k int) string { return "w" + strconv.Itoa(lineage) + "-" + strconv.Itoa(k) }

func soakParseKey(key string) (lineage, k int, ok bool) {
	a, b, found := strings.Cut(strings.TrimPrefix(key, "w"), "-")
	if !found || !strings.HasPrefix(key, "w") {
		return 0, 0, false
	}
	l, err1 := strconv.Atoi(a)
	k, err2 := strconv.Atoi(b)
	return l, k, err1 == nil && err2 == nil && l >= 0 && l < soakLineages && k >= 0 && k < soakMapKeys
}

// soakMapValue is the value lineage stores under key k at seq.
func soakMapValue(lineage, k int, seq uint64) []byte {
	return soakItem(lineage, uint64(k)<<48|seq)
}

// soakCheckValue validates a value read under key and returns its seq.
func soakCheckValue(key string, v []byte) (uint64, error) {
	l, k, ok := soakParseKey(key)
	if !ok {
		return 0, fmt.Errorf("map holds unknown key %q", key)
	}
	vl, s, err := soakParseItem(v)
	if err != nil {
		return 0, fmt.Errorf("key %q: %v", key, err)
	}
	if vl != l || int(s>>48) != k || s&(1<<48-1) == 0 {
		return 0, fmt.Errorf("key %q holds a value written for lineage %d key %d", key, vl, s>>48)
	}
	return s & (1<<48 - 1), nil
}

func soakMapWriter(c *harness.Child) error {
	w, err := soakStartWorker(c)
	if err != nil {
		return err
	}
	m, err := hashmap.Open[string, []byte](w.seg, "soak-m")
	if err != nil {
		return err
	}
	// Adopt what the map holds, after checking it against the predecessor.
	w.p.Model = make([]uint64, soakMapKeys)
	for k := range soakMapKeys {
		key := soakKey(w.lineage, k)
		v, ok, err := m.Load(key)
		if err != nil {
			return fmt.Errorf("map.Load(%q) at restart: %w", key, err)
		}
		var got uint64
		if ok {
			if got, err = soakCheckValue(key, v); err != nil {
				return err
			}
		}
		if w.prev != nil && len(w.prev.Model) == soakMapKeys {
			want := w.prev.Model[k]
			if got != want && !(w.prev.In && w.prev.InKey == k && got == w.prev.InSeq) {
				return fmt.Errorf("restart: key %q holds seq %d; the dead writer acknowledged %d (in flight: %v key %d seq %d)", key, got, want, w.prev.In, w.prev.InKey, w.prev.InSeq)
			}
		}
		w.p.Model[k] = got
	}
	seq := uint64(1)
	if w.prev != nil {
		seq = w.prev.Seq + 1
	}
	w.p.Seq = seq - 1
	w.emit(true)
	for w.running() {
		k := w.rng.IntN(soakMapKeys)
		key := soakKey(w.lineage, k)
		del := w.rng.IntN(8) == 0
		w.p.In, w.p.InKey, w.p.InSeq, w.p.Seq = true, k, seq, seq
		if del {
			w.p.InSeq = 0
		}
		w.emit(true)
		t0 := time.Now()
		if del {
			if err := m.Delete(key); err != nil {
				return fmt.Errorf("map.Delete(%q): %w", key, err)
			}
			w.timed("map.Delete", t0)
		} else {
			if err := m.Store(key, soakMapValue(w.lineage, k, seq)); err != nil {
				return fmt.Errorf("map.Store(%q): %w", key, err)
			}
			w.timed("map.Store", t0)
		}
		w.p.Model[k] = w.p.InSeq
		w.p.In = false
		seq++
		w.emit(true)
	}
	return w.finish()
}

func soakMapReader(c *harness.Child) error {
	w, err := soakStartWorker(c)
	if err != nil {
		return err
	}
	m, err := hashmap.Open[string, []byte](w.seg, "soak-m")
	if err != nil {
		return err
	}
	writers := c.IntArg("writers")
	w.emit(true)
	for n := 0; w.running(); n++ {
		if n%500 == 0 {
			t0 := time.Now()
			for key, v := range m.All() {
				if _, err := soakCheckValue(key, v); err != nil {
					return fmt.Errorf("map.All: %v", err)
				}
			}
			w.timed("map.All", t0)
			continue
		}
		key := soakKey(w.rng.IntN(writers), w.rng.IntN(soakMapKeys))
		t0 := time.Now()
		v, ok, err := m.Load(key)
		if err != nil {
			return fmt.Errorf("map.Load(%q): %w", key, err)
		}
		w.timed("map.Load", t0)
		if ok {
			if _, err := soakCheckValue(key, v); err != nil {
				return fmt.Errorf("map.Load: %v", err)
			}
		}
		w.emit(false)
	}
	return w.finish()
}

// soakBitClaimer claims random bits of a shared bitset with TestAndSet
// (owning those it found clear) and releases owned ones with TestAndClear,
// which must find them still set: no other claimer may take an owned bit.
func soakBitClaimer(c *harness.Child) error {
	w, err := soakStartWorker(c)
	if err != nil {
		return err
	}
	b, err := bitset.Open(w.seg, "soak-b")
	if err != nil {
		return err
	}
	if w.prev != nil {
		for _, bit := range w.prev.Owned {
			if w.prev.In && bit == w.prev.InKey {
				continue // uncertain: the supervisor counts it as leaked
			}
			if !b.Test(bit) {
				return fmt.Errorf("restart: bit %d, owned by the dead claimer, is clear", bit)
			}
			w.p.Owned = append(w.p.Owned, bit)
		}
	}
	w.emit(true)
	for w.running() {
		if len(w.p.Owned) < soakMaxOwned && (len(w.p.Owned) == 0 || w.rng.IntN(2) == 0) {
			bit := w.rng.IntN(soakBits)
			w.p.In, w.p.InKey, w.p.InSeq = true, bit, 1
			w.emit(true)
			t0 := time.Now()
			was := b.TestAndSet(bit)
			w.timed("bitset.TestAndSet", t0)
			if !was {
				w.p.Owned = append(w.p.Owned, bit)
			}
		} else {
			i := w.rng.IntN(len(w.p.Owned))
			bit := w.p.Owned[i]
			w.p.In, w.p.InKey, w.p.InSeq = true, bit, 0
			w.emit(true)
			t0 := time.Now()
			was := b.TestAndClear(bit)
			w.timed("bitset.TestAndClear", t0)
			if !was {
				return fmt.Errorf("bit %d, owned by lineage %d, was already clear: another claimer took it", bit, w.lineage)
			}
			w.p.Owned[i] = w.p.Owned[len(w.p.Owned)-1]
			w.p.Owned = w.p.Owned[:len(w.p.Owned)-1]
		}
		w.p.In = false
		w.emit(true)
	}
	return w.finish()
}

// soakOwnedClaimer claims and releases bits of a bitset with owners
// (ClaimAnyOwned, ReleaseOwned). Recovery releases a dead incarnation's
// bits, so a restarted one starts with none; the supervisor checks after
// every kill that no bit is owned by a dead attachment. At the deadline it
// releases what it holds, so that a closed handle leaves no bits behind.
func soakOwnedClaimer(c *harness.Child) error {
	w, err := soakStartWorker(c)
	if err != nil {
		return err
	}
	b, err := bitset.Open(w.seg, "soak-ob")
	if err != nil {
		return err
	}
	w.emit(true)
	for w.running() {
		t0 := time.Now()
		if len(w.p.Owned) < soakMaxOwned && (len(w.p.Owned) == 0 || w.rng.IntN(2) == 0) {
			bit, err := b.ClaimAnyOwned()
			w.timed("bitset.ClaimAnyOwned", t0)
			switch {
			case errors.Is(err, bitset.ErrFull):
				w.p.Polls++
				soakPause()
			case err != nil:
				return err
			default:
				w.p.Owned = append(w.p.Owned, bit)
			}
		} else {
			i := w.rng.IntN(len(w.p.Owned))
			if err := b.ReleaseOwned(w.p.Owned[i]); err != nil {
				return fmt.Errorf("release of bit %d, owned by lineage %d: %w", w.p.Owned[i], w.lineage, err)
			}
			w.timed("bitset.ReleaseOwned", t0)
			w.p.Owned[i] = w.p.Owned[len(w.p.Owned)-1]
			w.p.Owned = w.p.Owned[:len(w.p.Owned)-1]
		}
		w.emit(false)
	}
	for _, bit := range w.p.Owned {
		if err := b.ReleaseOwned(bit); err != nil {
			return fmt.Errorf("release of bit %d at the deadline: %w", bit, err)
		}
	}
	w.p.Owned = nil
	return w.finish()
}

// soakAllocator allocates blocks of random sizes, from 16 bytes to 70 KB
// (log-uniform, so every small class and the first large ones), holds up
// to 200 and frees them at random: the long mix of sizes that would
// fragment a heap whose memory never left its size class. It never
// publishes, so a killed incarnation's blocks are recovery's to free.
func soakAllocator(c *harness.Child) error {
	w, err := soakStartWorker(c)
	if err != nil {
		return err
	}
	al, err := alloc.Of(w.seg)
	if err != nil {
		return err
	}
	var held []segment.Offset
	w.emit(true)
	for w.running() {
		t0 := time.Now()
		if len(held) < 200 && (len(held) == 0 || w.rng.IntN(2) == 0) {
			n := uint64(16) << w.rng.IntN(13)   // 16 B to 64 KiB ...
			n += uint64(w.rng.Int64N(int64(n))) // ... and anything between
			off, err := al.Alloc(n)
			w.timed("alloc.Alloc", t0)
			if errors.Is(err, alloc.ErrOutOfMemory) {
				w.p.Polls++
				continue
			}
			if err != nil {
				return err
			}
			held = append(held, off)
		} else {
			i := w.rng.IntN(len(held))
			if err := al.Free(held[i]); err != nil {
				return err
			}
			w.timed("alloc.Free", t0)
			held[i] = held[len(held)-1]
			held = held[:len(held)-1]
		}
		w.emit(false)
	}
	for _, off := range held {
		if err := al.Free(off); err != nil {
			return err
		}
	}
	return w.finish()
}

// soakCounter adds 1 to its own slot of a shared array, then to the shared
// last slot. Its slot's value is exact after every restart (adopted from
// the array after checking it against the predecessor's count).
func soakCounter(c *harness.Child) error {
	w, err := soakStartWorker(c)
	if err != nil {
		return err
	}
	a, err := array.Open[uint64](w.seg, "soak-a")
	if err != nil {
		return err
	}
	shared := a.Len() - 1
	got := a.Load(w.lineage)
	if w.prev != nil && got != w.prev.Count && got != w.prev.Count+1 {
		return fmt.Errorf("restart: counter %d is %d; the dead worker acknowledged %d", w.lineage, got, w.prev.Count)
	}
	w.p.Count = got
	w.emit(true)
	for w.running() {
		t0 := time.Now()
		a.Add(w.lineage, 1)
		a.Add(shared, 1)
		w.timed("array.Add", t0)
		w.p.Count++
		w.emit(true)
	}
	return w.finish()
}
