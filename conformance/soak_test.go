package conformance_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/array"
	"github.com/posixshm/posixshm/bitset"
	"github.com/posixshm/posixshm/conformance/harness"
	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/stack"
)

// TestSoak is the chaos soak: worker processes run a mixed workload on every
// structure of one segment while the supervisor (this test) SIGKILLs random
// workers, runs segment recovery and restarts them; at the end it checks
// global invariants and prints a summary. Its length is -soak.duration (or
// $SOAK_DURATION); by default it runs 20s (8s with -short) as part of
// `make test`, and `make soak` runs it for minutes.
var soakDurationFlag = flag.Duration("soak.duration", 0, "length of TestSoak's chaos phase (default 20s, 8s with -short; or $SOAK_DURATION)")

func soakDuration(t *testing.T) time.Duration {
	return runLength(t, *soakDurationFlag, "SOAK_DURATION", 20*time.Second, 8*time.Second)
}

// runLength is how long a long-running test runs: its flag if set, else the
// environment variable env, else def (short under -short).
func runLength(t *testing.T, flagValue time.Duration, env string, def, short time.Duration) time.Duration {
	if flagValue > 0 {
		return flagValue
	}
	if s := os.Getenv(env); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("%s: %v", env, err)
		}
		return d
	}
	if testing.Short() {
		return short
	}
	return def
}

// soakRoles: scenario and lineage count. Two cores run all of them, so the
// mix is small: 15 processes.
var soakRoles = []struct {
	scenario string
	n        int
}{
	{"soak-qprod", 2}, {"soak-qcons", 1}, {"soak-stack", 2}, {"soak-mapw", 2},
	{"soak-mapr", 1}, {"soak-bits", 2}, {"soak-count", 2}, {"soak-obits", 2},
	{"soak-alloc", 1},
}

// soakLineage is one logical worker and its incarnations.
type soakLineage struct {
	role    string
	idx     int
	g       *harness.Group
	inc     int
	prev    json.RawMessage // latest progress of a dead incarnation, for its successor
	last    json.RawMessage // latest progress seen by the watchdog
	changed time.Time
	kills   int
	done    []soakProg // progress (killed) or result (final) of each incarnation
	killed  []bool
	// collected: the current incarnation's outcome is in done already. A
	// worker that exits at the deadline while the chaos loop's last round
	// is still running is collected there and must not be again after the
	// loop: counting its pushes and pops twice once put the stack's
	// balance off by the difference between them (1775).
	collected bool
}

type soakSupervisor struct {
	t       *testing.T
	name    string
	seg     *segment.Segment
	until   time.Time
	lin     []*soakLineage
	recover segment.Report
	starts  int
}

func (s *soakSupervisor) start(l *soakLineage) {
	args := harness.Args{
		"lineage": strconv.Itoa(l.idx),
		"until":   strconv.FormatInt(s.until.UnixNano(), 10),
		"writers": strconv.Itoa(soakCount("soak-mapw")),
		"prev":    string(l.prev),
	}
	l.g = harness.Start(s.t, l.role, s.name, 1, args)
	l.g.SetTimeout(time.Until(s.until) + 2*time.Minute)
	l.inc++
	l.collected = false
	l.last, l.changed = nil, time.Now()
	s.starts++
}

func soakCount(role string) int {
	for _, r := range soakRoles {
		if r.scenario == role {
			return r.n
		}
	}
	return 0
}

// collect waits for l's current incarnation and records how it ended.
func (s *soakSupervisor) collect(l *soakLineage, wantKilled bool) {
	t := s.t
	if l.collected {
		return
	}
	l.collected = true
	o := l.g.Wait()[0]
	raw := o.Result
	if o.Killed {
		raw = o.Progress
	}
	switch {
	case o.Err != nil:
		t.Fatalf("%s lineage %d incarnation %d failed: %v", l.role, l.idx, l.inc, o.Err)
	case o.Killed && !wantKilled:
		t.Fatalf("%s lineage %d incarnation %d was killed by someone else", l.role, l.idx, l.inc)
	case !o.Killed && wantKilled:
		t.Fatalf("%s lineage %d incarnation %d exited before it was killed: %s", l.role, l.idx, l.inc, o.Stderr)
	case !o.Killed && raw == nil:
		t.Fatalf("%s lineage %d: no final report", l.role, l.idx)
	}
	var p soakProg
	if raw != nil {
		harness.Decode(t, raw, &p)
		l.prev = raw
	}
	l.done = append(l.done, p)
	l.killed = append(l.killed, o.Killed)
	if o.Killed {
		l.kills++
	}
}

func TestSoak(t *testing.T) {
	d := soakDuration(t)
	// One scheduler thread per worker: two cores host a dozen processes.
	t.Setenv("GOMAXPROCS", "1")
	name := harness.SegmentName(t)
	seg, err := segment.Create(name, soakSegSize)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	nMapW, nCount := soakCount("soak-mapw"), soakCount("soak-count")
	if _, err := queue.New[[]byte](seg, "soak-q", queue.Capacity(soakQCap)); err != nil {
		t.Fatal(err)
	}
	if _, err := stack.New[uint64](seg, "soak-s", stack.Capacity(soakSCap)); err != nil {
		t.Fatal(err)
	}
	if _, err := hashmap.New[string, []byte](seg, "soak-m", hashmap.MaxEntries(nMapW*soakMapKeys+16)); err != nil {
		t.Fatal(err)
	}
	if _, err := bitset.New(seg, "soak-b", soakBits); err != nil {
		t.Fatal(err)
	}
	owned, err := bitset.New(seg, "soak-ob", soakOwnBits, bitset.Owned())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := array.New[uint64](seg, "soak-a", nCount+1); err != nil {
		t.Fatal(err)
	}
	al, err := alloc.Of(seg)
	if err != nil {
		t.Fatal(err)
	}
	objects := len(seg.Objects())

	began := time.Now()
	s := &soakSupervisor{t: t, name: name, seg: seg, until: began.Add(d)}
	for _, r := range soakRoles {
		for i := range r.n {
			l := &soakLineage{role: r.scenario, idx: i}
			s.lin = append(s.lin, l)
			s.start(l)
		}
	}

	// Chaos phase: kill a random worker every 100-500ms, recover, restart.
	// Kills stop 1.5s before the deadline so that the last incarnations
	// report cleanly; the watchdog fails the test if any worker shows no
	// progress (not even a heartbeat) for 20s.
	rng := rand.New(rand.NewPCG(uint64(began.UnixNano()), 0x50a4))
	stopKills := s.until.Add(-1500 * time.Millisecond)
	nextKill := began.Add(time.Second)
	var maxRecover time.Duration
	for now := time.Now(); now.Before(s.until); now = time.Now() {
		for _, l := range s.lin {
			if l.g.Exited(0) && !l.collected {
				// Only at the deadline; anything earlier fails in collect.
				t.Logf("%s lineage %d finished during the chaos loop's last round", l.role, l.idx)
				s.collect(l, false)
			}
			if p := l.g.Progress(0); !bytes.Equal(p, l.last) {
				l.last, l.changed = p, now
			} else if now.Sub(l.changed) > 20*time.Second {
				t.Fatalf("watchdog: %s lineage %d made no progress for %v (last: %s)", l.role, l.idx, now.Sub(l.changed), l.last)
			}
		}
		if now.After(nextKill) && now.Before(stopKills) {
			l := s.lin[rng.IntN(len(s.lin))]
			l.g.Kill(0)
			s.collect(l, true)
			t0 := time.Now()
			rep, err := seg.Recover()
			if err != nil {
				t.Fatalf("Recover after killing %s lineage %d: %v", l.role, l.idx, err)
			}
			maxRecover = max(maxRecover, time.Since(t0))
			if len(rep.Errors) > 0 || rep.Unhandled > 0 {
				t.Errorf("Recover after killing %s lineage %d: %+v", l.role, l.idx, rep)
			}
			// Exact after every kill: no bit is owned by a dead process.
			for i, o := range owned.Owners() {
				if !seg.Alive(o.Slot, o.Gen) {
					t.Errorf("after killing %s lineage %d and recovering: bit %d owned by dead attachment %d/%d", l.role, l.idx, i, o.Slot, o.Gen)
				}
			}
			s.recover.DeadProcesses += rep.DeadProcesses
			s.recover.Intents += rep.Intents
			s.recover.Reclaimed += rep.Reclaimed
			s.start(l)
			nextKill = time.Now().Add(time.Duration(100+rng.IntN(400)) * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, l := range s.lin {
		s.collect(l, false)
	}
	if rep, err := seg.Recover(); err != nil || len(rep.Errors) > 0 {
		t.Fatalf("final Recover: %+v %v", rep, err)
	}
	s.check(al, owned, objects, nMapW, nCount, time.Since(began), maxRecover)
}

// check verifies the global invariants and prints the summary.
func (s *soakSupervisor) check(al *alloc.Allocator, owned *bitset.Bitset, objects, nMapW, nCount int, elapsed, maxRecover time.Duration) {
	t, seg := s.t, s.seg
	sum := func(role string, f func(p soakProg) uint64) (total uint64, kills int) {
		for _, l := range s.lin {
			if l.role == role {
				for _, p := range l.done {
					total += f(p)
				}
				kills += l.kills
			}
		}
		return total, kills
	}
	pushed := func(p soakProg) uint64 { return p.Pushed }
	popped := func(p soakProg) uint64 { return p.Popped }
	var summary []string
	say := func(format string, args ...any) { summary = append(summary, fmt.Sprintf(format, args...)) }

	// inFlight counts the incarnations of role killed with an announced
	// operation in flight (for the stack, of the kind push says).
	inFlight := func(role string, push bool) (n int64) {
		for _, l := range s.lin {
			if l.role != role {
				continue
			}
			for i, p := range l.done {
				if l.killed[i] && p.In && (role != "soak-stack" || (p.InSeq == 1) == push) {
					n++
				}
			}
		}
		return n
	}

	// Queue: pushed = popped + still queued + Lost, exactly, but for the
	// caller's two windows, which no library can see into: a producer
	// killed after its Push landed and before it reported it (at most one
	// per producer killed with a push in flight), and a consumer killed
	// after Pop freed its item's cell and before it reported the item (at
	// most one per consumer killed with a pop in flight). An item a killed
	// consumer held inside Pop is the library's, counted in Lost.
	q, err := queue.Open[[]byte](seg, "soak-q")
	if err != nil {
		t.Fatal(err)
	}
	qPushed, kP := sum("soak-qprod", pushed)
	qPopped, kC := sum("soak-qcons", popped)
	var qLeft uint64
	for v := range q.Drain() {
		if _, _, err := soakParseItem(v); err != nil {
			t.Errorf("queue item left at the end: %v", err)
		}
		qLeft++
	}
	qLost := q.Stats().Lost
	uP, uC := inFlight("soak-qprod", true), inFlight("soak-qcons", false)
	if diff := int64(qPopped+qLeft+qLost) - int64(qPushed); diff < -uC || diff > uP {
		t.Errorf("queue: popped %d + left %d + lost %d - pushed %d = %d, want within [-%d, +%d] (consumers killed with a pop in flight, producers with a push in flight)", qPopped, qLeft, qLost, qPushed, diff, uC, uP)
	}
	if int64(qLost) > uC {
		t.Errorf("queue: %d items lost, more than the %d consumers killed with a pop in flight", qLost, uC)
	}
	say("queue: %d pushed, %d popped, %d left, %d lost (held inside Pop by a killed consumer); %d producers and %d consumers killed, %d and %d of them with an operation in flight", qPushed, qPopped, qLeft, qLost, kP, kC, uP, uC)

	// Stack: the same balance; every worker both pushes and pops.
	st, err := stack.Open[uint64](seg, "soak-s")
	if err != nil {
		t.Fatal(err)
	}
	sPushed, kS := sum("soak-stack", pushed)
	sPopped, _ := sum("soak-stack", popped)
	var sLeft uint64
	for {
		v, err := st.Pop()
		if err != nil {
			if !errors.Is(err, stack.ErrEmpty) {
				t.Errorf("stack: draining at the end stopped at %v with Len %d", err, st.Len())
			}
			break
		}
		if v>>40 >= soakLineages || v&(1<<40-1) == 0 {
			t.Errorf("stack item %#x left at the end was never pushed", v)
		}
		sLeft++
	}
	sLost := st.Stats().Lost
	uSP, uSC := inFlight("soak-stack", true), inFlight("soak-stack", false)
	if diff := int64(sPopped+sLeft+sLost) - int64(sPushed); diff < -uSC || diff > uSP {
		t.Errorf("stack: popped %d + left %d + lost %d - pushed %d = %d, want within [-%d, +%d] (workers killed with a pop, a push in flight)", sPopped, sLeft, sLost, sPushed, diff, uSC, uSP)
		for _, l := range s.lin { // what each incarnation reported, to locate the gap
			if l.role == "soak-stack" {
				for i, p := range l.done {
					t.Logf("stack lineage %d incarnation %d: pushed %d popped %d (ops %d) killed %v in flight %v", l.idx, i+1, p.Pushed, p.Popped, p.Ops, l.killed[i], p.In)
				}
			}
		}
	}
	if int64(sLost) > uSC {
		t.Errorf("stack: %d items lost, more than the %d workers killed with a pop in flight", sLost, uSC)
	}
	say("stack: %d pushed, %d popped, %d left, %d lost (held inside Pop by a killed worker); %d workers killed, %d with a push and %d with a pop in flight", sPushed, sPopped, sLeft, sLost, kS, uSP, uSC)

	// Map: equal to the model the last incarnation of each writer lineage
	// reported (each restart already checked its predecessor's keys).
	m, err := hashmap.Open[string, []byte](seg, "soak-m")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]uint64{}
	var mapOps uint64
	var kMW int
	for _, l := range s.lin {
		if l.role != "soak-mapw" {
			continue
		}
		kMW += l.kills
		final := l.done[len(l.done)-1]
		for k, seq := range final.Model {
			if seq != 0 {
				want[soakKey(l.idx, k)] = seq
			}
		}
	}
	got := map[string]uint64{}
	for key, v := range m.All() {
		seq, err := soakCheckValue(key, v)
		if err != nil {
			t.Error(err)
			continue
		}
		got[key] = seq
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("map differs from the model of acknowledged writes (-model +map):\n%s", diff)
	}
	// Exact after every kill and recovery: Len (the counter capacity is
	// enforced by) = Stats().Live (slots counted) = entries All yields.
	if ms, n := m.Stats(), m.Len(); ms.Live != len(want) || n != len(want) || len(got) != len(want) {
		t.Errorf("map: Len %d, Stats().Live %d, All yields %d, want %d keys each", n, ms.Live, len(got), len(want))
	}
	// No capacity lost to a kill: emptied, the map takes exactly Cap new
	// keys, then says ErrFull.
	if err := m.Clear(); err != nil {
		t.Errorf("map.Clear: %v", err)
	}
	took := 0
	for ; took <= m.Cap(); took++ {
		if err := m.Store(fmt.Sprintf("cap-%d", took), []byte("x")); err != nil {
			if !errors.Is(err, hashmap.ErrFull) {
				t.Errorf("map: storing new key %d: %v", took, err)
			}
			break
		}
	}
	if took != m.Cap() {
		t.Errorf("map: emptied, it took %d new keys, want its capacity %d", took, m.Cap())
	}
	mapOps, _ = sum("soak-mapw", func(p soakProg) uint64 { return p.Ops })
	say("map: %d writes by %d writer lineages (%d killed); final %d keys equal the model, Len = Live = All; emptied, it took exactly its capacity of %d new keys", mapOps, nMapW, kMW, len(want), took)

	// Counters: each slot equals its lineage's count; the shared slot lags
	// by at most one per killed counter (killed between its two Adds).
	arr, err := array.Open[uint64](seg, "soak-a")
	if err != nil {
		t.Fatal(err)
	}
	var total uint64
	var kA int
	for _, l := range s.lin {
		if l.role != "soak-count" {
			continue
		}
		kA += l.kills
		final := l.done[len(l.done)-1]
		if v := arr.Load(l.idx); v != final.Count {
			t.Errorf("counter %d is %d, its worker acknowledged %d", l.idx, v, final.Count)
		}
		total += arr.Load(l.idx)
	}
	if sh := arr.Load(nCount); sh > total || sh+uint64(kA) < total {
		t.Errorf("shared counter %d, want within [%d, %d]", sh, total-min(total, uint64(kA)), total)
	}
	say("array: %d acknowledged adds exact in %d lineage counters (%d workers killed); shared counter %d lags by %d (adds cut between the two Adds)", total, nCount, kA, arr.Load(nCount), total-arr.Load(nCount))

	// Bits: owned sets are disjoint and set; every other set bit is one a
	// killed claimer had in flight.
	bs, err := bitset.Open(seg, "soak-b")
	if err != nil {
		t.Fatal(err)
	}
	owner := map[int]int{}
	uncertain := map[int]bool{}
	var kB int
	for _, l := range s.lin {
		if l.role != "soak-bits" {
			continue
		}
		kB += l.kills
		for i, p := range l.done {
			if l.killed[i] && p.In {
				uncertain[p.InKey] = true
			}
		}
		for _, b := range l.done[len(l.done)-1].Owned {
			if o, dup := owner[b]; dup {
				t.Errorf("bit %d owned by lineages %d and %d", b, o, l.idx)
			}
			owner[b] = l.idx
			if !bs.Test(b) {
				t.Errorf("bit %d owned by lineage %d is clear", b, l.idx)
			}
		}
	}
	leakedBits := 0
	for b := range bs.Ones() {
		if _, ok := owner[b]; ok {
			continue
		}
		if !uncertain[b] {
			t.Errorf("bit %d is set, owned by nobody, and no killed claimer had it in flight", b)
		}
		leakedBits++
	}
	say("bitset: %d bits owned at the end; %d set bits leaked by %d killed claimers (claim or release in flight)", len(owner), leakedBits, kB)

	// Allocator: with the queue and stack drained and the map cleared, only
	// the objects' own blocks stay published; a leaked block is one of the
	// documented windows (a process killed between unlinking and freeing a
	// block), at most one per kill.
	if err := m.Clear(); err != nil {
		t.Errorf("map.Clear: %v", err)
	}
	kills := 0
	for _, l := range s.lin {
		kills += l.kills
	}
	// Owned bits: every claimer released what it held at its deadline,
	// and recovery released what each killed one held.
	var kOB int
	for _, l := range s.lin {
		if l.role == "soak-obits" {
			kOB += l.kills
		}
	}
	obs := owned.Stats()
	if obs.Set != 0 || obs.Owned != 0 {
		t.Errorf("bitset with owners: %d bits set, %d owned at the end, want 0 (claimers released theirs, recovery the dead ones'): %+v", obs.Set, obs.Owned, obs)
	}
	say("bitset with owners: %d bits released by recovery from %d killed claimers; none owned by a dead process after any kill, none left at the end", obs.Released, kOB)

	// Allocator: exact. With the queue and stack drained and the map
	// cleared, only the objects' own blocks stay published; the heap walk
	// finds no leaked block, no step left half done, and bitmaps that
	// agree with every block's state.
	rep := al.Check()
	if len(rep.Problems) > 0 {
		t.Errorf("alloc.Check: %v", rep.Problems)
	}
	if rep.Owned != 0 {
		t.Errorf("alloc: %d blocks owned by no live process after recovery", rep.Owned)
	}
	if leaked := rep.Published - objects; leaked != 0 {
		t.Errorf("alloc: %d published blocks beyond the %d objects' own (leaked by killed workers)", leaked, objects)
	}
	ast := al.Stats()
	var inUse uint64
	for _, c := range ast.Classes {
		inUse += c.InUse
	}
	if inUse != uint64(rep.Owned+rep.Published) {
		t.Errorf("alloc: Stats says %d blocks in use, the heap walk %d", inUse, rep.Owned+rep.Published)
	}
	// Freed memory serves every size: after the long mix of sizes, the
	// heap holds 64 KiB blocks in at least 90% of what the objects leave.
	var big []segment.Offset
	for {
		off, err := al.Alloc(64<<10 - 16)
		if err != nil {
			if !errors.Is(err, alloc.ErrOutOfMemory) {
				t.Errorf("alloc: filling with 64 KiB blocks: %v", err)
			}
			break
		}
		big = append(big, off)
	}
	for _, off := range big {
		al.Free(off)
	}
	room := ast.HeapBytes - ast.UsedBytes
	share := float64(len(big)) * (64 << 10) / float64(room)
	if share < 0.9 {
		t.Errorf("alloc: after the soak the heap holds %d blocks of 64 KiB, %.1f%% of the %d bytes the objects leave", len(big), 100*share, room)
	}
	say("alloc: %d allocs, %d frees; after draining: %d blocks in use (the objects' own), 0 leaked, 0 steps left half done, Stats equal to the heap walk; then %d blocks of 64 KiB fit, %.1f%% of the room left", ast.Allocs, ast.Frees, inUse, len(big), 100*share)

	// Operations, kills, stalls.
	var ops uint64
	var stall int64
	var stallOp, stallRole string
	type roleOps struct {
		role       string
		ops, kills int
		maxNs      int64
	}
	var per []roleOps
	for _, r := range soakRoles {
		ro := roleOps{role: r.scenario}
		for _, l := range s.lin {
			if l.role != r.scenario {
				continue
			}
			ro.kills += l.kills
			for _, p := range l.done {
				ro.ops += int(p.Ops)
				ro.maxNs = max(ro.maxNs, p.MaxNs)
				if p.MaxNs > stall {
					stall, stallOp, stallRole = p.MaxNs, p.MaxOp, l.role
				}
			}
		}
		ops += uint64(ro.ops)
		per = append(per, ro)
	}
	sort.Slice(per, func(i, j int) bool { return per[i].ops > per[j].ops })
	head := []string{
		fmt.Sprintf("soak: %v on %d CPUs, %d worker lineages, %d processes started, %d SIGKILLs survived", elapsed.Round(time.Second), runtime.NumCPU(), len(s.lin), s.starts, kills),
		fmt.Sprintf("operations: %d (%.0f/s)", ops, float64(ops)/elapsed.Seconds()),
	}
	for _, ro := range per {
		head = append(head, fmt.Sprintf("  %-11s %10d ops, %4d killed, longest op %v", ro.role, ro.ops, ro.kills, time.Duration(ro.maxNs).Round(time.Microsecond)))
	}
	head = append(head,
		fmt.Sprintf("longest stall of any worker: %v (%s in %s); longest Recover: %v", time.Duration(stall).Round(time.Microsecond), stallOp, stallRole, maxRecover.Round(time.Microsecond)),
		fmt.Sprintf("recovery: %d dead processes repaired, %d intents completed or rolled back, %d blocks reclaimed", s.recover.DeadProcesses, s.recover.Intents, s.recover.Reclaimed))
	out := strings.Join(slices.Concat(head, summary), "\n")
	t.Log("\n" + out)
	if f := os.Getenv("SOAK_SUMMARY"); f != "" {
		os.WriteFile(f, []byte(out+"\n"), 0o644)
	}
}
