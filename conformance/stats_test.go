package conformance_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/posixshm/posixshm/conformance/harness"
	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/stack"
)

func init() { harness.Register("stats-worker", statsWorker) }

// statsWorker does a known number of operations on each structure.
func statsWorker(c *harness.Child) error {
	seg, err := segment.Open(c.Seg)
	if err != nil {
		return err
	}
	defer seg.Close()
	q, err := queue.Open[int64](seg, "q")
	if err != nil {
		return err
	}
	s, err := stack.Open[int64](seg, "s")
	if err != nil {
		return err
	}
	m, err := hashmap.Open[string, int64](seg, "m")
	if err != nil {
		return err
	}
	c.WaitStart()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range 500 {
		if err := q.Push(int64(i)); err != nil {
			return err
		}
	}
	for range 300 {
		if _, err := q.PopWait(ctx); err != nil {
			return err
		}
	}
	for i := range 400 {
		if err := s.Push(int64(i)); err != nil {
			return err
		}
	}
	for range 100 {
		if _, err := s.Pop(); err != nil {
			return err
		}
	}
	for j := range 100 {
		if err := m.Store(fmt.Sprintf("c%d-k%d", c.Index, j), int64(j)); err != nil {
			return err
		}
	}
	for j := range 50 {
		if err := m.Store(fmt.Sprintf("c%d-k%d", c.Index, j), -1); err != nil {
			return err
		}
	}
	for j := range 25 {
		if err := m.Delete(fmt.Sprintf("c%d-k%d", c.Index, 99-j)); err != nil {
			return err
		}
	}
	return nil
}

// TestStatsAcrossProcesses: four processes do known numbers of operations;
// every structure's Stats, read by a fifth, adds them up exactly.
func TestStatsAcrossProcesses(t *testing.T) {
	name := harness.SegmentName(t)
	seg, err := segment.Create(name, 16<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	q, err := queue.New[int64](seg, "q", queue.Capacity(4096))
	if err != nil {
		t.Fatal(err)
	}
	s, err := stack.New[int64](seg, "s", stack.Capacity(4096))
	if err != nil {
		t.Fatal(err)
	}
	m, err := hashmap.New[string, int64](seg, "m", hashmap.MaxEntries(1000))
	if err != nil {
		t.Fatal(err)
	}
	const procs = 4
	harness.MustSucceed(t, harness.Start(t, "stats-worker", name, procs, nil).Wait())

	qs := q.Stats()
	if qs.Pushed != procs*500 || qs.Popped != procs*300 || qs.Len != procs*200 || qs.Lost != 0 || qs.Repaired != 0 {
		t.Errorf("queue stats %+v", qs)
	}
	if qs.HighWater < procs*200 || qs.HighWater > procs*500 {
		t.Errorf("queue high water %d, want %d..%d", qs.HighWater, procs*200, procs*500)
	}
	ss := s.Stats()
	if ss.Pushed != procs*400 || ss.Popped != procs*100 || ss.Len != procs*300 || ss.Lost != 0 {
		t.Errorf("stack stats %+v", ss)
	}
	if ss.HighWater < procs*300 || ss.HighWater > procs*400 {
		t.Errorf("stack high water %d", ss.HighWater)
	}
	ms := m.Stats()
	if ms.Stores != procs*150 || ms.Deletes != procs*25 || ms.Live != procs*75 || ms.Counter != ms.Live {
		t.Errorf("map stats %+v", ms)
	}
	if ms.HighWater < procs*75 || ms.HighWater > procs*100 {
		t.Errorf("map high water %d", ms.HighWater)
	}
	sst, err := seg.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if sst.Objects != 3 || sst.ProcessesLive != 1 || sst.ProcessesDead != 0 {
		t.Errorf("segment stats %+v", sst)
	}
}
