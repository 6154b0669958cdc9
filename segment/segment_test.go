package segment_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posixshm/posixshm/segment"
)

const mib = 1 << 20

func TestCreateOpenRemove(t *testing.T) {
	s, name := mustCreate(t, 4*mib)
	if s.Size() != 4*mib || s.Name() != name {
		t.Fatalf("Size %d Name %q", s.Size(), s.Name())
	}
	if _, err := segment.Create(name, 4*mib); !errors.Is(err, segment.ErrExist) {
		t.Fatalf("second Create: %v, want ErrExist", err)
	}
	o, err := segment.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if o.Size() != s.Size() {
		t.Fatalf("Open took size %d, want %d", o.Size(), s.Size())
	}
	if !o.Created().Equal(s.Created()) {
		t.Fatalf("Created %v vs %v", o.Created(), s.Created())
	}
	// OpenOrCreate attaches to the existing segment and ignores its size.
	oc, err := segment.OpenOrCreate(name, 8*mib)
	if err != nil {
		t.Fatal(err)
	}
	if oc.Size() != 4*mib {
		t.Fatalf("OpenOrCreate of existing: size %d", oc.Size())
	}
	oc.Close()
	if err := segment.Remove(name); err != nil {
		t.Fatal(err)
	}
	if err := segment.Remove(name); err != nil {
		t.Fatalf("second Remove: %v, want nil (idempotent)", err)
	}
	if _, err := segment.Open(name); !errors.Is(err, segment.ErrNotExist) {
		t.Fatalf("Open after Remove: %v, want ErrNotExist", err)
	}
	// Still mapped in s: removal only unlinks.
	if _, err := segment.Slice[byte](s, 0, 8); err != nil {
		t.Fatal(err)
	}
}

func TestDefaultModeIs0600(t *testing.T) {
	_, name := mustCreate(t, mib)
	st, err := os.Stat("/dev/shm" + name)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	name2 := uniqueName(t)
	s2, err := segment.Create(name2, mib, segment.Mode(0o640))
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	st, _ = os.Stat("/dev/shm" + name2)
	if st.Mode().Perm() != 0o640 {
		t.Fatalf("Mode(0640): got %v", st.Mode().Perm())
	}
}

func TestNameValidation(t *testing.T) {
	bad := []string{"", "x", "/", "noslash", "/a/b", "/..", "/.", "/../../tmp/x", "/a\x00b", "/" + strings.Repeat("n", 256)}
	for _, name := range bad {
		if _, err := segment.Create(name, mib); !errors.Is(err, segment.ErrInvalidName) {
			t.Errorf("Create(%q): %v, want ErrInvalidName", name, err)
		}
		if _, err := segment.Open(name); !errors.Is(err, segment.ErrInvalidName) {
			t.Errorf("Open(%q): %v, want ErrInvalidName", name, err)
		}
	}
}

func TestInvalidSize(t *testing.T) {
	for _, size := range []int64{0, -1, 4096, 100 << 10, segment.MaxSize + 1} {
		name := uniqueName(t)
		if _, err := segment.Create(name, size); !errors.Is(err, segment.ErrInvalidSize) {
			t.Errorf("Create size %d: %v, want ErrInvalidSize", size, err)
		}
		if _, err := os.Stat("/dev/shm" + name); err == nil {
			t.Errorf("Create size %d left a file behind", size)
		}
	}
}

func writeShm(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile("/dev/shm"+name, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestForeignFiles(t *testing.T) {
	junk := []byte(strings.Repeat("not a segment at all ", 400))
	name := uniqueName(t)
	writeShm(t, name, junk)
	if _, err := segment.Open(name); !errors.Is(err, segment.ErrForeign) {
		t.Fatalf("Open junk: %v, want ErrForeign", err)
	}
	// OpenOrCreate must not overwrite somebody else's file.
	if _, err := segment.OpenOrCreate(name, mib); !errors.Is(err, segment.ErrForeign) {
		t.Fatalf("OpenOrCreate junk: %v, want ErrForeign", err)
	}
	got, _ := os.ReadFile("/dev/shm" + name)
	if string(got) != string(junk) {
		t.Fatal("OpenOrCreate changed a foreign file")
	}

	short := uniqueName(t)
	writeShm(t, short, []byte("x"))
	if _, err := segment.Open(short); !errors.Is(err, segment.ErrForeign) {
		t.Fatalf("Open 1-byte file: %v, want ErrForeign", err)
	}

	// A symbolic link is never followed.
	target := filepath.Join(t.TempDir(), "target")
	os.WriteFile(target, junk, 0o600)
	link := uniqueName(t)
	if err := os.Symlink(target, "/dev/shm"+link); err != nil {
		t.Fatal(err)
	}
	if _, err := segment.Open(link); !errors.Is(err, segment.ErrForeign) {
		t.Fatalf("Open symlink: %v, want ErrForeign", err)
	}
	if _, err := segment.OpenOrCreate(link, mib); !errors.Is(err, segment.ErrForeign) {
		t.Fatalf("OpenOrCreate symlink: %v, want ErrForeign", err)
	}

	dir := uniqueName(t)
	if err := os.Mkdir("/dev/shm"+dir, 0o700); err != nil {
		t.Fatal(err)
	}
	defer os.Remove("/dev/shm" + dir)
	if _, err := segment.Open(dir); err == nil {
		t.Fatal("Open of a directory succeeded")
	}
}

// corrupt opens a fresh segment's file, lets mutate change its bytes, and
// returns the error Open gives.
func corrupt(t *testing.T, mutate func(b []byte) []byte) error {
	t.Helper()
	s, name := mustCreate(t, mib)
	s.Close()
	path := "/dev/shm" + name
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, mutate(b), 0o600); err != nil {
		t.Fatal(err)
	}
	o, err := segment.Open(name)
	if err == nil {
		o.Close()
	}
	return err
}

func TestCorruptHeaders(t *testing.T) {
	le := binary.NativeEndian
	cases := []struct {
		name   string
		mutate func([]byte) []byte
		want   error
	}{
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }, segment.ErrCorrupt},
		{"shorter than header", func(b []byte) []byte { return b[:100] }, segment.ErrCorrupt},
		{"magic", func(b []byte) []byte { b[0] ^= 0xff; return b }, segment.ErrForeign},
		{"version", func(b []byte) []byte { le.PutUint32(b[8:], 99); return b }, segment.ErrVersion},
		{"byte order", func(b []byte) []byte { le.PutUint32(b[12:], 0x04030201); return b }, segment.ErrVersion},
		{"checksum", func(b []byte) []byte { b[50] ^= 1; return b }, segment.ErrCorrupt},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := corrupt(t, c.mutate)
			if !errors.Is(err, c.want) {
				t.Fatalf("Open: %v, want %v", err, c.want)
			}
			if !strings.Contains(err.Error(), "/psm-test-") {
				t.Errorf("error %q does not name the segment", err)
			}
		})
	}
	err := corrupt(t, func(b []byte) []byte { le.PutUint32(b[8:], 7); return b })
	if !strings.Contains(err.Error(), "v7") || !strings.Contains(err.Error(), fmt.Sprintf("v%d", segment.LayoutVersion)) {
		t.Errorf("version error %q should name both versions", err)
	}
}

func TestFileBacked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "seg.shm")
	s, err := segment.CreateFile(path, 2*mib)
	if err != nil {
		t.Fatal(err)
	}
	h := newBumpHeap(s)
	if _, _, err := s.FindOrCreate("persisted", segment.Spec{Kind: segment.KindArray, Version: 1, Size: 64}, h, func(segment.Object) error { return nil }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	o, err := segment.OpenFile(path)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if obj, err := o.Lookup("persisted"); err != nil || obj.Kind != segment.KindArray {
		t.Fatalf("Lookup after reopen: %+v %v", obj, err)
	}
	if err := segment.RemoveFile(path); err != nil {
		t.Fatal(err)
	}
}

// A file left empty or zeroed by a creator that died before finishing is
// refused by Open and taken over by OpenOrCreate.
func TestAbandonedInit(t *testing.T) {
	name := uniqueName(t)
	writeShm(t, name, nil)
	start := time.Now()
	if _, err := segment.Open(name, segment.InitTimeout(2*time.Second)); !errors.Is(err, segment.ErrNotReady) {
		t.Fatalf("Open abandoned: %v, want ErrNotReady", err)
	}
	if time.Since(start) > 1500*time.Millisecond {
		t.Errorf("Open waited %v for a dead creator", time.Since(start))
	}
	s, err := segment.OpenOrCreate(name, mib)
	if err != nil {
		t.Fatalf("OpenOrCreate takeover: %v", err)
	}
	defer s.Close()
	if s.Size() != mib {
		t.Fatalf("size %d", s.Size())
	}

	zeroed := uniqueName(t)
	writeShm(t, zeroed, make([]byte, 8192))
	s2, err := segment.OpenOrCreate(zeroed, mib)
	if err != nil {
		t.Fatalf("OpenOrCreate over zeroed file: %v", err)
	}
	s2.Close()
}

func TestDirectory(t *testing.T) {
	s, _ := mustCreate(t, mib, segment.DirectoryEntries(4))
	h := newBumpHeap(s)
	spec := segment.Spec{Kind: segment.KindQueue, Version: 1, Params: [4]uint64{1000}, Size: 128}
	inits := 0
	initFn := func(obj segment.Object) error {
		inits++
		b, err := s.Bytes(obj.Offset, obj.Size)
		if err != nil {
			return err
		}
		b[0] = 42
		return nil
	}
	obj, created, err := s.FindOrCreate("tasks", spec, h, initFn)
	if err != nil || !created || inits != 1 {
		t.Fatalf("create: %+v %v %v inits=%d", obj, created, err, inits)
	}
	if !h.published[obj.Block] || obj.Offset%64 != 0 {
		t.Fatal("block not published")
	}
	again, created, err := s.FindOrCreate("tasks", spec, h, initFn)
	if err != nil || created || inits != 1 || again != obj {
		t.Fatalf("attach: %+v %v %v inits=%d", again, created, err, inits)
	}
	_, _, err = s.FindOrCreate("tasks", segment.Spec{Kind: segment.KindHashMap, Version: 1, Size: 64}, h, initFn)
	if !errors.Is(err, segment.ErrMismatch) || !strings.Contains(err.Error(), "want hashmap v1, found queue v1") {
		t.Fatalf("mismatch: %v", err)
	}
	if got, err := s.Lookup("tasks"); err != nil || got != obj {
		t.Fatalf("Lookup: %+v %v", got, err)
	}
	if _, err := s.Lookup("missing"); !errors.Is(err, segment.ErrNotFound) {
		t.Fatalf("Lookup missing: %v", err)
	}
	// A failing init creates nothing.
	boom := errors.New("boom")
	if _, _, err := s.FindOrCreate("bad", spec, h, func(segment.Object) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("init error: %v", err)
	}
	if _, err := s.Lookup("bad"); !errors.Is(err, segment.ErrNotFound) {
		t.Fatalf("failed object visible: %v", err)
	}
	// Fill the 4-entry directory, then delete one and reuse its entry.
	for _, n := range []string{"b", "c", "d"} {
		if _, _, err := s.FindOrCreate(n, spec, h, initFn); err != nil {
			t.Fatal(n, err)
		}
	}
	if _, _, err := s.FindOrCreate("e", spec, h, initFn); !errors.Is(err, segment.ErrDirectoryFull) {
		t.Fatalf("full directory: %v", err)
	}
	if len(s.Objects()) != 4 {
		t.Fatalf("Objects: %d", len(s.Objects()))
	}
	if err := s.Delete("c", h); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete("c", h); !errors.Is(err, segment.ErrNotFound) {
		t.Fatalf("second Delete: %v", err)
	}
	if _, _, err := s.FindOrCreate("e", spec, h, initFn); err != nil {
		t.Fatalf("create after delete: %v", err)
	}
	for _, n := range []string{"", strings.Repeat("x", segment.MaxObjectName+1), "a\x00"} {
		if _, _, err := s.FindOrCreate(n, spec, h, initFn); !errors.Is(err, segment.ErrInvalidName) {
			t.Errorf("name %q: %v", n, err)
		}
	}
}

const testKind = segment.Kind(900)

// repaired collects what the test repair function saw; registration is
// once per process, so -count=N runs share it.
var repaired []segment.IntentRecord

func init() {
	segment.RegisterRepair(testKind, func(_ *segment.Segment, rec segment.IntentRecord) error {
		repaired = append(repaired, rec)
		return nil
	})
}

func TestRegistryAndRecovery(t *testing.T) {
	s, name := mustCreate(t, mib, segment.ProcessSlots(3))
	peer, err := segment.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	slot, gen := peer.Slot()
	mySlot, _ := s.Slot()
	if slot == mySlot {
		t.Fatal("two handles share a slot")
	}
	if !s.Alive(slot, gen) {
		t.Fatal("live peer reported dead")
	}
	third, err := segment.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := segment.Open(name); !errors.Is(err, segment.ErrRegistryFull) {
		t.Fatalf("fourth handle: %v, want ErrRegistryFull", err)
	}
	third.Close()

	// The peer dies with an intent in flight.
	repaired = nil
	peer.BeginIntent(testKind, 3, 7, 10, 20, 30)
	done := peer.BeginIntent(testKind, 4, 7, 0, 0, 0)
	done.End()
	segment.Crash(peer)
	if s.Alive(slot, gen) {
		t.Fatal("dead peer reported alive")
	}
	ps := s.Processes()
	if len(ps) != 2 {
		t.Fatalf("Processes: %+v", ps)
	}
	rep, err := s.Recover()
	if err != nil {
		t.Fatal(err)
	}
	if rep.DeadProcesses != 1 || rep.Intents != 1 || len(repaired) != 1 {
		t.Fatalf("report %+v, repaired %+v", rep, repaired)
	}
	want := segment.IntentRecord{Kind: testKind, Op: 3, Object: 7, A: 10, B: 20, C: 30, Slot: slot, Gen: gen}
	if repaired[0] != want {
		t.Fatalf("repaired %+v, want %+v", repaired[0], want)
	}
	if rep, _ := s.Recover(); rep.DeadProcesses != 0 || rep.Intents != 0 {
		t.Fatalf("second Recover did work again: %+v", rep)
	}
	// A dead slot holding an intent nobody can repair stays dead.
	p2, _ := segment.Open(name)
	p2.BeginIntent(segment.Kind(901), 1, 0, 0, 0, 0)
	segment.Crash(p2)
	rep, _ = s.Recover()
	if rep.Unhandled != 1 || rep.DeadProcesses != 0 {
		t.Fatalf("unhandled intent: %+v", rep)
	}
	// The slot freed by recovery is usable again, with a new generation.
	p3, err := segment.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer p3.Close()
	if s3, g3 := p3.Slot(); s3 == slot && g3 == gen {
		t.Fatal("reused slot kept its generation")
	}
}

func TestIntentsExhaustYield(t *testing.T) {
	s, _ := mustCreate(t, mib)
	held := make([]segment.Intent, segment.IntentsPerSlot)
	for i := range held {
		held[i] = s.BeginIntent(segment.Kind(902), 0, 0, 0, 0, 0)
	}
	got := make(chan struct{})
	go func() {
		s.BeginIntent(segment.Kind(902), 0, 0, 0, 0, 0).End()
		close(got)
	}()
	select {
	case <-got:
		t.Fatal("BeginIntent returned with every record held")
	case <-time.After(20 * time.Millisecond):
	}
	held[5].End()
	<-got
}

func TestAtAndSliceBounds(t *testing.T) {
	s, _ := mustCreate(t, mib)
	if _, err := segment.At[uint64](s, segment.Offset(s.Size()-4)); !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("At past end: %v", err)
	}
	if _, err := segment.At[uint64](s, 4099); !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("At misaligned: %v", err)
	}
	if _, err := segment.Slice[uint64](s, 0, 1<<62); !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("Slice huge: %v", err)
	}
	if _, err := s.Bytes(segment.Offset(s.Size()), 1); !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("Bytes past end: %v", err)
	}
	heapOff, n := s.Heap()
	p, err := segment.At[atomic.Uint64](s, heapOff)
	if err != nil {
		t.Fatal(err)
	}
	p.Add(5)
	if v, _ := segment.Slice[uint64](s, heapOff, int(n/8)); v[0] != 5 {
		t.Fatal("At and Slice disagree")
	}
}

func TestFutexWaitWake(t *testing.T) {
	s, _ := mustCreate(t, mib)
	off, _ := s.Heap()
	w, _ := segment.At[atomic.Uint32](s, off)
	woke := make(chan error)
	go func() {
		for w.Load() == 0 {
			if err := s.Wait(context.Background(), w, 0); err != nil {
				woke <- err
				return
			}
		}
		woke <- nil
	}()
	time.Sleep(10 * time.Millisecond)
	w.Store(1)
	s.Wake(w, 1)
	if err := <-woke; err != nil {
		t.Fatal(err)
	}
	// Cancellation ends a wait promptly.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	var err error
	for err == nil {
		err = s.Wait(ctx, w, 1)
	}
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait after cancel: %v", err)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel2()
	for err = nil; err == nil; {
		err = s.Wait(ctx2, w, 1)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait past deadline: %v", err)
	}
}

// TestFences: a process registered for fences (and so publishing with plain
// stores) must be able to issue one, or its own sleepers would have to fall
// back to bounded sleeps. WaitAtMost returns without a wake.
func TestFences(t *testing.T) {
	plain, fenced := segment.PlainPublishOK(), segment.OtherProcessesFence()
	t.Logf("membarrier: registered %v, fence %v", plain, fenced)
	if plain && !fenced {
		t.Fatal("registered for fences but cannot issue one")
	}
	s, _ := mustCreate(t, mib)
	off, _ := s.Heap()
	w, _ := segment.At[atomic.Uint32](s, off)
	if err := s.WaitAtMost(context.Background(), w, 0, time.Millisecond); err != nil {
		t.Fatal(err)
	}
}

func TestReadOnly(t *testing.T) {
	s, name := mustCreate(t, mib)
	h := newBumpHeap(s)
	spec := segment.Spec{Kind: segment.KindBitset, Version: 1, Size: 64}
	if _, _, err := s.FindOrCreate("flags", spec, h, func(segment.Object) error { return nil }); err != nil {
		t.Fatal(err)
	}
	before := len(s.Processes())
	ro, err := segment.Open(name, segment.ReadOnly())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if ro.Writable() || !s.Writable() {
		t.Fatal("Writable wrong")
	}
	if len(s.Processes()) != before {
		t.Fatal("a read-only handle took a registry slot")
	}
	if obj, err := ro.Lookup("flags"); err != nil || obj.Kind != segment.KindBitset {
		t.Fatalf("Lookup: %+v %v", obj, err)
	}
	if len(ro.Objects()) != 1 {
		t.Fatal("Objects")
	}
	if _, _, err := ro.FindOrCreate("x", spec, h, func(segment.Object) error { return nil }); !errors.Is(err, segment.ErrReadOnly) {
		t.Fatalf("FindOrCreate: %v", err)
	}
	if _, err := ro.Recover(); !errors.Is(err, segment.ErrReadOnly) {
		t.Fatalf("Recover: %v", err)
	}
	if _, err := segment.OpenOrCreate(name, mib, segment.ReadOnly()); !errors.Is(err, segment.ErrReadOnly) {
		t.Fatalf("OpenOrCreate ReadOnly: %v", err)
	}
}

func TestStats(t *testing.T) {
	s, name := mustCreate(t, 2*mib)
	peer, err := segment.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	dead, err := segment.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	segment.Crash(dead)
	h := newBumpHeap(s)
	for _, n := range []string{"a", "b"} {
		if _, _, err := s.FindOrCreate(n, segment.Spec{Kind: segment.KindArray, Version: 1, Size: 64}, h, func(segment.Object) error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	st, err := s.Stats()
	if err != nil {
		t.Fatal(err)
	}
	if st.Size != 2*mib || st.ReservedBytes < 2*mib || st.Objects != 2 || st.ProcessesLive != 2 || st.ProcessesDead != 1 || st.ProcessSlots != 64 || st.DirectoryEntries != 256 {
		t.Fatalf("stats %+v", st)
	}
	peer.Close()
	s.Recover()
	if st, _ = s.Stats(); st.ProcessesLive != 1 || st.ProcessesDead != 0 {
		t.Fatalf("after close and recover: %+v", st)
	}
}

func TestHasIntent(t *testing.T) {
	s, name := mustCreate(t, mib)
	peer, _ := segment.Open(name)
	defer peer.Close()
	if s.HasIntent(segment.KindHashMap, 3, 7) {
		t.Fatal("intent found in an empty registry")
	}
	in := peer.BeginIntent(segment.KindHashMap, 1, 3, 7, 0, 0)
	if !s.HasIntent(segment.KindHashMap, 3, 7) || s.HasIntent(segment.KindHashMap, 3, 8) || s.HasIntent(segment.KindQueue, 3, 7) || s.HasIntent(segment.KindHashMap, 4, 7) {
		t.Fatal("HasIntent does not match kind, object and argument exactly")
	}
	if !s.HasIntentOp(segment.KindHashMap, 3, 1) || s.HasIntentOp(segment.KindHashMap, 3, 2) || s.HasIntentOp(segment.KindQueue, 3, 1) || s.HasIntentOp(segment.KindHashMap, 4, 1) {
		t.Fatal("HasIntentOp does not match kind, object and op exactly")
	}
	in.End()
	if s.HasIntent(segment.KindHashMap, 3, 7) || s.HasIntentOp(segment.KindHashMap, 3, 1) {
		t.Fatal("ended intent still found")
	}
}

// Open repairs every dead process's leftovers, not only the slot it takes,
// and says so in AttachReport.
func TestOpenRecoversAndReports(t *testing.T) {
	_, name := mustCreate(t, mib)
	var dead []*segment.Segment
	for range 2 {
		p, err := segment.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		p.BeginIntent(testKind, 1, 0, 0, 0, 0)
		dead = append(dead, p)
	}
	for _, p := range dead {
		segment.Crash(p)
	}
	repaired = nil
	o, err := segment.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if rep := o.AttachReport(); rep.DeadProcesses != 2 || rep.Intents != 2 || len(repaired) != 2 {
		t.Fatalf("attach report %+v, %d repairs run", rep, len(repaired))
	}
	if st, _ := o.Stats(); st.ProcessesDead != 0 {
		t.Fatalf("dead processes left after Open: %+v", st)
	}
}
