package conformance_test

import (
	"errors"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/posixshm/posixshm/conformance/harness"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/stack"
)

// Stack conformance: the queue's shape minus order. Pushers push unique
// items (pusher<<32 | sequence), retrying on ErrFull; poppers pop until the
// stack stays empty for idle_ms and report count, sum and sum of squares per
// pusher.

func init() {
	harness.Register("stack-pusher", stackPusher)
	harness.Register("stack-popper", stackPopper)
}

func openStack(c *harness.Child) (*segment.Segment, *stack.Stack[uint64], error) {
	seg, err := segment.OpenOrCreate(c.Seg, qSegSize)
	if err != nil {
		return nil, nil, err
	}
	s, err := stack.New[uint64](seg, "s", stack.Capacity(c.IntArg("cap")))
	if err != nil {
		seg.Close()
		return nil, nil, err
	}
	return seg, s, nil
}

func stackPusher(c *harness.Child) error {
	seg, s, err := openStack(c)
	if err != nil {
		return err
	}
	defer seg.Close()
	c.WaitStart()
	n, every := c.IntArg("items"), max(c.IntArg("every"), 1)
	deadline := time.Now().Add(2 * time.Minute)
	for i := 0; i < n; {
		err := s.Push(uint64(c.Index)<<32 | uint64(i))
		switch {
		case err == nil:
			i++
			if i%every == 0 {
				c.Progress(prodProgress{i})
			}
		case errors.Is(err, stack.ErrFull):
			if time.Now().After(deadline) {
				return err
			}
			time.Sleep(10 * time.Microsecond)
		default:
			return err
		}
	}
	c.Progress(prodProgress{n})
	c.Report(prodProgress{n})
	return nil
}

func stackPopper(c *harness.Child) error {
	seg, s, err := openStack(c)
	if err != nil {
		return err
	}
	defer seg.Close()
	c.WaitStart()
	producers, every := c.IntArg("producers"), max(c.IntArg("every"), 1)
	idle := time.Duration(c.IntArg("idle_ms")) * time.Millisecond
	r := consReport{Count: make([]uint64, producers), Sum: make([]uint64, producers), SumSq: make([]uint64, producers), Last: make([]int64, producers)}
	got := 0
	lastItem := time.Now()
	for {
		v, err := s.Pop()
		if errors.Is(err, stack.ErrEmpty) {
			if time.Since(lastItem) > idle {
				break
			}
			time.Sleep(20 * time.Microsecond)
			continue
		}
		if err != nil {
			return err
		}
		lastItem = time.Now()
		p, q := int(v>>32), uint64(uint32(v))
		if p >= producers {
			return errors.New("item from unknown pusher " + strconv.Itoa(p))
		}
		r.Count[p]++
		r.Sum[p] += q
		r.SumSq[p] += q * q
		got++
		if got%every == 0 {
			c.Progress(r)
		}
	}
	r.Lost = s.Stats().Lost
	c.Progress(r)
	c.Report(r)
	return nil
}

func TestStackManyProcesses(t *testing.T) {
	const pushers, poppers = 4, 4
	items := 100000
	if testing.Short() {
		items = 10000
	}
	seg := harness.SegmentName(t)
	args := harness.Args{"items": strconv.Itoa(items), "producers": "4", "cap": "1024", "every": "10000", "idle_ms": "1500"}
	pg := harness.Start(t, "stack-pusher", seg, pushers, args)
	cg := harness.Start(t, "stack-popper", seg, poppers, args)
	harness.MustSucceed(t, pg.Wait())
	couts := harness.MustSucceed(t, cg.Wait())
	n := uint64(items)
	var reps []consReport
	for _, o := range couts {
		var r consReport
		harness.Decode(t, o.Result, &r)
		reps = append(reps, r)
	}
	for p := range pushers {
		var count, sum, sq uint64
		for _, r := range reps {
			count += r.Count[p]
			sum += r.Sum[p]
			sq += r.SumSq[p]
		}
		if count != n || sum != n*(n-1)/2 || sq != (n-1)*n*(2*n-1)/6 {
			t.Errorf("pusher %d: %d items popped (sum %d, squares %d), want %d: lost or duplicated", p, count, sum, sq, n)
		}
	}
}

func TestStackKills(t *testing.T) {
	const pushers, poppers = 4, 4
	items := 20000
	if testing.Short() {
		items = 3000
	}
	seg := harness.SegmentName(t)
	args := harness.Args{"items": strconv.Itoa(items), "producers": "4", "cap": "64", "every": "1", "idle_ms": "1500"}
	pg := harness.Start(t, "stack-pusher", seg, pushers, args)
	cg := harness.Start(t, "stack-popper", seg, poppers, args)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 9))
	pg.KillRandom(rng, 1+rng.IntN(2), 1500*time.Millisecond, nil)
	cg.KillRandom(rng, 1+rng.IntN(2), 1500*time.Millisecond, nil)
	pouts := harness.MustSucceed(t, pg.Wait())
	couts := harness.MustSucceed(t, cg.Wait())
	k := tallyKills(t, pouts, couts, pushers)
	pushed, deadP, deadC, delivered := k.pushed, k.deadP, k.deadC, k.delivered
	s, err := segment.Open(seg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := stack.Open[uint64](s, "s")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := st.Pop(); err != nil {
			if !errors.Is(err, stack.ErrEmpty) {
				t.Fatal(err)
			}
			break
		}
		delivered++
	}
	lost := st.Stats().Lost
	total := int(delivered) + int(lost)
	t.Logf("pushed %d (reported), popped %d, lost %d, killed %d pushers and %d poppers", pushed, delivered, lost, deadP, deadC)
	if total < pushed-deadC || total > pushed+deadP {
		t.Errorf("popped %d + lost %d = %d, want %d pushed (-%d / +%d for killed processes' unreported operations)", delivered, lost, total, pushed, deadC, deadP)
	}
}
