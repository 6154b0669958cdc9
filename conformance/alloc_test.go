package conformance_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/conformance/harness"
	"github.com/posixshm/posixshm/segment"
)

func init() {
	harness.Register("alloc-churn", allocChurn)
	harness.Register("alloc-hold", allocHold)
}

type churnResult struct {
	Allocs, Frees int
}

// allocChurn allocates and frees random sizes for a while, stamping every
// block with (child, serial) and re-checking the stamp before freeing it: two
// processes handed overlapping blocks would overwrite each other's stamps.
func allocChurn(c *harness.Child) error {
	seg, err := segment.Open(c.Seg)
	if err != nil {
		return err
	}
	defer seg.Close()
	a, err := alloc.Of(seg)
	if err != nil {
		return err
	}
	type held struct {
		off    segment.Offset
		n      uint64
		serial uint64
	}
	rng := rand.New(rand.NewPCG(uint64(c.Index), uint64(time.Now().UnixNano())))
	var mine []held
	var r churnResult
	stamp := func(h held) (word uint64) { return uint64(c.Index)<<48 | h.serial }
	check := func(h held) error {
		b, err := seg.Bytes(h.off, h.n)
		if err != nil {
			return err
		}
		for i := uint64(0); i+8 <= h.n; i += 8 {
			if got := binary.LittleEndian.Uint64(b[i:]); got != stamp(h)+i {
				return fmt.Errorf("block %d (%d bytes) word %d: %#x, want %#x: overwritten by another allocation", h.off, h.n, i/8, got, stamp(h)+i)
			}
		}
		return nil
	}
	deadline := time.Now().Add(time.Duration(c.IntArg("ms")) * time.Millisecond)
	for serial := uint64(1); time.Now().Before(deadline); serial++ {
		if len(mine) > 0 && (rng.IntN(2) == 0 || len(mine) >= 200) {
			k := rng.IntN(len(mine))
			if err := check(mine[k]); err != nil {
				return err
			}
			if err := a.Free(mine[k].off); err != nil {
				return err
			}
			r.Frees++
			mine[k] = mine[len(mine)-1]
			mine = mine[:len(mine)-1]
			continue
		}
		n := uint64(8 * (1 + rng.IntN(400)))
		if rng.IntN(50) == 0 {
			n = uint64(8 * (2048 + rng.IntN(8192)))
		}
		off, err := a.Alloc(n)
		if err != nil {
			return err
		}
		r.Allocs++
		h := held{off, n, serial}
		b, _ := seg.Bytes(off, n)
		for i := uint64(0); i+8 <= n; i += 8 {
			binary.LittleEndian.PutUint64(b[i:], stamp(h)+i)
		}
		mine = append(mine, h)
	}
	for _, h := range mine {
		if err := check(h); err != nil {
			return err
		}
		if err := a.Free(h.off); err != nil {
			return err
		}
		r.Frees++
	}
	c.Report(r)
	return nil
}

// TestAllocChurnAcrossProcesses: 8 processes allocate and free random sizes
// for several seconds; no block is handed to two of them, and at the end the
// heap is consistent and every byte is free again.
func TestAllocChurnAcrossProcesses(t *testing.T) {
	ms := 4000
	if testing.Short() {
		ms = 1000
	}
	name := harness.SegmentName(t)
	seg, err := segment.Create(name, 64<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	g := harness.Start(t, "alloc-churn", name, 8, harness.Args{"ms": fmt.Sprint(ms)})
	outs := harness.MustSucceed(t, g.Wait())
	total := 0
	for _, o := range outs {
		var r churnResult
		harness.Decode(t, o.Result, &r)
		if r.Allocs != r.Frees || r.Allocs == 0 {
			t.Fatalf("child %d: %+v", o.Index, r)
		}
		total += r.Allocs
	}
	a, _ := alloc.Of(seg)
	st := a.Stats()
	if st.Allocs != uint64(total) || st.Frees != uint64(total) || st.UsedBytes != 0 {
		t.Fatalf("stats %d allocs %d frees %d used bytes; children did %d of each", st.Allocs, st.Frees, st.UsedBytes, total)
	}
	if r := a.Check(); len(r.Problems) > 0 || r.LostChunks > 0 {
		t.Fatalf("heap check: %+v", r)
	}
	t.Logf("%d allocations across 8 processes in %d ms", total, ms)
}

// allocHold allocates blocks, publishes some, reports, and waits to be killed.
func allocHold(c *harness.Child) error {
	seg, err := segment.Open(c.Seg)
	if err != nil {
		return err
	}
	a, err := alloc.Of(seg)
	if err != nil {
		return err
	}
	var published []uint64
	for i := range 50 {
		off, err := a.Alloc(uint64(100 + i*300))
		if err != nil {
			return err
		}
		if i%10 == 0 {
			if err := a.Publish(off); err != nil {
				return err
			}
			published = append(published, uint64(off))
		}
	}
	c.Progress(published)
	time.Sleep(time.Hour)
	return nil
}

// TestAllocKilledHolderReclaimed: blocks a killed process allocated but never
// published are freed by recovery; published ones stay, since shared state
// may reference them.
func TestAllocKilledHolderReclaimed(t *testing.T) {
	name := harness.SegmentName(t)
	seg, err := segment.Create(name, segSize)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	a, _ := alloc.Of(seg)
	g := harness.Start(t, "alloc-hold", name, 3, nil)
	for i := range 3 {
		waitFor(t, "child holding blocks", func() bool { return g.Progress(i) != nil })
	}
	if st := a.Stats(); st.Allocs != 150 {
		t.Fatalf("children allocated %d blocks, want 150", st.Allocs)
	}
	for i := range 3 {
		g.Kill(i)
	}
	g.Wait()
	rep, err := seg.Recover()
	if err != nil {
		t.Fatal(err)
	}
	if rep.DeadProcesses != 3 || rep.Reclaimed != 3*45 {
		t.Fatalf("recovery: %+v, want 3 dead processes and 135 blocks reclaimed", rep)
	}
	r := a.Check()
	if r.Owned != 0 || r.Published != 15 || len(r.Problems) > 0 {
		t.Fatalf("after recovery: %+v", r)
	}
	// A later process reusing a dead slot does not find more to do.
	other, err := segment.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	other.Close()
	if st := a.Stats(); st.Allocs-st.Frees != 15 {
		t.Fatalf("%d blocks in use after recovery, want the 15 published", st.Allocs-st.Frees)
	}
}
