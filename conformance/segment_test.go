package conformance_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/conformance/harness"
	"github.com/posixshm/posixshm/segment"
)

const segSize = 8 << 20

func init() {
	harness.Register("race-create", raceCreate)
	harness.Register("die-in-init", dieInInit)
	harness.Register("futex-waiter", futexWaiter)
}

type raceResult struct {
	Created    []string          // object names this child created
	Offsets    map[string]uint64 // offset each name resolved to
	CreatedAt  int64             // segment creation time seen
	ObjectSeen map[string]uint64 // creator marker read from each object
}

// raceCreate: every child races OpenOrCreate on one segment, then
// FindOrCreate on the same object names.
func raceCreate(c *harness.Child) error {
	c.WaitStart()
	seg, err := segment.OpenOrCreate(c.Seg, segSize)
	if err != nil {
		return err
	}
	defer seg.Close()
	a, err := alloc.Of(seg)
	if err != nil {
		return err
	}
	r := raceResult{Offsets: map[string]uint64{}, ObjectSeen: map[string]uint64{}, CreatedAt: seg.Created().UnixNano()}
	for k := range c.IntArg("objects") {
		name := fmt.Sprintf("obj-%d", k)
		spec := segment.Spec{Kind: segment.KindArray, Version: 1, Size: 256}
		obj, created, err := seg.FindOrCreate(name, spec, a, func(o segment.Object) error {
			b, err := seg.Bytes(o.Offset, 8)
			if err != nil {
				return err
			}
			binary.LittleEndian.PutUint64(b, uint64(c.Index)+1)
			return nil
		})
		if err != nil {
			return err
		}
		if created {
			r.Created = append(r.Created, name)
		}
		r.Offsets[name] = uint64(obj.Offset)
		b, err := seg.Bytes(obj.Offset, 8)
		if err != nil {
			return err
		}
		r.ObjectSeen[name] = binary.LittleEndian.Uint64(b)
	}
	c.Report(r)
	return nil
}

// TestRaceOpenOrCreate: 16 processes race OpenOrCreate and find-or-create on
// the same names; each segment and each object is created exactly once and
// every process sees it fully initialised.
func TestRaceOpenOrCreate(t *testing.T) {
	const procs, objects = 16, 20
	rounds := 3
	if testing.Short() {
		rounds = 1
	}
	for round := range rounds {
		name := harness.SegmentName(t)
		g := harness.Start(t, "race-create", name, procs, harness.Args{"objects": fmt.Sprint(objects)})
		outs := harness.MustSucceed(t, g.Wait())
		creators := map[string]int{}
		offsets := map[string]uint64{}
		var createdAt int64
		for _, o := range outs {
			var r raceResult
			harness.Decode(t, o.Result, &r)
			if createdAt == 0 {
				createdAt = r.CreatedAt
			} else if r.CreatedAt != createdAt {
				t.Fatalf("round %d: child %d saw a segment created at %d, others %d: created twice", round, o.Index, r.CreatedAt, createdAt)
			}
			for _, n := range r.Created {
				creators[n]++
			}
			for n, off := range r.Offsets {
				if prev, ok := offsets[n]; ok && prev != off {
					t.Fatalf("round %d: %s at offset %d in one child, %d in another", round, n, prev, off)
				}
				offsets[n] = off
				if r.ObjectSeen[n] == 0 {
					t.Fatalf("round %d: child %d saw %s before its creator initialised it", round, o.Index, n)
				}
			}
		}
		for k := range objects {
			n := fmt.Sprintf("obj-%d", k)
			if creators[n] != 1 {
				t.Fatalf("round %d: %s created %d times, want exactly 1", round, n, creators[n])
			}
		}
	}
}

// dieInInit: the child starts creating an object and stops inside init,
// where the parent kills it.
func dieInInit(c *harness.Child) error {
	seg, err := segment.Open(c.Seg)
	if err != nil {
		return err
	}
	a, err := alloc.Of(seg)
	if err != nil {
		return err
	}
	spec := segment.Spec{Kind: segment.KindArray, Version: 1, Size: 100000}
	_, _, err = seg.FindOrCreate("wedge", spec, a, func(segment.Object) error {
		c.Progress("in init")
		time.Sleep(time.Hour)
		return nil
	})
	return err
}

// TestCreatorKilledInInit: a creator SIGKILLed inside init does not wedge
// the name: the next FindOrCreate creates it, and the dead creator's block is
// returned to the heap.
func TestCreatorKilledInInit(t *testing.T) {
	name := harness.SegmentName(t)
	seg, err := segment.Create(name, segSize)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	a, _ := alloc.Of(seg)
	g := harness.Start(t, "die-in-init", name, 1, nil)
	waitFor(t, "child inside init", func() bool { return g.Progress(0) != nil })
	g.Kill(0)
	if outs := g.Wait(); !outs[0].Killed {
		t.Fatalf("child not killed: %+v", outs[0])
	}
	if _, err := seg.Lookup("wedge"); !errors.Is(err, segment.ErrNotFound) {
		t.Fatalf("half-made object visible: %v", err)
	}
	spec := segment.Spec{Kind: segment.KindArray, Version: 1, Size: 100000}
	done := make(chan error, 1)
	go func() {
		_, created, err := seg.FindOrCreate("wedge", spec, a, func(segment.Object) error { return nil })
		if err == nil && !created {
			err = errors.New("attached to the dead creator's object")
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("FindOrCreate wedged behind a dead creator")
	}
	seg.Recover()
	if st := a.Stats(); st.UsedBytes > 2*spec.Size {
		t.Fatalf("dead creator's block not reclaimed: %d bytes in use", st.UsedBytes)
	}
	if r := a.Check(); len(r.Problems) > 0 {
		t.Fatal(r.Problems)
	}
}

func futexWaiter(c *harness.Child) error {
	seg, err := segment.Open(c.Seg)
	if err != nil {
		return err
	}
	defer seg.Close()
	off, _ := seg.Heap()
	w, err := segment.At[atomic.Uint32](seg, off+segment.Offset(c.IntArg("word")))
	if err != nil {
		return err
	}
	c.Progress("waiting")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	for w.Load() == 0 {
		if err := seg.Wait(ctx, w, 0); err != nil {
			return fmt.Errorf("never woken: %w", err)
		}
	}
	c.Report(time.Since(start).Milliseconds())
	return nil
}

// TestFutexAcrossProcesses: children sleeping on a shared word wake when the
// parent stores to it and calls Wake.
func TestFutexAcrossProcesses(t *testing.T) {
	name := harness.SegmentName(t)
	seg, err := segment.Create(name, segSize)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	// The word lies in heap bytes nobody allocates in this test.
	off, _ := seg.Heap()
	w, _ := segment.At[atomic.Uint32](seg, off+1<<20)
	g := harness.Start(t, "futex-waiter", name, 4, harness.Args{"word": fmt.Sprint(1 << 20)})
	for i := range 4 {
		waitFor(t, "child waiting", func() bool { return g.Progress(i) != nil })
	}
	time.Sleep(50 * time.Millisecond)
	w.Store(1)
	seg.Wake(w, 100)
	harness.MustSucceed(t, g.Wait())
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
