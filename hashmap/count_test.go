package hashmap_test

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posixshm/posixshm/hashmap"
)

// checkExact checks the counts of a map at rest: Len, Stats' Live and
// Counter and the entries All yields agree, and the map takes exactly
// Cap-Len new keys before ErrFull; then, cleared, exactly Cap (so a
// counter that drifted past the capacity, which Len's clamp would hide,
// shows too).
func checkExact(t *testing.T, m *hashmap.Map[string, string]) {
	t.Helper()
	st := m.Stats()
	all := 0
	for range m.All() {
		all++
	}
	if n := m.Len(); n != st.Live || st.Counter != st.Live || all != st.Live || st.InFlight != 0 {
		t.Fatalf("Len %d, All yields %d, stats %+v: want Len = Live = Counter = entries of All, none in flight", n, all, st)
	}
	if mk := m.LiveMark(); mk != 0 {
		t.Fatalf("at rest the live word still marks slot %d", mk-1)
	}
	fillExactly(t, m, "fill", m.Cap()-m.Len())
	if err := m.Clear(); err != nil {
		t.Fatal(err)
	}
	if n, st := m.Len(), m.Stats(); n != 0 || st.Counter != 0 || st.Live != 0 {
		t.Fatalf("after Clear: Len %d, stats %+v", n, st)
	}
	fillExactly(t, m, "refill", m.Cap())
}

// fillExactly stores n new keys, each of which must fit, and then one more,
// which must not.
func fillExactly(t *testing.T, m *hashmap.Map[string, string], prefix string, n int) {
	t.Helper()
	for i := range n {
		if err := m.Store(fmt.Sprint(prefix, i), "v"); err != nil {
			t.Fatalf("new key %d of the %d that should fit (Len %d, Cap %d): %v", i+1, n, m.Len(), m.Cap(), err)
		}
	}
	if err := m.Store(prefix+"-over", "v"); !errors.Is(err, hashmap.ErrFull) {
		t.Fatalf("key %d past the %d that fit: err %v, want ErrFull (stats %+v)", n+1, n, err, m.Stats())
	}
}

// TestCountExactAfterKill kills a writer (and, in the repair cases, the
// process repairing it) in each window where the Len counter used to be
// left off for good (repair.go, "The Len counter"), recovers, and checks
// the counts (checkExact) and the high-water mark. Before the live word's
// mark each case failed: the counter stayed one above the keys, and the
// map one key short of its capacity.
func TestCountExactAfterKill(t *testing.T) {
	if os.Getenv(repairEnv) != "" {
		t.Skip("in a child")
	}
	for _, c := range []struct {
		name   string
		setup  func(t *testing.T, m *hashmap.Map[string, string]) (release func())
		op     string
		pause  int // the child waits here while the parent stores one more key
		point  int
		repair int // a second child, recovering the first, is killed here
	}{
		// An insert that has changed the counter and is killed before its
		// slot says so (it used to count before it took an intent).
		{"insert/counted", nil, "insert", 0, hashmap.HkCounted, 0},
		// An insert that lost to an earlier claim of its key and waits for
		// it, with no intent (it used to hold its count while waiting).
		{"insert/lost", holdClaim, "insert", 0, hashmap.HkInsertLost, 0},
		// An insert that finds the map full when it counts: the child
		// passes the look at the counter with one key of room left,
		// which the parent then takes (it used to count past the
		// capacity, then give the count back).
		{"insert/full", fillMapButOne, "insert", hashmap.HkInsertReserved, hashmap.HkInsertFull, 0},
		// A delete whose key is gone (it used to lower the counter only
		// after clearing its pending bit).
		{"delete/pending-cleared", nil, "delete", 0, hashmap.HkTombCleared, 0},
		// The repair of a dead delete, killed after clearing the pending
		// bit (it used to lower the counter after).
		{"repair-delete/pending-cleared", nil, "delete", 0, hashmap.HkDeleteLinked, hashmap.HkTombCleared},
		// The repair of a dead insert, killed after yielding its claim (it
		// used to give the insert's count back after).
		{"repair-insert/yielded", nil, "insert", 0, hashmap.HkInsertClaimed, hashmap.HkRepairYielded},
	} {
		t.Run(c.name, func(t *testing.T) {
			name, seg, m := repairSeg(t)
			var release func()
			if c.setup != nil {
				release = c.setup(t, m)
			}
			hw := m.Stats().HighWater
			if c.pause != 0 {
				hw++ // the parent's key
			}
			runToHookAfter(t, name, c.op, c.pause, func() {
				if err := m.Store("last", "v"); err != nil {
					t.Error(err)
				}
			}, c.point)
			if c.repair != 0 {
				runToHook(t, name, "recover", c.repair)
			}
			if release != nil {
				release()
			}
			if _, err := seg.Recover(); err != nil {
				t.Fatal(err)
			}
			if st := m.Stats(); st.HighWater != max(hw, st.Live) {
				t.Errorf("HighWater %d, want %d: the most keys held (stats %+v)", st.HighWater, max(hw, st.Live), st)
			}
			checkExact(t, m)
		})
	}
}

// holdClaim starts a Store of n in this process and holds it with its
// claim landed, so that the child's Store of n loses to it; release lets
// it finish.
func holdClaim(t *testing.T, m *hashmap.Map[string, string]) func() {
	held, resume := make(chan struct{}), make(chan struct{})
	var once atomic.Bool
	hashmap.SetTestHook(func(p int) {
		if p == hashmap.HkInsertClaimed && once.CompareAndSwap(false, true) {
			close(held)
			<-resume
		}
	})
	t.Cleanup(func() { hashmap.SetTestHook(nil) })
	done := make(chan error, 1)
	go func() { done <- m.Store("n", "held") }()
	<-held
	return func() {
		close(resume)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		hashmap.SetTestHook(nil)
	}
}

// fillMapButOne stores keys until the map has room for one more.
func fillMapButOne(t *testing.T, m *hashmap.Map[string, string]) func() {
	for i := 0; m.Len() < m.Cap()-1; i++ {
		if err := m.Store(fmt.Sprint("full", i), "v"); err != nil {
			t.Fatal(err)
		}
	}
	return nil
}

// TestHighWaterLosingInsert: two inserts of one key, the second losing to
// the first's claim, make one key. HighWater must say one: the losing
// insert used to count itself for a moment, and the high-water mark kept
// that moment.
func TestHighWaterLosingInsert(t *testing.T) {
	seg := newSeg(t, 4<<20)
	m, err := hashmap.New[string, string](seg, "hw", hashmap.MaxEntries(4))
	if err != nil {
		t.Fatal(err)
	}
	held, resume, lost := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var heldOnce, lostOnce atomic.Bool
	hashmap.SetTestHook(func(p int) {
		switch {
		case p == hashmap.HkInsertClaimed && heldOnce.CompareAndSwap(false, true):
			close(held)
			<-resume
		case p == hashmap.HkInsertLost && lostOnce.CompareAndSwap(false, true):
			close(lost)
		}
	})
	t.Cleanup(func() { hashmap.SetTestHook(nil) })
	first, second := make(chan error, 1), make(chan error, 1)
	go func() { first <- m.Store("x", "first") }()
	<-held
	go func() { second <- m.Store("x", "second") }()
	<-lost
	close(resume)
	for _, done := range []chan error{first, second} {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if st := m.Stats(); st.Live != 1 || st.Counter != 1 || st.HighWater != 1 {
		t.Fatalf("stats %+v: want 1 key, counted 1, high-water 1", st)
	}
}

// TestCountHelped: a writer dies with the counter changed and the live
// word marked, but its slot not yet told (HkCounted); before any recovery
// a live writer changes the counter too, replacing the mark, so it must
// first tell the dead writer's slot (help). Recovery then finds the slot
// counted by the slot alone.
func TestCountHelped(t *testing.T) {
	if os.Getenv(repairEnv) != "" {
		t.Skip("in a child")
	}
	for _, op := range []string{"insert", "delete"} {
		t.Run(op, func(t *testing.T) {
			name, seg, m := repairSeg(t)
			runToHook(t, name, op, hashmap.HkCounted)
			if err := m.Store("z", "v"); err != nil { // an insert: it changes the counter
				t.Fatal(err)
			}
			if st := m.Stats(); st.InFlight != 1 {
				t.Fatalf("before recovery: %+v, want the dead writer's slot in flight", st)
			}
			if _, err := seg.Recover(); err != nil {
				t.Fatal(err)
			}
			if _, ok, _ := m.Load("n"); op == "insert" && !ok {
				t.Error("the dead insert of n was counted but not completed")
			}
			want := 6 // a b k c, z and n
			if op == "delete" {
				want = 4 // a b c and z
			}
			if st := m.Stats(); st.Live != want || st.Repaired != 1 {
				t.Errorf("stats %+v, want %d keys and 1 repair", st, want)
			}
			checkExact(t, m)
		})
	}
}

// TestNoMarkLeftBehind: a write takes its mark off the live word before
// its slot can change hands. Here the parent's write of k ends, a child
// takes k's slot for its own write of k and dies before counting, and a
// live insert then changes the count. Had the parent's mark stayed, that
// insert would have told the child's slot it was counted, and recovery
// would finish a write whose count never changed.
func TestNoMarkLeftBehind(t *testing.T) {
	if os.Getenv(repairEnv) != "" {
		t.Skip("in a child")
	}
	for _, c := range []struct {
		name, op string
		point    int
		before   func(m *hashmap.Map[string, string]) error
	}{
		{"delete", "delete", hashmap.HkDeleteLinked, func(m *hashmap.Map[string, string]) error {
			if err := m.Delete("k"); err != nil {
				return err
			}
			return m.Store("k", "old-value") // marks k's slot
		}},
		{"insert", "reinsert", hashmap.HkInsertReserved, func(m *hashmap.Map[string, string]) error {
			return m.Delete("k") // marks k's slot, which the child's claim takes
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			name, seg, m := repairSeg(t)
			if err := c.before(m); err != nil {
				t.Fatal(err)
			}
			if mk := m.LiveMark(); mk != 0 {
				t.Fatalf("the parent's write left its mark of slot %d", mk-1)
			}
			runToHook(t, name, c.op, c.point)
			if err := m.Store("z", "v"); err != nil {
				t.Fatal(err)
			}
			if _, err := seg.Recover(); err != nil {
				t.Fatal(err)
			}
			checkExact(t, m)
		})
	}
}

// TestReservedClaimWins: a reserved claim has won its key and may have
// counted it, so another insert of the key must wait for it, even from a
// slot nearer the key's home, where it would kill an unreserved claim. The
// child reserves its claim of n one slot past n's home and waits; the
// parent frees the home slot and stores n there meanwhile; then the child
// goes on and is killed once done. n must be live once, and counted once.
func TestReservedClaimWins(t *testing.T) {
	if os.Getenv(repairEnv) != "" {
		t.Skip("in a child")
	}
	seg := newSeg(t, 4<<20)
	m, err := hashmap.New[string, string](seg, "rm", hashmap.MaxEntries(16))
	if err != nil {
		t.Fatal(err)
	}
	mask := uint64(len(m.SlotWords()) - 1)
	home := m.HashOf("n") & mask
	y := ""
	for i := 0; y == ""; i++ {
		if k := fmt.Sprint("y", i); m.HashOf(k)&mask == home {
			y = k
		}
	}
	if err := m.Store(y, "v"); err != nil { // takes n's home slot
		t.Fatal(err)
	}
	parent := make(chan error, 1)
	runToHookAfter(t, seg.Name(), "insert", hashmap.HkInsertReserved, func() {
		if err := m.Delete(y); err != nil { // n's home slot is free again
			t.Fatal(err)
		}
		go func() { parent <- m.Store("n", "parent") }()
		select {
		case err := <-parent:
			t.Errorf("the parent's Store of n returned (%v) while the child's reserved claim of n was in flight", err)
			parent <- err
		case <-time.After(50 * time.Millisecond): // waiting for the child's claim, as it should
		}
	}, hashmap.HkFreed)
	if err := within(t, parent, 10*time.Second, "the parent's Store of n still waits after the child finished"); err != nil {
		t.Fatal(err)
	}
	if _, err := seg.Recover(); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := m.Load("n"); err != nil || !ok || v != "parent" {
		t.Errorf("Load(n) = %q %v %v, want the parent's value, stored over the child's", v, ok, err)
	}
	obj, err := seg.Lookup("rm")
	if err != nil {
		t.Fatal(err)
	}
	if probs := hashmap.Check(seg, obj); len(probs) > 0 {
		t.Errorf("Check: %q", probs)
	}
	checkExact(t, m)
}
