//go:build soakbugs

package conformance_test

import (
	"errors"
	"testing"

	"github.com/posixshm/posixshm/hashmap"
	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/stack"
)

// KNOWN BUG (issue 7), build tag soakbugs: queue, stack and hashmap
// operations do not carry segment.Catch yet, so a worker using them dies of
// SIGBUS when the segment's file is truncated. Run with
//
//	cd conformance && go test -tags soakbugs -run TestSoakTruncateUnderRunningProcesses .
//
// It passes once their public operations defer seg.Catch.
func soakPrepareTruncate(t *testing.T, seg *segment.Segment) {
	if _, err := queue.New[[]byte](seg, "soak-q", queue.Capacity(64)); err != nil {
		t.Fatal(err)
	}
	if _, err := stack.New[uint64](seg, "soak-s", stack.Capacity(64)); err != nil {
		t.Fatal(err)
	}
	if _, err := hashmap.New[string, []byte](seg, "soak-m", hashmap.MaxEntries(64)); err != nil {
		t.Fatal(err)
	}
}

func init() {
	soakTruncOps["queue"] = func(seg *segment.Segment) (func() error, error) {
		q, err := queue.Open[[]byte](seg, "soak-q")
		if err != nil {
			return nil, err
		}
		return func() error {
			if err := q.Push(make([]byte, 100)); err != nil && !errors.Is(err, queue.ErrFull) {
				return err
			}
			if _, err := q.Pop(); err != nil && !errors.Is(err, queue.ErrEmpty) {
				return err
			}
			return nil
		}, nil
	}
	soakTruncOps["stack"] = func(seg *segment.Segment) (func() error, error) {
		s, err := stack.Open[uint64](seg, "soak-s")
		if err != nil {
			return nil, err
		}
		return func() error {
			if err := s.Push(1); err != nil && !errors.Is(err, stack.ErrFull) {
				return err
			}
			if _, err := s.Pop(); err != nil && !errors.Is(err, stack.ErrEmpty) {
				return err
			}
			return nil
		}, nil
	}
	soakTruncOps["hashmap"] = func(seg *segment.Segment) (func() error, error) {
		m, err := hashmap.Open[string, []byte](seg, "soak-m")
		if err != nil {
			return nil, err
		}
		return func() error {
			if err := m.Store("k", make([]byte, 100)); err != nil {
				return err
			}
			_, _, err := m.Load("k")
			return err
		}, nil
	}
}
