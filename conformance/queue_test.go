package conformance_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/posixshm/posixshm/conformance/harness"
	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
)

// Queue conformance: producer and consumer processes over one queue.
// Items are producer<<32 | sequence. Consumers check per-producer FIFO
// themselves and report, per producer, the count, sum and sum of squares of
// the sequences they got, so the parent can detect loss and duplication
// without shipping a million numbers.

const qSegSize = 32 << 20

func init() {
	harness.Register("queue-producer", queueProducer)
	harness.Register("queue-consumer", queueConsumer)
	harness.Register("queue-waiter", queueWaiter)
}

type prodProgress struct{ Pushed int }

type consReport struct {
	Count, Sum, SumSq []uint64 // per producer
	Last              []int64  // per producer, last sequence seen
	FIFOErrors        int
	Lost              uint64 // Stats().Lost when the consumer stopped
}

// killTally is what the producers and consumers of a kill test reported:
// pushes acknowledged, items delivered, processes killed, and each
// consumer's report (a killed one's last progress).
type killTally struct {
	pushed, deadP, deadC int
	delivered            uint64
	reports              []consReport
}

// tallyKills adds up the outcomes of a kill test's producer and consumer
// groups (queue or stack; producers report prodProgress, consumers
// consReport).
func tallyKills(t *testing.T, pouts, couts []harness.Outcome, producers int) killTally {
	t.Helper()
	var k killTally
	for _, o := range pouts {
		if o.Killed {
			k.deadP++
		}
		if o.Progress != nil {
			var p prodProgress
			harness.Decode(t, o.Progress, &p)
			k.pushed += p.Pushed
		}
	}
	for _, o := range couts {
		raw := o.Result
		if o.Killed {
			k.deadC++
			raw = o.Progress
		}
		if raw == nil {
			continue
		}
		var r consReport
		harness.Decode(t, raw, &r)
		for p := range producers {
			k.delivered += r.Count[p]
		}
		k.reports = append(k.reports, r)
	}
	return k
}

func openQueue(c *harness.Child) (*segment.Segment, *queue.Queue[uint64], error) {
	seg, err := segment.OpenOrCreate(c.Seg, qSegSize)
	if err != nil {
		return nil, nil, err
	}
	q, err := queue.New[uint64](seg, "q", queue.Capacity(c.IntArg("cap")))
	if err != nil {
		seg.Close()
		return nil, nil, err
	}
	return seg, q, nil
}

func queueProducer(c *harness.Child) error {
	seg, q, err := openQueue(c)
	if err != nil {
		return err
	}
	defer seg.Close()
	c.WaitStart()
	n, every := c.IntArg("items"), max(c.IntArg("every"), 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range n {
		if err := q.PushWait(ctx, uint64(c.Index)<<32|uint64(i)); err != nil {
			return err
		}
		if (i+1)%every == 0 {
			c.Progress(prodProgress{i + 1})
		}
	}
	c.Progress(prodProgress{n})
	c.Report(prodProgress{n})
	return nil
}

func queueConsumer(c *harness.Child) error {
	seg, q, err := openQueue(c)
	if err != nil {
		return err
	}
	defer seg.Close()
	c.WaitStart()
	producers, every := c.IntArg("producers"), max(c.IntArg("every"), 1)
	idle := time.Duration(c.IntArg("idle_ms")) * time.Millisecond
	r := consReport{Count: make([]uint64, producers), Sum: make([]uint64, producers), SumSq: make([]uint64, producers), Last: make([]int64, producers)}
	for i := range r.Last {
		r.Last[i] = -1
	}
	got := 0
	for {
		ctx, cancel := context.WithTimeout(context.Background(), idle)
		v, err := q.PopWait(ctx)
		cancel()
		if errors.Is(err, context.DeadlineExceeded) {
			break
		}
		if err != nil {
			return err
		}
		p, s := int(v>>32), int64(uint32(v))
		if p >= producers {
			return errors.New("item from unknown producer " + strconv.Itoa(p))
		}
		if s <= r.Last[p] {
			r.FIFOErrors++
		}
		r.Last[p] = s
		r.Count[p]++
		r.Sum[p] += uint64(s)
		r.SumSq[p] += uint64(s) * uint64(s)
		got++
		if got%every == 0 {
			c.Progress(r)
		}
	}
	r.Lost = q.Stats().Lost
	c.Progress(r)
	c.Report(r)
	return nil
}

// queueWaiter blocks in PopWait and reports what woke it and when.
func queueWaiter(c *harness.Child) error {
	seg, q, err := openQueue(c)
	if err != nil {
		return err
	}
	defer seg.Close()
	c.Progress(map[string]bool{"ready": true})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	v, err := q.PopWait(ctx)
	if err != nil {
		return err
	}
	c.Report(map[string]int64{"value": int64(v), "at": time.Now().UnixNano()})
	return nil
}

func TestQueueManyProcesses(t *testing.T) {
	const producers, consumers = 4, 4
	items := 250000 // per producer: 1,000,000 in all
	if testing.Short() {
		items = 10000
	}
	seg := harness.SegmentName(t)
	args := harness.Args{"items": strconv.Itoa(items), "producers": "4", "cap": "1024", "every": "10000", "idle_ms": "1500"}
	pg := harness.Start(t, "queue-producer", seg, producers, args)
	cg := harness.Start(t, "queue-consumer", seg, consumers, args)
	pouts := harness.MustSucceed(t, pg.Wait())
	couts := harness.MustSucceed(t, cg.Wait())
	_ = pouts
	var reps []consReport
	for _, o := range couts {
		var r consReport
		harness.Decode(t, o.Result, &r)
		reps = append(reps, r)
	}
	n := uint64(items)
	for p := range producers {
		var count, sum, sq uint64
		for _, r := range reps {
			count += r.Count[p]
			sum += r.Sum[p]
			sq += r.SumSq[p]
		}
		wantSum := n * (n - 1) / 2
		wantSq := (n - 1) * n * (2*n - 1) / 6
		if count != n || sum != wantSum || sq != wantSq {
			t.Errorf("producer %d: %d items delivered (sum %d, squares %d), want %d (%d, %d): lost or duplicated", p, count, sum, sq, n, wantSum, wantSq)
		}
	}
	for i, r := range reps {
		if r.FIFOErrors != 0 {
			t.Errorf("consumer %d saw %d per-producer order violations", i, r.FIFOErrors)
		}
		if r.Lost != 0 {
			t.Errorf("consumer %d: Stats().Lost = %d with no process killed", i, r.Lost)
		}
	}
}

func TestQueuePopWaitWakesAcrossProcesses(t *testing.T) {
	seg := harness.SegmentName(t)
	s, err := segment.OpenOrCreate(seg, qSegSize)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q, err := queue.New[uint64](s, "q", queue.Capacity(16))
	if err != nil {
		t.Fatal(err)
	}
	const waiters = 3
	g := harness.Start(t, "queue-waiter", seg, waiters, harness.Args{"cap": "16"})
	deadline := time.Now().Add(20 * time.Second)
	for i := range waiters {
		for g.Progress(i) == nil && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	for q.Stats().PopWaiters < waiters && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	pushed := time.Now()
	for i := range waiters {
		if err := q.Push(uint64(100 + i)); err != nil {
			t.Fatal(err)
		}
	}
	outs := harness.MustSucceed(t, g.Wait())
	seen := map[int64]bool{}
	for _, o := range outs {
		var r map[string]int64
		harness.Decode(t, o.Result, &r)
		seen[r["value"]] = true
		if d := time.Duration(r["at"] - pushed.UnixNano()); d > 2*time.Second {
			t.Errorf("waiter %d woke %v after the push", o.Index, d)
		}
	}
	if len(seen) != waiters {
		t.Errorf("waiters got %v, want three distinct items", seen)
	}
}

// TestQueueKills kills random producers and consumers while they run; the
// survivors finish, and every item is accounted for: delivered (by a
// survivor, by a killed consumer before its last progress report, or
// drained at the end) plus Stats().Lost equals what producers pushed, up to
// the one operation each killed process had in flight.
func TestQueueKills(t *testing.T) {
	const producers, consumers = 4, 4
	items := 20000
	if testing.Short() {
		items = 3000
	}
	seg := harness.SegmentName(t)
	args := harness.Args{"items": strconv.Itoa(items), "producers": "4", "cap": "64", "every": "1", "idle_ms": "1500"}
	pg := harness.Start(t, "queue-producer", seg, producers, args)
	cg := harness.Start(t, "queue-consumer", seg, consumers, args)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	killedP := pg.KillRandom(rng, 1+rng.IntN(2), 1500*time.Millisecond, nil)
	killedC := cg.KillRandom(rng, 1+rng.IntN(2), 1500*time.Millisecond, nil)
	pouts := harness.MustSucceed(t, pg.Wait())
	couts := harness.MustSucceed(t, cg.Wait())
	t.Logf("killed producers %v, consumers %v", killedP, killedC)

	k := tallyKills(t, pouts, couts, producers)
	pushed, deadP, deadC, delivered := k.pushed, k.deadP, k.deadC, k.delivered
	for i, r := range k.reports {
		if r.FIFOErrors != 0 {
			t.Errorf("consumer report %d saw %d per-producer order violations", i, r.FIFOErrors)
		}
	}
	s, err := segment.Open(seg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Recover(); err != nil {
		t.Fatal(err)
	}
	q, err := queue.Open[uint64](s, "q")
	if err != nil {
		t.Fatal(err)
	}
	for range q.Drain() {
		delivered++
	}
	lost := q.Stats().Lost
	total := int(delivered) + int(lost)
	t.Logf("pushed %d (reported), delivered %d, lost %d, killed %d producers and %d consumers", pushed, delivered, lost, deadP, deadC)
	if total < pushed-deadC || total > pushed+deadP {
		t.Errorf("delivered %d + lost %d = %d, want %d pushed (allowing -%d for killed consumers' unreported pops, +%d for killed producers' unreported pushes)",
			delivered, lost, total, pushed, deadC, deadP)
	}
	if lost > uint64(deadP+deadC) {
		t.Errorf("Lost = %d, more than one per killed process (%d)", lost, deadP+deadC)
	}
}
