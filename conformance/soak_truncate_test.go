package conformance_test

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/bitset"
	"github.com/posixshm/posixshm/conformance/harness"
	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/stack"
)

// Truncation under running processes: a peer shrinks a named segment's file
// while other processes use it. They must get errors wrapping
// segment.ErrTruncated, not die of SIGBUS, and an inspecting open must say
// what happened.

func init() {
	harness.Register("soak-trunc", soakTruncWorker)
}

type soakTruncReport struct {
	Ops int
	Err string
}

// soakTruncOps are the guarded operations a worker loops over, by name.
var soakTruncOps = map[string]func(seg *segment.Segment) (func() error, error){
	"segment": func(seg *segment.Segment) (func() error, error) {
		return func() error { _, err := seg.Lookup("soak-b"); return err }, nil
	},
	"alloc": func(seg *segment.Segment) (func() error, error) {
		a, err := alloc.Of(seg)
		if err != nil {
			return nil, err
		}
		return func() error {
			off, err := a.Alloc(100)
			if err != nil {
				return err
			}
			return a.Free(off)
		}, nil
	},
	"bitset": func(seg *segment.Segment) (func() error, error) {
		b, err := bitset.Open(seg, "soak-b")
		if err != nil {
			return nil, err
		}
		return func() error { return b.Or(b) }, nil
	},
	"queue": func(seg *segment.Segment) (func() error, error) {
		q, err := queue.Open[[]byte](seg, "soak-q")
		if err != nil {
			return nil, err
		}
		return func() error {
			if err := q.Push(make([]byte, 100)); err != nil && !errors.Is(err, queue.ErrFull) {
				return err
			}
			if _, err := q.Pop(); err != nil && !errors.Is(err, queue.ErrEmpty) {
				return err
			}
			return nil
		}, nil
	},
	"stack": func(seg *segment.Segment) (func() error, error) {
		s, err := stack.Open[uint64](seg, "soak-s")
		if err != nil {
			return nil, err
		}
		return func() error {
			if err := s.Push(1); err != nil && !errors.Is(err, stack.ErrFull) {
				return err
			}
			if _, err := s.Pop(); err != nil && !errors.Is(err, stack.ErrEmpty) {
				return err
			}
			return nil
		}, nil
	},
	"hashmap": func(seg *segment.Segment) (func() error, error) {
		m, err := hashmap.Open[string, []byte](seg, "soak-m")
		if err != nil {
			return nil, err
		}
		return func() error {
			if err := m.Store("k", make([]byte, 100)); err != nil {
				return err
			}
			_, _, err := m.Load("k")
			return err
		}, nil
	},
	// Load alone, over keys present and absent: its guard is written out
	// by hand (the map's hot path), so it gets a worker of its own.
	"hashmap-load": func(seg *segment.Segment) (func() error, error) {
		m, err := hashmap.Open[string, int64](seg, "soak-m2")
		if err != nil {
			return nil, err
		}
		n := 0
		return func() error {
			n++
			_, _, err := m.Load(fmt.Sprintf("key-%d", n%64))
			return err
		}, nil
	},
}

func soakTruncWorker(c *harness.Child) error {
	seg, err := segment.Open(c.Seg)
	if err != nil {
		return err
	}
	defer seg.Close()
	mk := soakTruncOps[c.Arg("op")]
	if mk == nil {
		return fmt.Errorf("no op %q", c.Arg("op"))
	}
	op, err := mk(seg)
	if err != nil {
		return err
	}
	var r soakTruncReport
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		if err := op(); err != nil {
			r.Err = err.Error()
			c.Report(r)
			if errors.Is(err, segment.ErrTruncated) {
				return nil
			}
			return err
		}
		r.Ops++
		if r.Ops%64 == 1 {
			c.Progress(r)
		}
	}
	return errors.New("the segment was never truncated")
}

func TestSoakTruncateUnderRunningProcesses(t *testing.T) {
	name := harness.SegmentName(t)
	seg, err := segment.Create(name, 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	if _, err := bitset.New(seg, "soak-b", 4096); err != nil {
		t.Fatal(err)
	}
	if _, err := queue.New[[]byte](seg, "soak-q", queue.Capacity(64)); err != nil {
		t.Fatal(err)
	}
	if _, err := stack.New[uint64](seg, "soak-s", stack.Capacity(64)); err != nil {
		t.Fatal(err)
	}
	if _, err := hashmap.New[string, []byte](seg, "soak-m", hashmap.MaxEntries(64)); err != nil {
		t.Fatal(err)
	}
	m2, err := hashmap.New[string, int64](seg, "soak-m2", hashmap.MaxEntries(64))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 32 {
		if err := m2.Store(fmt.Sprintf("key-%d", i), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	var ops []string
	for op := range soakTruncOps {
		ops = append(ops, op)
	}
	groups := map[string]*harness.Group{}
	for _, op := range ops {
		groups[op] = harness.Start(t, "soak-trunc", name, 2, harness.Args{"op": op})
	}
	waitFor(t, "every worker to run", func() bool {
		for _, g := range groups {
			for i := range g.Len() {
				if g.Progress(i) == nil {
					return false
				}
			}
		}
		return true
	})
	if err := os.Truncate("/dev/shm"+name, 4096); err != nil {
		t.Fatal(err)
	}
	for _, op := range ops {
		for _, o := range groups[op].Wait() {
			if o.Killed || o.Err != nil {
				t.Errorf("%s worker %d did not end with an error: killed %v, %v", op, o.Index, o.Killed, o.Err)
				continue
			}
			var r soakTruncReport
			harness.Decode(t, o.Result, &r)
			t.Logf("%s worker %d: %d ops, then: %s", op, o.Index, r.Ops, r.Err)
			if !strings.Contains(r.Err, "truncated") {
				t.Errorf("%s worker %d: error %q does not say the file was truncated", op, o.Index, r.Err)
			}
		}
	}
	_, err = segment.Open(name, segment.ReadOnly())
	if !errors.Is(err, segment.ErrCorrupt) || !strings.Contains(err.Error(), "file is 4096 bytes but the header says") {
		t.Errorf("read-only open of the truncated segment: %v", err)
	}
	t.Logf("read-only open: %v", err)
}
