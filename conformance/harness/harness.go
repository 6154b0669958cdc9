// Package harness runs conformance scenarios in real child processes. A
// test binary re-executes itself: TestMain calls Main, which runs the
// scenario named in the environment when the process is a child and the
// tests otherwise. The parent starts groups of children, hands them a
// segment name and arguments, can SIGKILL any of them, and collects what
// each reported.
package harness

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/posixshm/posixshm/segment"
)

const (
	envScenario = "PSHM_HARNESS_SCENARIO"
	envIndex    = "PSHM_HARNESS_INDEX"
	envSeg      = "PSHM_HARNESS_SEGMENT"
	envArgs     = "PSHM_HARNESS_ARGS"

	resultPrefix   = "PSHM-RESULT "
	progressPrefix = "PSHM-PROGRESS "
)

// Args are string arguments handed to every child of a group.
type Args map[string]string

// Child is what a scenario function sees of its own process.
type Child struct {
	Index int    // 0..n-1 within its group
	Seg   string // segment name the parent chose
	args  Args
	mu    sync.Mutex
}

// Arg returns argument key, or "".
func (c *Child) Arg(key string) string { return c.args[key] }

// IntArg returns argument key as an int; a missing or malformed one is 0.
func (c *Child) IntArg(key string) int {
	n, _ := strconv.Atoi(c.args[key])
	return n
}

// Report sends v, JSON-encoded, as the child's result. The last report wins.
func (c *Child) Report(v any) { c.emit(resultPrefix, v) }

// Progress sends v as the child's latest progress, so the parent knows how
// far a child got if it is killed.
func (c *Child) Progress(v any) { c.emit(progressPrefix, v) }

func (c *Child) emit(prefix string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	os.Stdout.Write(append(append([]byte(prefix), b...), '\n'))
}

// WaitStart sleeps until the start time the parent gave the group, so that
// children race from the same instant.
func (c *Child) WaitStart() {
	at, _ := strconv.ParseInt(c.args["start_at"], 10, 64)
	if d := time.Until(time.Unix(0, at)); d > 0 {
		time.Sleep(d)
	}
}

var (
	scenariosMu sync.Mutex
	scenarios   = map[string]func(*Child) error{}
)

// Register makes fn runnable in children under name. Call it from init.
func Register(name string, fn func(*Child) error) {
	scenariosMu.Lock()
	defer scenariosMu.Unlock()
	if _, dup := scenarios[name]; dup {
		panic("harness: scenario registered twice: " + name)
	}
	scenarios[name] = fn
}

// Main runs the scenario this process was started for, or the tests.
func Main(m *testing.M) {
	name := os.Getenv(envScenario)
	if name == "" {
		os.Exit(m.Run())
	}
	scenariosMu.Lock()
	fn := scenarios[name]
	scenariosMu.Unlock()
	if fn == nil {
		fmt.Fprintf(os.Stderr, "harness: no scenario %q\n", name)
		os.Exit(3)
	}
	idx, _ := strconv.Atoi(os.Getenv(envIndex))
	c := &Child{Index: idx, Seg: os.Getenv(envSeg)}
	if err := json.Unmarshal([]byte(os.Getenv(envArgs)), &c.args); err != nil {
		fmt.Fprintf(os.Stderr, "harness: bad args: %v\n", err)
		os.Exit(3)
	}
	if err := fn(c); err != nil {
		fmt.Fprintf(os.Stderr, "scenario %s child %d: %v\n", name, idx, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// SegmentName returns a segment name unique to this test run and removes the
// segment when the test ends, pass or fail.
func SegmentName(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("/psm-conf-%d-%x", os.Getpid(), rand.Uint64())
	t.Cleanup(func() { segment.Remove(name) })
	return name
}

// Outcome is how one child ended.
type Outcome struct {
	Index    int
	Killed   bool            // ended by SIGKILL (from Kill or anyone else)
	Err      error           // non-nil if it exited non-zero for another reason
	Result   json.RawMessage // its last Report, or nil
	Progress json.RawMessage // its last Progress, or nil
	Stderr   string
}

// Group is a set of running children.
type Group struct {
	t        testing.TB
	scenario string
	procs    []*proc
	timeout  time.Duration
}

type proc struct {
	cmd    *exec.Cmd
	mu     sync.Mutex
	result json.RawMessage
	prog   json.RawMessage
	stderr bytes.Buffer
	done   chan struct{}
	err    error
}

// Start launches n children running scenario on segment seg with args. The
// children are killed at the end of the test if still running.
func Start(t testing.TB, scenario, seg string, n int, args Args) *Group {
	t.Helper()
	return StartCmd(t, scenario, seg, n, args, nil)
}

// StartCmd is Start with a hook that can change each child's command before
// it starts (pass it descriptors, say).
func StartCmd(t testing.TB, scenario, seg string, n int, args Args, prepare func(i int, cmd *exec.Cmd) error) *Group {
	t.Helper()
	all := Args{"start_at": strconv.FormatInt(time.Now().Add(time.Duration(n)*20*time.Millisecond+200*time.Millisecond).UnixNano(), 10)}
	for k, v := range args {
		all[k] = v
	}
	g := &Group{t: t, scenario: scenario, timeout: 3 * time.Minute}
	for i := range n {
		cmd := Command(scenario, i, seg, all)
		if prepare != nil {
			if err := prepare(i, cmd); err != nil {
				t.Fatal(err)
			}
		}
		p := &proc{cmd: cmd, done: make(chan struct{})}
		cmd.Stderr = &p.stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatalf("harness: start child %d: %v", i, err)
		}
		go p.collect(out)
		g.procs = append(g.procs, p)
	}
	t.Cleanup(func() {
		for _, p := range g.procs {
			p.cmd.Process.Kill()
			<-p.done
		}
	})
	return g
}

// Command returns the command that runs scenario as child index of a group
// on segment seg; Start uses it, and a child can use it to start children of
// its own.
func Command(scenario string, index int, seg string, args Args) *exec.Cmd {
	enc, _ := json.Marshal(args)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(),
		envScenario+"="+scenario,
		envIndex+"="+strconv.Itoa(index),
		envSeg+"="+seg,
		envArgs+"="+string(enc),
	)
	return cmd
}

func (p *proc) collect(out interface{ Read([]byte) (int, error) }) {
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var dst *json.RawMessage
		switch {
		case bytes.HasPrefix(line, []byte(resultPrefix)):
			dst, line = &p.result, line[len(resultPrefix):]
		case bytes.HasPrefix(line, []byte(progressPrefix)):
			dst, line = &p.prog, line[len(progressPrefix):]
		default:
			continue
		}
		if json.Valid(line) { // a killed child may leave half a line
			p.mu.Lock()
			*dst = append(json.RawMessage(nil), line...)
			p.mu.Unlock()
		}
	}
	p.err = p.cmd.Wait()
	close(p.done)
}

// Len returns the number of children.
func (g *Group) Len() int { return len(g.procs) }

// Kill sends SIGKILL to child i.
func (g *Group) Kill(i int) {
	g.procs[i].cmd.Process.Signal(syscall.SIGKILL)
}

// Progress returns child i's latest progress report, or nil.
func (g *Group) Progress(i int) json.RawMessage {
	p := g.procs[i]
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.prog
}

// Exited reports whether child i has ended.
func (g *Group) Exited(i int) bool {
	select {
	case <-g.procs[i].done:
		return true
	default:
		return false
	}
}

// KillRandom kills count distinct children chosen by rng, each at a random
// moment within the given duration from now, and returns their indexes. It
// returns at once; the kills happen in the background.
func (g *Group) KillRandom(rng *rand.Rand, count int, within time.Duration, eligible func(i int) bool) []int {
	var idx []int
	for _, i := range rng.Perm(len(g.procs)) {
		if len(idx) == count {
			break
		}
		if eligible == nil || eligible(i) {
			idx = append(idx, i)
		}
	}
	for _, i := range idx {
		d := time.Duration(rng.Int64N(int64(within)))
		time.AfterFunc(d, func() { g.Kill(i) })
	}
	return idx
}

// SetTimeout changes how long Wait lets the children run (default 3 min).
func (g *Group) SetTimeout(d time.Duration) { g.timeout = d }

// Wait waits for every child and returns their outcomes. Past the group's
// timeout it kills them all and fails the test with their stderr.
func (g *Group) Wait() []Outcome {
	g.t.Helper()
	deadline := time.After(g.timeout)
	outs := make([]Outcome, len(g.procs))
	for i, p := range g.procs {
		select {
		case <-p.done:
		case <-deadline:
			for _, q := range g.procs {
				q.cmd.Process.Kill()
			}
			<-p.done
			g.t.Errorf("harness: %s children still running after %v; killed", g.scenario, g.timeout)
		}
		p.mu.Lock()
		o := Outcome{Index: i, Result: p.result, Progress: p.prog, Stderr: p.stderr.String()}
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			o.Killed = true
		}
		if p.err != nil && !o.Killed {
			o.Err = fmt.Errorf("child %d: %v: %s", i, p.err, p.stderr.String())
		}
		p.mu.Unlock()
		outs[i] = o
	}
	return outs
}

// MustSucceed fails the test if any child failed (killed children are
// fine) and returns the outcomes.
func MustSucceed(t testing.TB, outs []Outcome) []Outcome {
	t.Helper()
	for _, o := range outs {
		if o.Err != nil {
			t.Errorf("%v", o.Err)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return outs
}

// Decode unmarshals a child's raw JSON into v, failing the test if it cannot.
func Decode(t testing.TB, raw json.RawMessage, v any) {
	t.Helper()
	if raw == nil {
		t.Fatalf("harness: child reported nothing")
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("harness: decode %s: %v", raw, err)
	}
}
