package bitset_test

import (
	"bufio"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/posixshm/posixshm/alloc/alloctest"
	"github.com/posixshm/posixshm/bitset"
	"github.com/posixshm/posixshm/segment"
)

// Crash windows, deterministically: a child process (this test binary,
// re-executed) runs one owned operation and stops at a test point inside
// it; the parent SIGKILLs it there, checks the exact state repair.go says
// that window leaves (the owner word names the dead child, the bit as
// expected, never a set bit with no owner), runs segment recovery and
// checks that the dead child's bits, and only those, are released.

const crashEnv = "BITSET_CRASH_CHILD"

const (
	hookReached = "HOOK-REACHED"
	crashBit    = 5 // the bit the child claims
	parentBit   = 3 // held by the parent, a live owner, throughout
	peerBit     = 9 // held by a second live attachment throughout
	crashLen    = 130
)

// Points the child may stop at besides the package's test points.
const (
	ptReturned = 100 // after ClaimOwned(crashBit) returned true
	ptOpened   = 101 // after segment.Open returned (its recovery done)
)

// TestCrashChild is the child's side; it does nothing unless started by
// runToPoint. The spec is "segment|op|point": do op, stop at point.
func TestCrashChild(t *testing.T) {
	spec := os.Getenv(crashEnv)
	if spec == "" {
		t.Skip("child process of the crash tests")
	}
	f := strings.Split(spec, "|")
	point, _ := strconv.Atoi(f[2])
	stop := func(p int) {
		if p == point {
			fmt.Println(hookReached)
			os.Stdout.Sync()
			time.Sleep(time.Hour) // until SIGKILL
		}
	}
	bitset.SetTestHook(stop)
	seg, err := segment.Open(f[0]) // runs recovery: op "recover" stops in it
	if err != nil {
		t.Fatal(err)
	}
	stop(ptOpened)
	b, err := bitset.Open(seg, "owned")
	if err != nil {
		t.Fatal(err)
	}
	switch f[1] {
	case "claim":
		ok, err := b.ClaimOwned(crashBit)
		if !ok || err != nil {
			t.Fatalf("ClaimOwned = %v, %v", ok, err)
		}
		stop(ptReturned)
	case "release":
		if ok, err := b.ClaimOwned(crashBit); !ok || err != nil {
			t.Fatalf("ClaimOwned = %v, %v", ok, err)
		}
		err = b.ReleaseOwned(crashBit)
	case "close":
		// Claim two bits and close the handle without releasing them:
		// orphans. Exit normally; nobody kills this child.
		for _, i := range []int{crashBit, crashBit + 1} {
			if ok, err := b.ClaimOwned(i); !ok || err != nil {
				t.Fatalf("ClaimOwned(%d) = %v, %v", i, ok, err)
			}
		}
		seg.Close()
		fmt.Println(hookReached)
		os.Exit(0)
	case "orphans":
		_, err = b.ReleaseOrphans()
	case "recover":
	}
	t.Fatalf("op %s ended (err %v) without reaching point %d", f[1], err, point)
}

// runToPoint starts a child doing op, waits until it reaches point, and
// kills it there with SIGKILL.
func runToPoint(t *testing.T, segName, op string, point int) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%s|%s|%d", crashEnv, segName, op, point))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	reached := make(chan bool, 1)
	var lines []string
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if sc.Text() == hookReached {
				reached <- true
				return
			}
			lines = append(lines, sc.Text())
		}
		reached <- false
	}()
	var ok bool
	select {
	case ok = <-reached:
	case <-time.After(30 * time.Second):
	}
	cmd.Process.Kill() // SIGKILL
	cmd.Wait()
	if !ok {
		t.Fatalf("child (%s, point %d) never reached it; output %q, stderr %s", op, point, lines, stderr.String())
	}
}

// crashSeg creates a named segment holding the owned bitset "owned", with
// parentBit held by seg's handle and peerBit by a second live handle.
func crashSeg(t *testing.T) (*segment.Segment, *bitset.Bitset, *bitset.Bitset) {
	t.Helper()
	name := fmt.Sprintf("/psm-bitcrash-%d-%x", os.Getpid(), rand.Uint64())
	seg, err := segment.Create(name, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { seg.Close(); segment.Remove(name) })
	b, err := bitset.New(seg, "owned", crashLen, bitset.Owned())
	if err != nil {
		t.Fatal(err)
	}
	peer, err := bitset.Open(alloctest.Reopen(t, seg), "owned")
	if err != nil {
		t.Fatal(err)
	}
	mustClaim(t, b, parentBit)
	mustClaim(t, peer, peerBit)
	return seg, b, peer
}

// ownerWord reads bit i's raw owner word.
func ownerWord(t *testing.T, seg *segment.Segment, i int) uint64 {
	t.Helper()
	return ownerWords(t, seg, "owned", crashLen)[i]
}

// checkLiveOwners checks that the live owners' bits survived everything.
func checkLiveOwners(t *testing.T, seg *segment.Segment, b, peer *bitset.Bitset) {
	t.Helper()
	for _, c := range []struct {
		i int
		h *bitset.Bitset
	}{{parentBit, b}, {peerBit, peer}} {
		o, ok := b.Owner(c.i)
		if !ok || !b.Test(c.i) || !seg.Alive(o.Slot, o.Gen) {
			t.Errorf("live owner's bit %d: owner %+v %v, set %v", c.i, o, ok, b.Test(c.i))
		}
	}
	if err := peer.ReleaseOwned(peerBit); err != nil {
		t.Errorf("peer releases its bit: %v", err)
	}
	mustClaim(t, peer, peerBit)
}

// checkReleased checks that only the live owners' bits are owned or set,
// that nothing is owned by a dead attachment, and that the released bit
// can be claimed and released again.
func checkReleased(t *testing.T, seg *segment.Segment, b, peer *bitset.Bitset, wantReleased uint64) {
	t.Helper()
	for i, o := range b.Owners() {
		if !seg.Alive(o.Slot, o.Gen) {
			t.Errorf("bit %d owned by dead attachment %+v", i, o)
		}
		if i != parentBit && i != peerBit {
			t.Errorf("bit %d owned by %+v", i, o)
		}
	}
	if st := b.Stats(); st.Set != 2 || st.Owned != 2 || st.Released != wantReleased {
		t.Errorf("stats %+v, want 2 set, 2 owned, %d released", st, wantReleased)
	}
	checkLiveOwners(t, seg, b, peer)
	mustClaim(t, b, crashBit)
	if err := b.ReleaseOwned(crashBit); err != nil {
		t.Error(err)
	}
}

func TestCrashWindows(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in a child")
	}
	for _, c := range []struct {
		name   string
		op     string
		point  int
		state  uint64 // the owner word's state at the kill
		bitSet bool   // the bit at the kill
	}{
		{"claim/word-won", "claim", bitset.HkClaimed, bitset.OwnClaiming, false},
		{"claim/bit-set", "claim", bitset.HkBitSet, bitset.OwnClaiming, true},
		{"claim/returned", "claim", ptReturned, bitset.OwnHeld, true},
		{"release/word-releasing", "release", bitset.HkReleasing, bitset.OwnReleasing, true},
		{"release/bit-cleared", "release", bitset.HkBitCleared, bitset.OwnReleasing, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			seg, b, peer := crashSeg(t)
			runToPoint(t, seg.Name(), c.op, c.point)

			o, ok := b.Owner(crashBit)
			if !ok || seg.Alive(o.Slot, o.Gen) {
				t.Fatalf("after the kill: owner %+v %v, want the dead child", o, ok)
			}
			if w, want := ownerWord(t, seg, crashBit), bitset.OwnerWord(c.state, o.Slot, o.Gen); w != want {
				t.Errorf("owner word %#x, want %#x", w, want)
			}
			if b.Test(crashBit) != c.bitSet {
				t.Errorf("bit set %v at the kill, want %v", !c.bitSet, c.bitSet)
			}
			if ok, err := b.ClaimOwned(crashBit); ok || err != nil {
				t.Errorf("ClaimOwned of the dead child's bit = %v, %v, want false", ok, err)
			}
			if n, err := b.ReleaseOrphans(); n != 0 || err != nil {
				t.Errorf("ReleaseOrphans = %d, %v: a dead, unrecovered owner is recovery's", n, err)
			}

			rep, err := seg.Recover()
			if err != nil {
				t.Fatal(err)
			}
			if rep.DeadProcesses != 1 || rep.Reclaimed != 1 || len(rep.Errors) > 0 || rep.Unhandled > 0 {
				t.Errorf("recovery %+v, want 1 dead process and 1 bit reclaimed", rep)
			}
			if _, ok := b.Owner(crashBit); ok || b.Test(crashBit) {
				t.Errorf("after recovery: bit %d owned %v, set %v", crashBit, ok, b.Test(crashBit))
			}
			checkReleased(t, seg, b, peer, 1)
			if rep, _ := seg.Recover(); rep.DeadProcesses != 0 || rep.Reclaimed != 0 {
				t.Errorf("second recovery did something: %+v", rep)
			}
		})
	}
}

// TestCrashRecovererKilled: the owner dies holding its bit, then the
// process recovering it (inside its segment.Open) dies between clearing
// the bit and the word; the next recovery finishes.
func TestCrashRecovererKilled(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in a child")
	}
	seg, b, peer := crashSeg(t)
	runToPoint(t, seg.Name(), "claim", ptReturned)
	o, _ := b.Owner(crashBit)
	runToPoint(t, seg.Name(), "recover", bitset.HkRecoverClear)
	if got, ok := b.Owner(crashBit); !ok || got != o || b.Test(crashBit) {
		t.Fatalf("after the recoverer's death: owner %+v %v (want %+v), set %v (want clear)", got, ok, o, b.Test(crashBit))
	}
	rep, err := seg.Recover()
	if err != nil {
		t.Fatal(err)
	}
	// The recoverer died in Open, repairing the owner's slot before taking
	// it: one dead slot, repaired now.
	if rep.DeadProcesses != 1 || rep.Reclaimed != 1 || len(rep.Errors) > 0 {
		t.Errorf("recovery %+v, want 1 dead process and 1 bit reclaimed", rep)
	}
	checkReleased(t, seg, b, peer, 1)
}

// TestCrashOrphans: a child closes its handle holding two bits (orphans:
// its slot is free, so recovery never runs for it); ReleaseOrphans
// releases them. Then the same with the sweeper killed at each point of
// its take-over: its recovery finishes the release.
func TestCrashOrphans(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in a child")
	}
	t.Run("swept", func(t *testing.T) {
		seg, b, peer := crashSeg(t)
		runToPoint(t, seg.Name(), "close", 0)
		if rep, err := seg.Recover(); err != nil || rep.DeadProcesses != 0 || rep.Reclaimed != 0 {
			t.Errorf("Recover = %+v, %v: a closed handle is not dead", rep, err)
		}
		if st := b.Stats(); st.Owned != 4 {
			t.Fatalf("stats %+v, want 4 owned (2 live, 2 orphans)", st)
		}
		if n, err := b.ReleaseOrphans(); n != 2 || err != nil {
			t.Fatalf("ReleaseOrphans = %d, %v, want 2", n, err)
		}
		checkReleased(t, seg, b, peer, 2)
	})
	for _, c := range []struct {
		name   string
		point  int
		bitSet bool
	}{
		{"sweeper-killed/word-taken", bitset.HkOrphanTaken, true},
		{"sweeper-killed/bit-cleared", bitset.HkOrphanCleared, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			seg, b, peer := crashSeg(t)
			runToPoint(t, seg.Name(), "close", 0)
			orphan, _ := b.Owner(crashBit)
			runToPoint(t, seg.Name(), "orphans", c.point)
			o, ok := b.Owner(crashBit)
			if !ok || o == orphan || seg.Alive(o.Slot, o.Gen) {
				t.Fatalf("owner %+v %v, want the dead sweeper (the orphan was %+v)", o, ok, orphan)
			}
			if w, want := ownerWord(t, seg, crashBit), bitset.OwnerWord(bitset.OwnReleasing, o.Slot, o.Gen); w != want {
				t.Errorf("owner word %#x, want %#x", w, want)
			}
			if b.Test(crashBit) != c.bitSet {
				t.Errorf("bit set %v at the kill, want %v", !c.bitSet, c.bitSet)
			}
			rep, err := seg.Recover()
			if err != nil {
				t.Fatal(err)
			}
			if rep.DeadProcesses != 1 || rep.Reclaimed != 1 || len(rep.Errors) > 0 {
				t.Errorf("recovery %+v, want 1 dead process (the sweeper) and 1 bit reclaimed", rep)
			}
			// The other orphan, untouched by the dead sweeper.
			if n, err := b.ReleaseOrphans(); n != 1 || err != nil {
				t.Fatalf("ReleaseOrphans = %d, %v, want 1", n, err)
			}
			checkReleased(t, seg, b, peer, 2)
		})
	}
}

// TestCrashClaimAnyRecovers: every bit is held, one by a process killed
// holding it; nobody has run recovery. ClaimAnyOwned finds the bitset full,
// sees the dead owner, recovers it and claims its bit.
func TestCrashClaimAnyRecovers(t *testing.T) {
	if os.Getenv(crashEnv) != "" {
		t.Skip("in a child")
	}
	seg, b, peer := crashSeg(t)
	runToPoint(t, seg.Name(), "claim", ptReturned)
	for i := range crashLen {
		if i != crashBit && i != parentBit && i != peerBit {
			mustClaim(t, b, i)
		}
	}
	if i, err := b.ClaimAnyOwned(); err != nil || i != crashBit {
		t.Fatalf("ClaimAnyOwned = %d, %v, want the dead owner's bit %d", i, err, crashBit)
	}
	if st := b.Stats(); st.Released != 1 || st.Owned != crashLen {
		t.Errorf("stats %+v, want 1 released and all owned", st)
	}
	if i, err := b.ClaimAnyOwned(); !errors.Is(err, bitset.ErrFull) {
		t.Errorf("ClaimAnyOwned with every bit held by the living = %d, %v, want ErrFull", i, err)
	}
	checkLiveOwners(t, seg, b, peer)
}
