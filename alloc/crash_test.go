package alloc

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/posixshm/posixshm/segment"
)

// Crash windows: a child process (this test binary, re-executed) opens the
// segment, stops inside one step of Alloc or Free, between its two atomic
// instructions, and is SIGKILLed there. Recovery must then leave a heap
// that Check finds whole, that leaks nothing (the full heap can be
// allocated again, exactly as a fresh one), and whose figures match it.

const crashEnv = "ALLOC_CRASH_STEP"

func TestMain(m *testing.M) {
	if step := os.Getenv(crashEnv); step != "" {
		if err := crashChild(step, os.Getenv("ALLOC_CRASH_SEG")); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(2)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// crashSteps are the steps a child stops in, by name: each does an
// operation's first atomic instruction (or more) and stops before the rest.
var crashSteps = map[string]func(a *Allocator) error{
	// Alloc took a block (state owned), not yet its bit.
	"alloc-state-taken": func(a *Allocator) error {
		off, err := a.Alloc(64)
		if err != nil {
			return err
		}
		c := (uint64(off) - blockHdr - a.chunkOff) / chunkSize
		class := classFor(64 + blockHdr)
		v := a.bitmap(c)[0].Load()
		if v == 0 {
			return errors.New("no free block in the chunk")
		}
		i := uint64(firstBit(v))
		h := a.chunkBase(c) + i*classes[class].size
		if !a.block(h).state.CompareAndSwap(packState(stateFree, class, 0, 0), packState(stateOwned, class, a.slot, a.gen)) {
			return errors.New("state changed")
		}
		return nil
	},
	// Free marked a block freeing, not yet set its bit.
	"free-freeing": func(a *Allocator) error { return freeUpTo(a, false) },
	// Free set the bit, not yet marked the block free.
	"free-bit-set": func(a *Allocator) error { return freeUpTo(a, true) },
	// Claiming a chunk: its table entry carving, its claimed bit not set.
	"claim-entry-taken": func(a *Allocator) error {
		c, ok := a.findRun(1)
		if !ok {
			return errors.New("no free chunk")
		}
		if !a.table[c].CompareAndSwap(0, packChunk(chunkCarving, 0, a.slot, a.gen)) {
			return errors.New("chunk changed")
		}
		a.hdr.chunks.Store(max(a.hdr.chunks.Load(), c+1))
		return nil
	},
	// Returning a chunk to the pool: releasing, its bit still set.
	"release-releasing": func(a *Allocator) error { return releaseUpTo(a, false) },
	// Returning a chunk to the pool: bit cleared, not yet unused.
	"release-bit-cleared": func(a *Allocator) error { return releaseUpTo(a, true) },
	// Carving a small chunk: claimed, half initialised.
	"carving-small": func(a *Allocator) error {
		c, err := a.claimChunks(1, 3)
		if err != nil {
			return err
		}
		a.block(a.chunkBase(c)).state.Store(packState(stateOwned, 3, a.slot, a.gen))
		a.bitmap(c)[0].Store(0xff)
		return nil
	},
	// Retiring an empty chunk: marked retiring, half its blocks retired.
	"retiring-half": func(a *Allocator) error { return retireUpTo(a, 2, false) },
	// Retiring an empty chunk: every block retired, the bits cleared, the
	// chunk not yet released.
	"retiring-all": func(a *Allocator) error { return retireUpTo(a, 4, true) },
	// Freeing a large block of three chunks: marked freeing, one chunk back.
	"freeing-large": func(a *Allocator) error {
		class := classFor(3 * chunkSize)
		off, err := a.Alloc(classes[class].size - blockHdr)
		if err != nil {
			return err
		}
		if err := a.Publish(off); err != nil {
			return err
		}
		c := (uint64(off) - blockHdr - a.chunkOff) / chunkSize
		if !a.table[c].CompareAndSwap(packChunk(chunkLarge, class, 0, 0), packChunk(chunkFreeing, class, a.slot, a.gen)) {
			return errors.New("chunk changed")
		}
		a.releaseChunk(c+1, contWord(class, c))
		return nil
	},
	// Making a large block of three chunks: claimed, one continuation
	// written, the head not yet.
	"carving-large": func(a *Allocator) error {
		class := classFor(3 * chunkSize)
		c, err := a.claimChunks(3, class)
		if err != nil {
			return err
		}
		a.table[c+1].CompareAndSwap(packChunk(chunkCarving, 0, a.slot, a.gen), contWord(class, c))
		return nil
	},
	// Blocks allocated, never published.
	"owned": func(a *Allocator) error {
		for _, n := range []uint64{10, 100, 5000, 70000} {
			if _, err := a.Alloc(n); err != nil {
				return err
			}
		}
		return nil
	},
}

// retireUpTo makes a chunk of four blocks, frees them (a cursor keeps the
// chunk), then retires it up to n blocks retired (clear: and its bits).
func retireUpTo(a *Allocator, n uint64, clear bool) error {
	var offs []segment.Offset
	for range 2 {
		off, err := a.Alloc(4000) // 4 blocks a chunk
		if err != nil {
			return err
		}
		offs = append(offs, off)
	}
	c := (uint64(offs[0]) - blockHdr - a.chunkOff) / chunkSize
	class := classFor(4000 + blockHdr)
	for k := range shards {
		a.hdr.cursors[class][k].Store(c + 1)
	}
	for _, off := range offs {
		if err := a.Free(off); err != nil {
			return err
		}
	}
	if !a.table[c].CompareAndSwap(packChunk(chunkSmall, class, 0, 0), packChunk(chunkRetiring, class, a.slot, a.gen)) {
		return errors.New("chunk changed")
	}
	for i := range n {
		h := a.chunkBase(c) + i*classes[class].size
		if !a.block(h).state.CompareAndSwap(packState(stateFree, class, 0, 0), packState(stateRetired, class, a.slot, a.gen)) {
			return errors.New("state changed")
		}
	}
	if clear {
		a.bitmap(c)[0].Store(0)
	}
	return nil
}

// freeUpTo allocates and publishes a block, then frees it up to the step
// after its state (bitSet: after its bit too).
func freeUpTo(a *Allocator, bitSet bool) error {
	off, err := a.Alloc(64)
	if err != nil {
		return err
	}
	if err := a.Publish(off); err != nil {
		return err
	}
	h, w, err := a.header(off)
	if err != nil {
		return err
	}
	class := classOf(w)
	if !a.block(h).state.CompareAndSwap(w, packState(stateFreeing, class, a.slot, a.gen)) {
		return errors.New("state changed")
	}
	if bitSet {
		c := (h - a.chunkOff) / chunkSize
		i := classes[class].index(h - a.chunkBase(c))
		a.bitmap(c)[i/64].Or(1 << (i % 64))
	}
	return nil
}

// releaseUpTo allocates a one-chunk block and returns its chunk to the
// pool up to the releasing mark (bitCleared: and the claimed bit).
func releaseUpTo(a *Allocator, bitCleared bool) error {
	off, err := a.Alloc(chunkSize - blockHdr)
	if err != nil {
		return err
	}
	c := (uint64(off) - blockHdr - a.chunkOff) / chunkSize
	releasing := packChunk(chunkReleasing, 0, a.slot, a.gen)
	if !a.table[c].CompareAndSwap(packChunk(chunkLarge, classFor(chunkSize), 0, 0), releasing) {
		return errors.New("chunk changed")
	}
	if bitCleared {
		a.claimed[c/64].And(^(uint64(1) << (c % 64)))
	}
	return nil
}

func firstBit(v uint64) int {
	for i := range 64 {
		if v&(1<<i) != 0 {
			return i
		}
	}
	return -1
}

// crashChild runs in the child: it opens the segment, takes the step, says
// so, and waits to be killed.
func crashChild(step, name string) error {
	seg, err := segment.Open(name)
	if err != nil {
		return err
	}
	a, err := Of(seg)
	if err != nil {
		return err
	}
	f, ok := crashSteps[step]
	if !ok {
		return fmt.Errorf("no step %q", step)
	}
	if err := f(a); err != nil {
		return err
	}
	fmt.Println("ready")
	time.Sleep(time.Hour)
	return nil
}

// killInStep runs a child that stops in step, and SIGKILLs it there.
func killInStep(t *testing.T, name, step string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+step, "ALLOC_CRASH_SEG="+name)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child in step %s: %q, %v", step, line, err)
	}
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
}

// testSegment creates a named segment of size bytes, removed at the end.
func testSegment(t *testing.T, size int64) *segment.Segment {
	t.Helper()
	name := fmt.Sprintf("/psm-alloc-crash-%d-%x", os.Getpid(), rand.Uint64())
	seg, err := segment.Create(name, size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Close(); segment.Remove(name) })
	return seg
}

// capacity allocates blocks of n bytes until the heap is full, frees them,
// and returns how many there were.
func capacity(t *testing.T, a *Allocator, n uint64) int {
	t.Helper()
	var offs []segment.Offset
	for {
		off, err := a.Alloc(n)
		if errors.Is(err, ErrOutOfMemory) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		offs = append(offs, off)
	}
	for _, off := range offs {
		if err := a.Free(off); err != nil {
			t.Fatal(err)
		}
	}
	return len(offs)
}

func TestCrashInEveryStepLeaksNothing(t *testing.T) {
	const size = 2 << 20
	fresh, err := Of(testSegment(t, size))
	if err != nil {
		t.Fatal(err)
	}
	want := capacity(t, fresh, 48<<10)
	for step := range crashSteps {
		t.Run(step, func(t *testing.T) {
			seg := testSegment(t, size)
			a, err := Of(seg)
			if err != nil {
				t.Fatal(err)
			}
			killInStep(t, seg.Name(), step)
			// The step really was cut short: before recovery, Check sees
			// what it left (or, for unpublished blocks, their owner).
			if r := a.Check(); len(r.Problems) == 0 && r.Owned == 0 {
				t.Errorf("before recovery Check found nothing: %+v", r)
			}
			rep, err := seg.Recover()
			if err != nil || len(rep.Errors) > 0 || rep.DeadProcesses != 1 {
				t.Fatalf("Recover: %+v, %v", rep, err)
			}
			if r := a.Check(); len(r.Problems) > 0 || r.Owned != 0 || r.Published != 0 && step != "free-state-set" {
				t.Fatalf("after recovery: %+v", r)
			}
			if st := a.Stats(); st.UsedBytes != 0 {
				t.Errorf("after recovery %d bytes in use, want 0: %+v", st.UsedBytes, st)
			}
			// Everything the dead process held or was handling came back:
			// once the chunks that cursors keep for their class are
			// returned (as Alloc does before it reports ErrOutOfMemory),
			// every chunk is in the pool, and the heap holds as many large
			// blocks as a fresh one.
			a.retireIdle()
			if st := a.Stats(); st.ChunksUsed != 0 {
				t.Errorf("after recovery and retireIdle %d chunks in use, want 0: %+v", st.ChunksUsed, st)
			}
			if got := capacity(t, a, 48<<10); got != want {
				t.Errorf("after recovery the heap holds %d blocks of 48 KiB, a fresh one %d", got, want)
			}
			if r := a.Check(); len(r.Problems) > 0 {
				t.Fatalf("after refilling: %v", r.Problems)
			}
		})
	}
}

// TestRecoveryLeavesLiveStepsAlone: the words a live attachment has in a
// naming state (a block it is freeing, a chunk it is releasing) are not
// touched by the recovery of a dead one, which runs meanwhile.
func TestRecoveryLeavesLiveStepsAlone(t *testing.T) {
	seg := testSegment(t, 2<<20)
	a, err := Of(seg)
	if err != nil {
		t.Fatal(err)
	}
	if err := freeUpTo(a, false); err != nil { // our own step, stopped
		t.Fatal(err)
	}
	var freeing uint64
	a.walkBlocks(func(h, w uint64, _ bool) error {
		if stateOf(w) == stateFreeing {
			freeing = h
		}
		return nil
	})
	if freeing == 0 {
		t.Fatal("no block in the freeing state")
	}
	before := a.block(freeing).state.Load()
	killInStep(t, seg.Name(), "free-freeing")
	rep, err := seg.Recover()
	if err != nil || len(rep.Errors) > 0 || rep.DeadProcesses != 1 {
		t.Fatalf("Recover: %+v, %v", rep, err)
	}
	if got := a.block(freeing).state.Load(); got != before {
		t.Fatalf("recovery of a dead process changed a live step's block: %#x -> %#x", before, got)
	}
	// Finish our step as Free would; the heap is whole.
	a.finishFree(freeing, before)
	if r := a.Check(); len(r.Problems) > 0 {
		t.Fatal(r.Problems)
	}
}
