package conformance_test

import (
	"context"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"testing"
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

// The corruption campaign: random byte flips in live segment memory (the
// directory, the registry, heap metadata, structure headers, cells and
// records), then every operation of every structure, through the handles
// that were open when the bytes changed and through fresh attaches. Each
// operation must return, with a value or an error: a panic is a bug, and an
// operation still running after the watchdog deadline is a hang, which
// stops the campaign (its goroutine cannot be taken back). Cases are
// reproducible: case i of seed S flips the same bytes every time
// (-corrupt.seed, -corrupt.case).
var (
	corruptDurationFlag = flag.Duration("corrupt.duration", 0, "length of TestCorruptionCampaign (default 10s, 4s with -short; or $CORRUPT_DURATION)")
	corruptSeedFlag     = flag.Uint64("corrupt.seed", 0, "campaign seed (default: from the clock)")
	corruptCaseFlag     = flag.Int("corrupt.case", -1, "run only this case of -corrupt.seed")
)

const (
	corruptSegSize = 1 << 20
	corruptHang    = 3 * time.Second // an op running longer is a hang (the machine is shared and loaded)
)

var corruptRegions = []string{"directory", "registry", "heap-meta", "struct-header", "cells", "header"}

// corruptGeometry is where each region lies, read from the segment header
// (offsets pinned by segment/layout_test.go) and the directory.
type corruptGeometry struct {
	ranges map[string][][2]uint64 // region -> [start, end) ranges
}

func corruptLayout(t *testing.T, mem []byte, seg *segment.Segment) corruptGeometry {
	le := binary.NativeEndian
	dirOff, regOff, heapOff := le.Uint64(mem[48:]), le.Uint64(mem[64:]), le.Uint64(mem[80:])
	g := corruptGeometry{ranges: map[string][][2]uint64{
		"header":    {{0, 128}},
		"directory": {{dirOff, regOff}},
		"registry":  {{regOff, heapOff}},
		// The allocator's header and chunk table; block headers are added below.
		"heap-meta": {{heapOff, heapOff + 64 + 64*64 + 4*64}},
	}}
	for _, o := range seg.Objects() {
		off, n := uint64(o.Offset), o.Size
		hdr := min(n, 128)
		g.ranges["heap-meta"] = append(g.ranges["heap-meta"], [2]uint64{off - 16, off})
		g.ranges["struct-header"] = append(g.ranges["struct-header"], [2]uint64{off, off + hdr})
		if n > hdr {
			g.ranges["cells"] = append(g.ranges["cells"], [2]uint64{off + hdr, off + n})
		}
	}
	// Spilled queue items and map records live in blocks past the objects.
	_, heapSize := seg.Heap()
	g.ranges["cells"] = append(g.ranges["cells"], [2]uint64{heapOff + heapSize/2, heapOff + heapSize})
	return g
}

// corruptFlip changes 1-8 bytes of one region at random.
func corruptFlip(rng *rand.Rand, mem []byte, g corruptGeometry, region string) []string {
	rs := g.ranges[region]
	var what []string
	for range 1 + rng.IntN(8) {
		r := rs[rng.IntN(len(rs))]
		at := r[0] + rng.Uint64N(r[1]-r[0])
		old := mem[at]
		switch rng.IntN(4) {
		case 0:
			mem[at] ^= 1 << rng.IntN(8)
		case 1:
			mem[at] = 0xff
		case 2:
			mem[at] = 0
		default:
			mem[at] = byte(rng.Uint32())
		}
		what = append(what, fmt.Sprintf("@%d %#x->%#x", at, old, mem[at]))
	}
	return what
}

// corruptOutcomes counts what operations did, by region and outcome.
type corruptOutcomes struct {
	cases   map[string]int
	byRegn  map[string]map[string]int
	samples map[string]string // outcome -> one full message
	panics  []string
}

func (c *corruptOutcomes) add(region, outcome, sample string) {
	if c.byRegn[region] == nil {
		c.byRegn[region] = map[string]int{}
	}
	c.byRegn[region][outcome]++
	if _, ok := c.samples[outcome]; !ok && sample != "" {
		c.samples[outcome] = sample
	}
}

var corruptDigits = regexp.MustCompile(`[0-9]+`)

// corruptKind names an error by the sentinel it wraps.
func corruptKind(err error) string {
	kinds := []struct {
		name string
		err  error
	}{
		{"ErrTruncated", segment.ErrTruncated}, {"ErrCorrupt", segment.ErrCorrupt}, {"ErrMismatch", segment.ErrMismatch},
		{"ErrNotFound", segment.ErrNotFound}, {"ErrVersion", segment.ErrVersion}, {"ErrForeign", segment.ErrForeign},
		{"ErrBusy", segment.ErrBusy}, {"ErrClosed", segment.ErrClosed}, {"ErrRegistryFull", segment.ErrRegistryFull},
		{"ErrDirectoryFull", segment.ErrDirectoryFull}, {"ErrNotReady", segment.ErrNotReady},
		{"queue.ErrFull", queue.ErrFull}, {"queue.ErrEmpty", queue.ErrEmpty},
		{"stack.ErrFull", stack.ErrFull}, {"stack.ErrEmpty", stack.ErrEmpty},
		{"hashmap.ErrFull", hashmap.ErrFull}, {"alloc.ErrOutOfMemory", alloc.ErrOutOfMemory},
		{"alloc.ErrInvalidFree", alloc.ErrInvalidFree}, {"alloc.ErrTooLarge", alloc.ErrTooLarge},
		{"ctx.Deadline", context.DeadlineExceeded},
	}
	for _, k := range kinds {
		if errors.Is(err, k.err) {
			return "err:" + k.name
		}
	}
	msg := err.Error()
	if len(msg) > 70 {
		msg = msg[:70]
	}
	return "err:other(" + corruptDigits.ReplaceAllString(msg, "N") + ")"
}

// corruptRunner runs operations, each in a goroutine of its own under a
// watchdog.
type corruptRunner struct{}

// corruptOp is one operation; it returns an error or nil.
type corruptOp struct {
	name string
	fn   func() error
}

func corruptPopulate(seg *segment.Segment) error {
	q, err := queue.New[[]byte](seg, "cq", queue.Capacity(16), queue.SlotSize(16))
	if err != nil {
		return err
	}
	st, err := stack.New[uint64](seg, "cs", stack.Capacity(16))
	if err != nil {
		return err
	}
	m, err := hashmap.New[string, []byte](seg, "cm", hashmap.MaxEntries(16))
	if err != nil {
		return err
	}
	b, err := bitset.New(seg, "cb", 300)
	if err != nil {
		return err
	}
	a, err := array.New[int64](seg, "ca", 20)
	if err != nil {
		return err
	}
	for i := range 6 {
		q.Push(make([]byte, 4+i*20))
		st.Push(uint64(i))
		m.Store("k"+strconv.Itoa(i), make([]byte, 4+i*30))
		b.Set(i * 37)
		a.Store(i, int64(i))
	}
	m.Delete("k0") // a tombstone
	return nil
}

// corruptOps lists every operation of every structure on seg. Handles are
// opened now; an attach that fails is itself an outcome.
func corruptOps(seg *segment.Segment, rng *rand.Rand, prefix string) []corruptOp {
	var ops []corruptOp
	add := func(name string, fn func() error) { ops = append(ops, corruptOp{prefix + name, fn}) }
	ctx := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.Background(), 2*time.Millisecond)
	}
	if q, err := queue.Open[[]byte](seg, "cq"); err != nil {
		add("queue.Open", func() error { return err })
	} else {
		add("queue.Push", func() error { return q.Push([]byte("x")) })
		add("queue.Push(spill)", func() error { return q.Push(make([]byte, 90)) })
		add("queue.Pop", func() error { _, err := q.Pop(); return err })
		add("queue.PopBatch", func() error { _, err := q.PopBatch(make([][]byte, 4)); return err })
		add("queue.PushBatch", func() error { _, err := q.PushBatch([][]byte{{1}, make([]byte, 40)}); return err })
		add("queue.PopFunc", func() error { return q.PopFunc(func([]byte) error { return nil }) })
		add("queue.PushFunc", func() error { return q.PushFunc(30, func([]byte) {}) })
		add("queue.PopWait", func() error { c, cancel := ctx(); defer cancel(); _, err := q.PopWait(c); return err })
		add("queue.PushWait", func() error { c, cancel := ctx(); defer cancel(); return q.PushWait(c, []byte("y")) })
		add("queue.Len", func() error { q.Len(); q.Cap(); q.Empty(); q.Full(); return nil })
		add("queue.Stats", func() error { q.Stats(); return nil })
		add("queue.Snapshot", func() error { _, err := q.Snapshot(32); return err })
		add("queue.Drain", func() error {
			n := 0
			for range q.Drain() {
				if n++; n > 64 {
					break
				}
			}
			return nil
		})
	}
	add("queue.Inspect", func() error { _, err := queue.Inspect(seg, "cq"); return err })
	add("queue.Items", func() error { _, err := queue.Items(seg, "cq", 32); return err })
	add("queue.RepairCells", func() error { _, err := queue.RepairCells(seg, "cq"); return err })
	add("queue.Check", func() error {
		if o, err := seg.Lookup("cq"); err == nil {
			queue.Check(seg, o)
		}
		return nil
	})
	if st, err := stack.Open[uint64](seg, "cs"); err != nil {
		add("stack.Open", func() error { return err })
	} else {
		add("stack.Push", func() error { return st.Push(7) })
		add("stack.Pop", func() error { _, err := st.Pop(); return err })
		add("stack.Peek", func() error { _, err := st.Peek(); return err })
		add("stack.Len", func() error { st.Len(); st.Cap(); st.Stats(); return nil })
		add("stack.Snapshot", func() error { _, err := st.Snapshot(32); return err })
	}
	add("stack.Inspect", func() error { _, err := stack.Inspect(seg, "cs"); return err })
	add("stack.Items", func() error { _, err := stack.Items(seg, "cs", 32); return err })
	add("stack.RepairCells", func() error { _, err := stack.RepairCells(seg, "cs"); return err })
	add("stack.Check", func() error {
		if o, err := seg.Lookup("cs"); err == nil {
			stack.Check(seg, o)
		}
		return nil
	})
	if m, err := hashmap.Open[string, []byte](seg, "cm"); err != nil {
		add("hashmap.Open", func() error { return err })
	} else {
		k := func() string { return "k" + strconv.Itoa(rng.IntN(8)) }
		add("hashmap.Load", func() error { _, _, err := m.Load(k()); return err })
		add("hashmap.All", func() error {
			n := 0
			for range m.All() {
				if n++; n > 64 {
					break
				}
			}
			return nil
		})
		add("hashmap.Len", func() error { m.Len(); m.Cap(); m.Stats(); return nil })
	}
	if m, err := hashmap.Open[string, []byte](seg, "cm"); err == nil && corruptHashmapWrites {
		k := func() string { return "k" + strconv.Itoa(rng.IntN(8)) }
		add("hashmap.Store", func() error { return m.Store(k(), make([]byte, rng.IntN(120))) })
		add("hashmap.Delete", func() error { return m.Delete(k()) })
		add("hashmap.LoadOrStore", func() error { _, _, err := m.LoadOrStore(k(), []byte("v")); return err })
		add("hashmap.LoadAndDelete", func() error { _, _, err := m.LoadAndDelete(k()); return err })
		add("hashmap.Swap", func() error { _, _, err := m.Swap(k(), []byte("w")); return err })
		add("hashmap.CompareAndSwap", func() error { _, err := m.CompareAndSwap(k(), []byte("w"), []byte("z")); return err })
		add("hashmap.CompareAndDelete", func() error { _, err := m.CompareAndDelete(k(), []byte("z")); return err })
		add("hashmap.Clear", func() error { return m.Clear() })
	}
	if b, err := bitset.Open(seg, "cb"); err != nil {
		add("bitset.Open", func() error { return err })
	} else {
		i := rng.IntN(b.Len())
		add("bitset.Word", func() error {
			b.Set(i)
			b.Test(i)
			b.Flip(i)
			b.TestAndSet(i)
			b.TestAndClear(i)
			b.Clear(i)
			return nil
		})
		add("bitset.Bulk", func() error {
			b.Count()
			b.Any()
			b.All()
			b.None()
			b.NextSet(0)
			b.NextClear(0)
			return nil
		})
		add("bitset.Ones", func() error {
			for range b.Ones() {
			}
			return nil
		})
		add("bitset.Or", func() error { return b.Or(b) })
		add("bitset.Xor", func() error { return b.Xor(b) })
		add("bitset.SetAll", func() error { b.SetAll(); b.ClearAll(); return nil })
	}
	if a, err := array.Open[int64](seg, "ca"); err != nil {
		add("array.Open", func() error { return err })
	} else {
		i := rng.IntN(a.Len())
		add("array.Word", func() error {
			a.Add(i, 1)
			a.Load(i)
			a.Store(i, 2)
			a.Swap(i, 3)
			a.CompareAndSwap(i, 3, 4)
			return nil
		})
		add("array.Bulk", func() error {
			buf := make([]int64, a.Len())
			a.CopyTo(buf)
			a.CopyFrom(buf)
			for range a.All() {
			}
			_ = a.Slice()
			return nil
		})
	}
	if al, err := alloc.Of(seg); err != nil {
		add("alloc.Of", func() error { return err })
	} else {
		add("alloc.Alloc+Free", func() error {
			off, err := al.Alloc(uint64(rng.IntN(3000)))
			if err != nil {
				return err
			}
			if err := al.Publish(off); err != nil {
				return err
			}
			return al.Free(off)
		})
		heapOff, heapSize := seg.Heap()
		add("alloc.Free(random)", func() error { return al.Free(heapOff + segment.Offset(rng.Uint64N(heapSize))) })
		add("alloc.UsableSize", func() error { _, err := al.UsableSize(heapOff + segment.Offset(rng.Uint64N(heapSize))); return err })
		add("alloc.Stats+Check", func() error { al.Stats(); al.Check(); return nil })
		add("alloc.ReclaimDead", func() error { _, err := al.ReclaimDead(); return err })
	}
	add("segment.Lookup", func() error { _, err := seg.Lookup("cm"); return err })
	add("segment.Objects", func() error { seg.Objects(); seg.Processes(); return nil })
	add("segment.Stats", func() error { _, err := seg.Stats(); return err })
	add("segment.Recover", func() error { _, err := seg.Recover(); return err })
	return ops
}

func corruptDuration(t *testing.T) time.Duration {
	return runLength(t, *corruptDurationFlag, "CORRUPT_DURATION", 10*time.Second, 4*time.Second)
}

func TestCorruptionCampaign(t *testing.T) {
	d := corruptDuration(t)
	seed := *corruptSeedFlag
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	name := harness.SegmentName(t)
	creator, err := segment.Create(name, corruptSegSize)
	if err != nil {
		t.Fatal(err)
	}
	defer creator.Close()
	if err := corruptPopulate(creator); err != nil {
		t.Fatal(err)
	}
	mem, err := creator.Bytes(0, uint64(creator.Size()))
	if err != nil {
		t.Fatal(err)
	}
	snapshot := append([]byte(nil), mem...)
	geo := corruptLayout(t, mem, creator)

	out := &corruptOutcomes{cases: map[string]int{}, byRegn: map[string]map[string]int{}, samples: map[string]string{}}
	var r corruptRunner
	ops := 0
	var slowest time.Duration
	var slowestOp string
	end := time.Now().Add(d)
	first, last := 0, 1<<62
	if *corruptCaseFlag >= 0 {
		first, last = *corruptCaseFlag, *corruptCaseFlag
	}
	for c := first; c <= last && (time.Now().Before(end) || *corruptCaseFlag >= 0); c++ {
		rng := rand.New(rand.NewPCG(seed, uint64(c)))
		region := corruptRegions[rng.IntN(len(corruptRegions))]
		copy(mem, snapshot)
		// A fresh attachment per case: a panic inside an operation may
		// leave this handle's intent records taken.
		seg, err := segment.Open(name)
		if err != nil {
			t.Fatalf("case %d: open the restored segment: %v", c, err)
		}
		before := corruptOps(seg, rng, "")
		flips := corruptFlip(rng, mem, geo, region)
		out.cases[region]++
		after := corruptOps(seg, rng, "fresh ")
		hung := false
		for _, op := range append(before, after...) {
			t0 := time.Now()
			outcome, msg := r.run(op)
			if d := time.Since(t0); d > slowest {
				slowest, slowestOp = d, fmt.Sprintf("%s (case %d, %s, %s)", op.name, c, region, outcome)
			}
			ops++
			out.add(region, outcome, msg)
			if outcome == "panic" {
				out.panics = append(out.panics, fmt.Sprintf("seed %d case %d (%s, %s) %s: %s", seed, c, region, strings.Join(flips, " "), op.name, msg))
			}
			if outcome == "hang" {
				t.Log(msg)
				t.Errorf("HANG: %s still running after %v: seed %d case %d, region %s, flips %v (reproduce: go test -run TestCorruptionCampaign -corrupt.seed %d -corrupt.case %d)", op.name, corruptHang, seed, c, region, flips, seed, c)
				hung = true
				break
			}
		}
		if hung {
			break
		}
		seg.Close()
	}
	copy(mem, snapshot)

	// Summary.
	var lines []string
	total := 0
	for _, n := range out.cases {
		total += n
	}
	lines = append(lines, fmt.Sprintf("corruption campaign: seed %d, %v, %d cases, %d operations; slowest operation %v: %s", seed, d, total, ops, slowest.Round(time.Millisecond), slowestOp))
	for _, region := range corruptRegions {
		var parts []string
		for o, n := range out.byRegn[region] {
			parts = append(parts, fmt.Sprintf("%s %d", o, n))
		}
		sort.Strings(parts)
		lines = append(lines, fmt.Sprintf("  %-13s %5d cases: %s", region, out.cases[region], strings.Join(parts, ", ")))
	}
	for _, p := range out.panics {
		if len(lines) > 60 {
			break
		}
		lines = append(lines, "  PANIC "+p)
	}
	summary := strings.Join(lines, "\n")
	t.Log("\n" + summary)
	if f := os.Getenv("CORRUPT_SUMMARY"); f != "" {
		os.WriteFile(f, []byte(summary+"\n"), 0o644)
	}
	if len(out.panics) > 0 {
		t.Errorf("%d operations panicked on corrupt shared memory (see the summary)", len(out.panics))
	}
}

// run runs op in a goroutine of its own with faults turned into panics, and
// reports its outcome: "ok", "err:<kind>", "panic" or "hang".
func (r *corruptRunner) run(op corruptOp) (outcome, msg string) {
	type result struct{ outcome, msg string }
	done := make(chan result, 1)
	go func() {
		debug.SetPanicOnFault(true)
		defer func() {
			if p := recover(); p != nil {
				stack := string(debug.Stack())
				if i := strings.Index(stack, "panic("); i >= 0 {
					stack = stack[i:]
				}
				if len(stack) > 1500 {
					stack = stack[:1500]
				}
				done <- result{"panic", fmt.Sprintf("%v\n%s", p, stack)}
			}
		}()
		if err := op.fn(); err != nil {
			done <- result{corruptKind(err), op.name + ": " + err.Error()}
			return
		}
		done <- result{"ok", ""}
	}()
	select {
	case res := <-done:
		return res.outcome, res.msg
	case <-time.After(corruptHang):
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		var hung []string
		for _, g := range strings.Split(string(buf), "\n\n") {
			if strings.Contains(g, "corruptRunner).run.func1") {
				hung = append(hung, g)
			}
		}
		return "hang", op.name + "\n" + strings.Join(hung, "\n\n")
	}
}
