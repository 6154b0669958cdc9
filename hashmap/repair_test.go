package hashmap_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posixshm/posixshm/alloc"
	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/segment"
)

// Crash repair, deterministically: a child process (this test binary,
// re-executed) runs one write and stops at a hook point inside the write
// path; the parent SIGKILLs it there, runs segment recovery and checks that
// the key holds the old or the new value (never a mix, never a dangling
// record), that no block leaked but in the window the package Caveats
// name, and that the counts are exact (checkExact).

const repairEnv = "HM_REPAIR_CHILD"

const (
	hookReached = "HOOK-REACHED"
	hookPaused  = "HOOK-PAUSED"
)

// TestRepairChild is the child's side; it does nothing unless started by
// runToHook. The spec is "segment|op|point|pause": do op and stop at
// point; if pause is not 0, first wait at pause until a line on stdin.
func TestRepairChild(t *testing.T) {
	spec := os.Getenv(repairEnv)
	if spec == "" {
		t.Skip("child process of TestRepair")
	}
	f := strings.Split(spec, "|")
	point, _ := strconv.Atoi(f[2])
	pause, _ := strconv.Atoi(f[3])
	hashmap.SetTestHook(func(p int) {
		switch p {
		case pause:
			pause = 0
			fmt.Println(hookPaused)
			os.Stdout.Sync()
			bufio.NewReader(os.Stdin).ReadString('\n')
		case point:
			fmt.Println(hookReached)
			os.Stdout.Sync()
			time.Sleep(time.Hour) // until SIGKILL
		}
	})
	seg, err := segment.Open(f[0]) // runs recovery: op "recover" stops in it
	if err != nil {
		t.Fatal(err)
	}
	m, err := hashmap.Open[string, string](seg, "rm")
	if err != nil {
		t.Fatal(err)
	}
	switch f[1] {
	case "replace":
		err = m.Store("k", "new-value")
	case "delete":
		err = m.Delete("k")
	case "insert":
		err = m.Store("n", "new-value")
	case "reinsert": // k, deleted by the parent
		err = m.Store("k", "new-value")
	case "recover":
		_, err = seg.Recover()
	}
	t.Fatalf("op %s ended (err %v) without reaching hook point %d", f[1], err, point)
}

// runToHook starts a child doing op, waits until it reaches point, and
// kills it there with SIGKILL.
func runToHook(t *testing.T, segName, op string, point int) {
	t.Helper()
	runToHookAfter(t, segName, op, 0, nil, point)
}

// runToHookAfter is runToHook with a pause: the child waits at hook point
// pause while the parent runs meanwhile, then goes on to point.
func runToHookAfter(t *testing.T, segName, op string, pause int, meanwhile func(), point int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestRepairChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%d|%d", repairEnv, segName, op, point, pause))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reached, paused := make(chan bool, 1), make(chan bool, 1)
	var lines []string
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			switch sc.Text() {
			case hookPaused:
				paused <- true
				continue
			case hookReached:
				reached <- true
				return
			}
			lines = append(lines, sc.Text())
		}
		reached <- false
	}()
	ok := true
	if pause != 0 {
		select {
		case <-paused:
			meanwhile()
			fmt.Fprintln(in)
		case <-reached: // ended, or went past pause without stopping
			ok = false
		case <-time.After(30 * time.Second):
			ok = false
		}
	}
	if ok {
		select {
		case ok = <-reached:
		case <-time.After(30 * time.Second):
			ok = false
		}
	}
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	if !ok {
		t.Fatalf("child (%s, pause %d, point %d) never reached the hook; output %q, stderr %s", op, pause, point, lines, stderr.String())
	}
}

type repairCase struct {
	name  string
	op    string // replace: Store over k; delete: Delete k; insert: Store of the absent n
	point int
	want  string // "old", "new" or "absent": what the key holds after repair
	leak  int    // records leaked: none since finish adopts the displaced record before it drops it
	fixed int    // Stats.Repaired after recovery: slots the repair changed
}

var repairCases = []repairCase{
	{"replace/before-CAS", "replace", hashmap.HkReplaceBuilt, "old", 0, 0},
	{"replace/CAS-landed", "replace", hashmap.HkReplaceLinked, "new", 0, 1},
	{"replace/published", "replace", hashmap.HkPublished, "new", 0, 1},
	{"replace/pending-cleared", "replace", hashmap.HkCleared, "new", 0, 0},
	{"replace/old-freed", "replace", hashmap.HkFreed, "new", 0, 0},
	{"delete/CAS-landed", "delete", hashmap.HkDeleteLinked, "absent", 0, 1},
	{"delete/counted", "delete", hashmap.HkCounted, "absent", 0, 1},
	{"delete/marked", "delete", hashmap.HkDeleteMarked, "absent", 0, 1},
	{"delete/pending-cleared", "delete", hashmap.HkTombCleared, "absent", 0, 0},
	{"delete/ops-counted", "delete", hashmap.HkCleared, "absent", 0, 0},
	{"delete/old-freed", "delete", hashmap.HkFreed, "absent", 0, 0},
	{"insert/claimed", "insert", hashmap.HkInsertClaimed, "absent", 0, 1},
	{"insert/reserved", "insert", hashmap.HkInsertReserved, "absent", 0, 1},
	{"insert/counted", "insert", hashmap.HkCounted, "new", 0, 1},
	{"insert/promoted", "insert", hashmap.HkInsertPromoted, "new", 0, 1},
	{"insert/published", "insert", hashmap.HkPublished, "new", 0, 1},
	{"insert/pending-cleared", "insert", hashmap.HkCleared, "new", 0, 0},
}

// repairCaseNamed returns the case called name.
func repairCaseNamed(t *testing.T, name string) repairCase {
	for _, c := range repairCases {
		if c.name == name {
			return c
		}
	}
	t.Fatalf("no repair case %q", name)
	return repairCase{}
}

// repairSeg creates a named segment with map "rm" holding k = "old-value"
// and a few other keys.
func repairSeg(t *testing.T) (string, *segment.Segment, *hashmap.Map[string, string]) {
	t.Helper()
	name := fmt.Sprintf("/psm-hmr-%d-%x", os.Getpid(), rand.Uint64())
	seg, err := segment.Create(name, 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Close(); segment.Remove(name) })
	m, err := hashmap.New[string, string](seg, "rm", hashmap.MaxEntries(16))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a", "b", "k", "c"} {
		if err := m.Store(k, "old-value"); err != nil {
			t.Fatal(err)
		}
	}
	return name, seg, m
}

// checkRepaired checks the map after recovery: the key, the slots, the
// blocks, that writes go on, and the counts (checkExact).
func checkRepaired(t *testing.T, seg *segment.Segment, m *hashmap.Map[string, string], c repairCase) {
	t.Helper()
	key := "k"
	if c.op == "insert" {
		key = "n"
	}
	v, ok, err := m.Load(key)
	got := "absent"
	switch {
	case err != nil:
		t.Fatalf("Load(%s) after repair: %v", key, err)
	case ok && v == "old-value":
		got = "old"
	case ok && v == "new-value":
		got = "new"
	case ok:
		t.Fatalf("Load(%s) after repair = %q: neither the old nor the new value", key, v)
	}
	if got != c.want {
		t.Errorf("%s holds %s after repair, want %s", key, got, c.want)
	}
	st := m.Stats()
	if st.InFlight != 0 {
		t.Errorf("slots still in flight after repair: %+v", st)
	}
	if want := max(4, st.Live); st.HighWater != want { // repairSeg's 4 keys, or 5 with n
		t.Errorf("HighWater %d, want %d", st.HighWater, want)
	}
	if mk := m.LiveMark(); mk != 0 {
		t.Errorf("after repair the live word still marks slot %d", mk-1)
	}
	if st.Repaired != c.fixed {
		t.Errorf("Stats.Repaired = %d, want %d", st.Repaired, c.fixed)
	}
	a, err := alloc.Of(seg)
	if err != nil {
		t.Fatal(err)
	}
	chk := a.Check()
	if len(chk.Problems) > 0 || chk.Owned != 0 {
		t.Errorf("alloc check: %d owned, problems %v", chk.Owned, chk.Problems)
	}
	as := a.Stats()
	if inUse, want := as.Allocs-as.Frees, uint64(1+st.Live+c.leak); inUse != want {
		t.Errorf("%d blocks in use, want %d (map + %d live records + %d leaked by design)", inUse, want, st.Live, c.leak)
	}
	// The map works on: nothing waits for the dead writer.
	done := make(chan error, 1)
	go func() {
		if err := m.Store(key, "after"); err != nil {
			done <- err
			return
		}
		if v, ok, err := m.Load(key); err != nil || !ok || v != "after" {
			done <- fmt.Errorf("Load after Store = %q %v %v", v, ok, err)
			return
		}
		done <- m.Delete("a")
	}()
	if err := within(t, done, 10*time.Second, "writes after repair still blocked after 10s"); err != nil {
		t.Error(err)
	}
	checkExact(t, m)
}

func TestRepair(t *testing.T) {
	if os.Getenv(repairEnv) != "" {
		t.Skip("in a child")
	}
	for _, c := range repairCases {
		t.Run(c.name, func(t *testing.T) {
			name, seg, m := repairSeg(t)
			runToHook(t, name, c.op, c.point)
			rep, err := seg.Recover()
			if err != nil {
				t.Fatal(err)
			}
			if rep.DeadProcesses != 1 || rep.Intents != 1 || len(rep.Errors) > 0 || rep.Unhandled > 0 {
				t.Errorf("recovery %+v, want 1 dead process and 1 intent", rep)
			}
			checkRepaired(t, seg, m, c)
			if rep, _ := seg.Recover(); rep.DeadProcesses != 0 || rep.Intents != 0 {
				t.Errorf("second recovery did something: %+v", rep)
			}
		})
	}
}

// TestRepairRepairerKilled: the writer dies with its CAS landed, then the
// process repairing it dies too, at each point of the repair; the next
// recovery finishes the job.
func TestRepairRepairerKilled(t *testing.T) {
	if os.Getenv(repairEnv) != "" {
		t.Skip("in a child")
	}
	for _, c := range []struct {
		name   string
		point  int
		leak   int
		fixed  int
		writer repairCase
	}{
		{"after-publish", hashmap.HkPublished, 0, 1, repairCaseNamed(t, "replace/CAS-landed")},
		{"after-clear", hashmap.HkCleared, 0, 0, repairCaseNamed(t, "replace/CAS-landed")},
		{"delete/after-clear", hashmap.HkTombCleared, 0, 0, repairCaseNamed(t, "delete/CAS-landed")},
		{"delete/after-counting", hashmap.HkRepairCounted, 0, 1, repairCaseNamed(t, "delete/CAS-landed")},
		{"delete/after-marking", hashmap.HkDeleteMarked, 0, 1, repairCaseNamed(t, "delete/CAS-landed")},
		{"insert/after-promoting", hashmap.HkInsertPromoted, 0, 1, repairCaseNamed(t, "insert/counted")},
		{"insert/after-yield", hashmap.HkRepairYielded, 0, 0, repairCaseNamed(t, "insert/claimed")},
	} {
		t.Run(c.name, func(t *testing.T) {
			name, seg, m := repairSeg(t)
			runToHook(t, name, c.writer.op, c.writer.point)
			runToHook(t, name, "recover", c.point)
			rep, err := seg.Recover()
			if err != nil {
				t.Fatal(err)
			}
			// The repairer died inside segment.Open, repairing the
			// writer's slot while claiming it: one dead slot, repaired now.
			if rep.DeadProcesses != 1 || rep.Intents != 1 || len(rep.Errors) > 0 {
				t.Errorf("recovery %+v, want 1 dead process and 1 intent", rep)
			}
			w := c.writer
			w.leak, w.fixed = c.leak, c.fixed
			checkRepaired(t, seg, m, w)
		})
	}
}

// TestRepairByWaiter: nobody runs recovery; a live writer meets the dead
// writer's pending slot, waits, finds the owner dead and repairs it.
func TestRepairByWaiter(t *testing.T) {
	if os.Getenv(repairEnv) != "" {
		t.Skip("in a child")
	}
	for _, name := range []string{"replace/CAS-landed", "delete/CAS-landed", "delete/counted", "insert/reserved", "insert/counted", "insert/promoted"} {
		c := repairCaseNamed(t, name)
		t.Run(c.name, func(t *testing.T) {
			_, seg, m := repairSeg(t)
			name := seg.Name()
			runToHook(t, name, c.op, c.point)
			key := "k"
			if c.op == "insert" {
				key = "n"
			}
			start := time.Now()
			if err := m.Store(key, "third"); err != nil {
				t.Fatal(err)
			}
			t.Logf("Store over the dead writer's slot took %v", time.Since(start))
			if v, ok, err := m.Load(key); err != nil || !ok || v != "third" {
				t.Fatalf("Load = %q %v %v", v, ok, err)
			}
			if c.op == "delete" {
				// A deleted key's slot blocks nobody (it is not reusable
				// until repaired), so the Store went elsewhere; the next
				// recovery finishes the delete.
				if st := m.Stats(); st.InFlight != 1 || st.Repaired != 0 {
					t.Errorf("before recovery: %+v", st)
				}
				seg.Recover()
			}
			st := m.Stats()
			if st.Repaired != 1 || st.InFlight != 0 || st.Live != st.Counter {
				t.Errorf("stats %+v", st)
			}
			a, _ := alloc.Of(seg)
			if as := a.Stats(); as.Allocs-as.Frees != uint64(1+st.Live) {
				t.Errorf("%d blocks in use, want %d", as.Allocs-as.Frees, 1+st.Live)
			}
			checkExact(t, m)
		})
	}
}

// TestClearWaitsOutDeadDeleter: a deleter killed after its CAS leaves a
// pending tombstone whose record was written by a live process (the parent).
// Every operation on the map must still finish in bounded time: none may wait
// for the dead deleter because the record names a live writer.
func TestClearWaitsOutDeadDeleter(t *testing.T) {
	if os.Getenv(repairEnv) != "" {
		t.Skip("in a child")
	}
	_, seg, m := repairSeg(t)
	runToHook(t, seg.Name(), "delete", hashmap.HkDeleteLinked)
	done := make(chan error, 1)
	go func() {
		if _, _, err := m.LoadOrStore("k", "again"); err != nil {
			done <- err
			return
		}
		if _, err := m.CompareAndDelete("k", "again"); err != nil {
			done <- err
			return
		}
		done <- m.Clear()
	}()
	if err := within(t, done, 10*time.Second, "operations still waiting on a dead deleter's slot after 10s"); err != nil {
		t.Fatal(err)
	}
	seg.Recover()
	if st := m.Stats(); m.Len() != 0 || st.InFlight != 0 {
		t.Fatalf("after Clear and recovery: Len %d, stats %+v", m.Len(), st)
	}
}
