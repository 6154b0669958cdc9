package segment_test

import (
	"errors"
	"os"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/posixshm/posixshm/segment"
)

// TestTruncatedUnderMapping: a peer truncates the file of a mapped segment.
// Operations that touch the lost pages return ErrTruncated instead of
// crashing the process with SIGBUS, Close still works, and a read-only open
// (what inspection tools do) says the file is shorter than its header.
func TestTruncatedUnderMapping(t *testing.T) {
	s, name := mustCreate(t, 1<<20)
	h := newBumpHeap(s)
	if _, _, err := s.FindOrCreate("obj", segment.Spec{Kind: segment.KindArray, Version: 1, Size: 64}, h, func(segment.Object) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate("/dev/shm"+name, 0); err != nil {
		t.Fatal(err)
	}
	_, err := s.Lookup("obj")
	if !errors.Is(err, segment.ErrTruncated) || !strings.Contains(err.Error(), "the file is 0 bytes") {
		t.Errorf("Lookup after truncation: %v, want ErrTruncated naming the file size", err)
	}
	if _, _, err := s.FindOrCreate("obj2", segment.Spec{Kind: segment.KindArray, Version: 1, Size: 64}, h, func(segment.Object) error { return nil }); !errors.Is(err, segment.ErrTruncated) {
		t.Errorf("FindOrCreate after truncation: %v, want ErrTruncated", err)
	}
	if _, err := s.Recover(); !errors.Is(err, segment.ErrTruncated) {
		t.Errorf("Recover after truncation: %v, want ErrTruncated", err)
	}
	if _, err := s.Stats(); !errors.Is(err, segment.ErrTruncated) {
		t.Errorf("Stats after truncation: %v, want ErrTruncated", err)
	}
	if objs := s.Objects(); len(objs) != 0 {
		t.Errorf("Objects after truncation: %v", objs)
	}
	_ = s.Processes()
	if !s.Created().Equal(time.Unix(0, 0)) && !s.Created().IsZero() {
		t.Errorf("Created after truncation: %v", s.Created())
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close after truncation: %v", err)
	}

	// What a tool sees: a clear error, before anything is mapped.
	for _, size := range []int64{4096, 200} {
		segment.Remove(name)
		s2, err := segment.Create(name, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		s2.Close()
		os.Truncate("/dev/shm"+name, size)
		_, err = segment.Open(name, segment.ReadOnly())
		if !errors.Is(err, segment.ErrCorrupt) || !strings.Contains(err.Error(), "truncated") {
			t.Errorf("Open(ReadOnly) of a file truncated to %d bytes: %v, want ErrCorrupt saying it was truncated", size, err)
		}
	}
	os.Truncate("/dev/shm"+name, 0)
	_, err = segment.Open(name, segment.ReadOnly())
	if !errors.Is(err, segment.ErrNotReady) || !strings.Contains(err.Error(), "0 bytes") {
		t.Errorf("Open(ReadOnly) of an emptied file: %v, want ErrNotReady naming its size", err)
	}
}

// TestCatchScope: Catch converts only faults inside the mapping, restores
// the previous fault setting and re-raises anything else.
func TestCatchScope(t *testing.T) {
	s, _ := mustCreate(t, 1<<20)
	if debug.SetPanicOnFault(false) {
		t.Fatal("fault setting on at test start")
	}
	func() {
		var err error
		defer func() {
			if r := recover(); r == nil || r != "boom" {
				t.Errorf("non-fault panic: recovered %v, want it re-raised", r)
			}
		}()
		defer s.Catch(&err, debug.SetPanicOnFault(true))
		panic("boom")
	}()
	func() {
		var err error
		defer func() {
			if r := recover(); r == nil {
				t.Errorf("nil dereference was swallowed (err %v)", err)
			}
		}()
		defer s.Catch(&err, debug.SetPanicOnFault(true))
		var p *int
		_ = *p
	}()
	if debug.SetPanicOnFault(false) {
		t.Error("Catch left the fault setting on")
	}
	var err error
	func() {
		defer s.Catch(&err, debug.SetPanicOnFault(true))
	}()
	if err != nil {
		t.Errorf("Catch without a panic set err = %v", err)
	}
}

func BenchmarkCatch(b *testing.B) {
	s, _ := mustCreate(b, 1<<20)
	var err error
	for b.Loop() {
		func() {
			defer s.Catch(&err, debug.SetPanicOnFault(true))
		}()
	}
}

func BenchmarkNoCatch(b *testing.B) {
	var x int
	for b.Loop() {
		func() { x++ }()
	}
}
