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
	for seq := range ops {
		k := "k" + strconv.Itoa(rng.IntN(hmKeys))
		v := hmValue(k, c.Index, seq)
		o := hmOp{Key: k, Arg: v}
		var err error
		// An old value for CAS/CAD: usually the current one, sometimes not.
		old := hmValue(k, rng.IntN(8), rng.IntN(max(seq, 1)))
		if rng.IntN(4) != 0 {
			cur, _, _ := m.Load(k)
			old = cur
		}
		o.Call = monoNow()
		switch rng.IntN(8) {
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

// TestHashMapKill: writers are SIGKILLed at random. Survivors must finish;
// afterwards every key holds a whole value some process wrote, and
// recovery leaves no record of the dead unreclaimed.
func TestHashMapKill(t *testing.T) {
	name, seg, m := newHMSeg(t)
	a, err := alloc.Of(seg)
	if err != nil {
		t.Fatal(err)
	}
	ops, kills := 200000, 6 // children run for seconds, so every kill lands mid-run
	if testing.Short() {
		ops, kills = 50000, 3
	}
	g := harness.Start(t, "hashmap-mix", name, 8, harness.Args{"ops": strconv.Itoa(ops), "every": "1000"})
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	g.KillRandom(rng, kills, 300*time.Millisecond+time.Duration(kills)*150*time.Millisecond, nil)
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
		}
	}
	rep, err := seg.Recover()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("killed %d; recovery: %+v", killed, rep)
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
}
