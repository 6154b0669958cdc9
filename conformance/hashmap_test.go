package conformance_test

import (
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"golang.org/x/sys/unix"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/conformance/harness"
	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/segment"
)

// Hash map conformance: processes doing a random mix of every operation on
// a small shared key set, recording each call's invocation and return
// times (CLOCK_MONOTONIC, comparable across processes on one host); the
// parent checks each key's history for linearizability with porcupine.
// Then the same with writers SIGKILLed at random: values stay whole, and
// recovery reclaims what the dead left.

const (
	hmSegSize = 16 << 20
	hmKeys    = 8
)

func init() {
	harness.Register("hashmap-mix", hashmapMix)
}

// hmOp is one completed call, as a child records it.
type hmOp struct {
	Op       string // store load loadorstore loadanddelete delete swap cas cad
	Key      string
	Arg, Old string // value argument, CAS/CAD old value
	Out      string // value returned
	Ok       bool   // loaded / swapped / deleted / found
	Call     int64
	Ret      int64
}

func monoNow() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// hmValue is what writer w stores as its seq-th value: self-checking, so a
// torn or mixed value is detected.
func hmValue(key string, w, seq int) string {
	s := fmt.Sprintf("%s/%d/%d", key, w, seq)
	return fmt.Sprintf("%s/%08x", s, crc32.ChecksumIEEE([]byte(s)))
}

func hmValid(key, v string) bool {
	i := strings.LastIndexByte(v, '/')
	if i < 0 {
		return false
	}
	body := v[:i]
	return strings.HasPrefix(body, key+"/") && fmt.Sprintf("%08x", crc32.ChecksumIEEE([]byte(body))) == v[i+1:]
}

func openHM(c *harness.Child) (*segment.Segment, *hashmap.Map[string, string], error) {
	seg, err := segment.Open(c.Seg)
	if err != nil {
		return nil, nil, err
	}
	m, err := hashmap.Open[string, string](seg, "hm")
	if err != nil {
		seg.Close()
		return nil, nil, err
	}
	return seg, m, nil
}

func hashmapMix(c *harness.Child) error {
	seg, m, err := openHM(c)
	if err != nil {
		return err
	}
	defer seg.Close()
	c.WaitStart()
	rng := rand.New(rand.NewPCG(uint64(c.Index), uint64(time.Now().UnixNano())))
	ops, every := c.IntArg("ops"), max(c.IntArg("every"), 1)
	var hist []hmOp
	record := c.Arg("record") == "1"
	writesOnly := c.Arg("writes") == "1" // no Loads: a kill lands mid-write more often
	// Writes-only runs reuse a few precomputed values per key, so the
	// children spend their time inside map writes, not formatting values.
	var pre [hmKeys][16]string
	if writesOnly {
		for ki := range hmKeys {
			for j := range pre[ki] {
				pre[ki][j] = hmValue("k"+strconv.Itoa(ki), c.Index, j)
			}
		}
	}
	for seq := range ops {
		ki := rng.IntN(hmKeys)
		k := "k" + strconv.Itoa(ki)
		var v string
		if writesOnly {
			v = pre[ki][seq%16]
		} else {
			v = hmValue(k, c.Index, seq)
		}
		o := hmOp{Key: k, Arg: v}
		var err error
		op := rng.IntN(8)
		for writesOnly && op == 1 {
			op = rng.IntN(8)
		}
		// An old value for CAS/CAD: usually the current one, sometimes not.
		var old string
		if writesOnly {
			old = pre[ki][rng.IntN(16)]
		} else {
			old = hmValue(k, rng.IntN(8), rng.IntN(max(seq, 1)))
		}
		if rng.IntN(4) != 0 && (!writesOnly || op >= 6) {
			cur, _, _ := m.Load(k)
			old = cur
		}
		o.Call = monoNow()
		switch op {
		case 0:
			o.Op = "store"
			err = m.Store(k, v)
		case 1:
			o.Op = "load"
			o.Out, o.Ok, err = m.Load(k)
		case 2:
			o.Op = "loadorstore"
			o.Out, o.Ok, err = m.LoadOrStore(k, v)
		case 3:
			o.Op = "loadanddelete"
			o.Out, o.Ok, err = m.LoadAndDelete(k)
		case 4:
			o.Op = "delete"
			err = m.Delete(k)
		case 5:
			o.Op = "swap"
			o.Out, o.Ok, err = m.Swap(k, v)
		case 6:
			o.Op, o.Old = "cas", old
			o.Ok, err = m.CompareAndSwap(k, old, v)
		case 7:
			o.Op, o.Old = "cad", old
			o.Ok, err = m.CompareAndDelete(k, old)
		}
		o.Ret = monoNow()
		if err != nil {
			return fmt.Errorf("%s %s: %w", o.Op, k, err)
		}
		if o.Out != "" && !hmValid(k, o.Out) {
			return fmt.Errorf("%s %s returned a torn or foreign value %q", o.Op, k, o.Out)
		}
		if record {
			hist = append(hist, o)
		}
		if seq%every == 0 {
			c.Progress(seq)
		}
	}
	if record {
		c.Report(hist)
	} else {
		c.Report(ops)
	}
	return nil
}

// hmState is the model of one key.
type hmState struct {
	Present bool
	Val     string
}

var hmModel = porcupine.Model{
	Init: func() interface{} { return hmState{} },
	Step: func(state, input, output interface{}) (bool, interface{}) {
		s, o := state.(hmState), input.(hmOp)
		switch o.Op {
		case "store":
			return true, hmState{true, o.Arg}
		case "load":
			return o.Ok == s.Present && (!s.Present || o.Out == s.Val), s
		case "loadorstore":
			if s.Present {
				return o.Ok && o.Out == s.Val, s
			}
			return !o.Ok && o.Out == o.Arg, hmState{true, o.Arg}
		case "loadanddelete":
			return o.Ok == s.Present && (!s.Present || o.Out == s.Val), hmState{}
		case "delete":
			return true, hmState{}
		case "swap":
			return o.Ok == s.Present && (!s.Present || o.Out == s.Val), hmState{true, o.Arg}
		case "cas":
			if s.Present && s.Val == o.Old {
				return o.Ok, hmState{true, o.Arg}
			}
			return !o.Ok, s
		case "cad":
			if s.Present && s.Val == o.Old {
				return o.Ok, hmState{}
			}
			return !o.Ok, s
		}
		return false, s
	},
	DescribeOperation: func(input, output interface{}) string {
		o := input.(hmOp)
		return fmt.Sprintf("%s(%s, %q, old %q) -> %q %v", o.Op, o.Key, o.Arg, o.Old, o.Out, o.Ok)
	},
}

func newHMSeg(t *testing.T) (string, *segment.Segment, *hashmap.Map[string, string]) {
	t.Helper()
	name := harness.SegmentName(t)
	seg, err := segment.Create(name, hmSegSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Close() })
	m, err := hashmap.New[string, string](seg, "hm", hashmap.MaxEntries(64))
	if err != nil {
		t.Fatal(err)
	}
	return name, seg, m
}

// TestHashMapLinearizable: 8 processes, random operations on 8 shared keys;
// each key's history, closed by a final Load per key, must be linearizable.
func TestHashMapLinearizable(t *testing.T) {
	name, _, m := newHMSeg(t)
	ops := 400
	if testing.Short() {
		ops = 100
	}
	g := harness.Start(t, "hashmap-mix", name, 8, harness.Args{"ops": strconv.Itoa(ops), "record": "1"})
	outs := harness.MustSucceed(t, g.Wait())
	perKey := map[string][]porcupine.Operation{}
	for _, o := range outs {
		var hist []hmOp
		harness.Decode(t, o.Result, &hist)
		for _, h := range hist {
			perKey[h.Key] = append(perKey[h.Key], porcupine.Operation{ClientId: o.Index, Input: h, Call: h.Call, Output: nil, Return: h.Ret})
		}
	}
	for i := range hmKeys {
		k := "k" + strconv.Itoa(i)
		o := hmOp{Op: "load", Key: k, Call: monoNow()}
		var err error
		o.Out, o.Ok, err = m.Load(k)
		o.Ret = monoNow()
		if err != nil {
			t.Fatal(err)
		}
		perKey[k] = append(perKey[k], porcupine.Operation{ClientId: 100, Input: o, Call: o.Call, Return: o.Ret})
	}
	for k, hist := range perKey {
		res := porcupine.CheckOperationsTimeout(hmModel, hist, 20*time.Second)
		switch res {
		case porcupine.Ok:
		case porcupine.Unknown:
			t.Logf("key %s: linearizability check timed out (%d ops)", k, len(hist))
		default:
			t.Errorf("key %s: history of %d operations is not linearizable", k, len(hist))
		}
	}
	if st := m.Stats(); st.InFlight != 0 || st.Live != st.Counter {
		t.Errorf("at rest: %+v", st)
	}
}

// TestHashMapKill: 12 processes doing writes only, 9 of them SIGKILLed at
// moments spread over the run. Survivors must finish; afterwards every key
// holds a whole value some process wrote, and recovery (by survivors that
// met a dead writer's slot, then by the parent) leaves no record of the dead
// unreclaimed. Stats.Repaired counts the dead writers' slots that a repair
// completed or undid; the test logs it.
func TestHashMapKill(t *testing.T) {
	name, seg, m := newHMSeg(t)
	a, err := alloc.Of(seg)
	if err != nil {
		t.Fatal(err)
	}
	procs, ops, kills := 12, 150000, 9 // children run for seconds, so every kill lands mid-run
	if testing.Short() {
		procs, ops, kills = 8, 50000, 4
	}
	g := harness.Start(t, "hashmap-mix", name, procs, harness.Args{"ops": strconv.Itoa(ops), "every": "1000", "writes": "1"})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	// Wait until every child has made progress, then spread the kills.
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		started := 0
		for i := range procs {
			if g.Progress(i) != nil || g.Exited(i) {
				started++
			}
		}
		if started == procs {
			break
		}
	}
	g.KillRandom(rng, kills, time.Duration(kills)*150*time.Millisecond, nil)
	outs := harness.MustSucceed(t, g.Wait())
	for _, o := range outs {
		if o.Killed {
			continue
		}
		var n int
		harness.Decode(t, o.Result, &n)
		if n != ops {
			t.Errorf("survivor %d finished %d of %d operations", o.Index, n, ops)
		}
	}
	killed := 0
	for _, o := range outs {
		if o.Killed {
			killed++
			t.Logf("child %d killed after %s of %d operations", o.Index, o.Progress, ops)
		}
	}
	before := m.Stats()
	rep, err := seg.Recover()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %d; slots in flight before the final recovery %d; recovery: %+v", killed, before.InFlight, rep)
	for k, v := range m.All() {
		if !hmValid(k, v) {
			t.Errorf("key %s holds torn or foreign value %q", k, v)
		}
	}
	st := m.Stats()
	if st.InFlight != 0 {
		t.Errorf("after recovery: %+v", st)
	}
	as := a.Stats()
	inUse := as.Allocs - as.Frees
	want := uint64(1 + st.Live) // the map's block and its live records
	chk := a.Check()
	t.Logf("map %+v; alloc: %d blocks in use, want %d; check: owned %d published %d problems %v", st, inUse, want, chk.Owned, chk.Published, chk.Problems)
	if chk.Owned != 0 {
		t.Errorf("%d blocks still owned by dead processes", chk.Owned)
	}
	// A writer killed between its acknowledging CAS and the free of the
	// record it displaced leaks that record (doc.go, Caveats): at most one
	// per kill, and rare.
	switch {
	case inUse < want:
		t.Errorf("blocks in use %d < %d: a live record was freed", inUse, want)
	case inUse > want+uint64(killed):
		t.Errorf("blocks in use %d, want %d (+ at most %d leaked in the documented window)", inUse, want, killed)
	case inUse > want:
		t.Logf("%d record(s) leaked in the documented window", inUse-want)
	}
	if st.Live != st.Counter {
		t.Logf("Len counter %d, live %d (drift from killed writers)", st.Counter, st.Live)
	}
	t.Logf("repairs of dead writers' slots: %d (by survivors %d, by the final recovery %d); dead writers' intents in flight at the final recovery %d",
		st.Repaired, before.Repaired, st.Repaired-before.Repaired, rep.Intents)
	// Not asserted: on a loaded machine a SIGKILL mostly finds a writer
	// descheduled outside its few-instruction write window, so whether any
	// repair runs is chance (hashmap's TestRepair covers each state
	// deterministically).
}

func init() {
	harness.Register("bench-hashmap", benchHashMap)
}

const hmBenchKeys = 10000

func hmBenchKey(i int) string { return fmt.Sprintf("key-%012d", i) } // 16 bytes

// benchHashMap runs n operations on map "bench" (mode "load": Loads only;
// "mix": 90% Load, 10% Store) over 10k 16-byte keys and reports the
// nanoseconds taken.
func benchHashMap(c *harness.Child) error {
	seg, err := segment.Open(c.Seg)
	if err != nil {
		return err
	}
	defer seg.Close()
	m, err := hashmap.Open[string, int64](seg, "bench")
	if err != nil {
		return err
	}
	keys := make([]string, hmBenchKeys)
	for i := range keys {
		keys[i] = hmBenchKey(i)
	}
	n, mix := c.IntArg("n"), c.Arg("mode") == "mix"
	i := c.Index * 7919
	c.WaitStart()
	start := time.Now()
	for range n {
		k := keys[(i*31)%hmBenchKeys]
		if mix && i%10 == 0 {
			if err := m.Store(k, int64(i)); err != nil {
				return err
			}
		} else if v, _, err := m.Load(k); err != nil {
			return err
		} else if v < 0 {
			sink.Add(1)
		}
		i++
	}
	c.Report(time.Since(start).Nanoseconds())
	return nil
}

// BenchmarkHashMapProcs: P processes each run b.N/P operations on one
// shared map of 10k 16-byte keys, Loads only or a 90/10 Load/Store mix.
// ns/op is 0; wall-ns/op is wall time per operation across all processes
// (the slowest process's time divided by all operations), beside an
// uncontended atomic add timed in the same run (x-atomic-add). Process
// start-up is not timed.
//
//	go test -run '^$' -bench HashMapProcs -count 5 .
func BenchmarkHashMapProcs(b *testing.B) {
	for _, mode := range []string{"load", "mix"} {
		for _, procs := range benchProcs() {
			b.Run(fmt.Sprintf("%s/P=%d", mode, procs), func(b *testing.B) {
				floor := atomicAddNs()
				name := harness.SegmentName(b)
				seg, err := segment.Create(name, 16<<20)
				if err != nil {
					b.Fatal(err)
				}
				defer seg.Close()
				m, err := hashmap.New[string, int64](seg, "bench", hashmap.MaxEntries(hmBenchKeys))
				if err != nil {
					b.Fatal(err)
				}
				for i := range hmBenchKeys {
					if err := m.Store(hmBenchKey(i), int64(i)); err != nil {
						b.Fatal(err)
					}
				}
				per := max(b.N/procs, 200_000) // tiny runs measure start-up and page faults
				g := harness.Start(b, "bench-hashmap", name, procs, harness.Args{"n": fmt.Sprint(per), "mode": mode})
				outs := harness.MustSucceed(b, g.Wait())
				var slowest int64
				for _, o := range outs {
					var ns int64
					harness.Decode(b, o.Result, &ns)
					slowest = max(slowest, ns)
				}
				b.StopTimer()
				perOp := float64(slowest) / float64(per*procs)
				b.ReportMetric(0, "ns/op")
				b.ReportMetric(perOp, "wall-ns/op")
				b.ReportMetric(floor, "atomic-ns/op")
				b.ReportMetric(perOp/floor, "x-atomic-add")
			})
		}
	}
}
