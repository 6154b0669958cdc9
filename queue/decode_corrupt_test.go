package queue_test

import (
	"errors"
	"testing"

	"github.com/posixshm/posixshm/queue"
	"github.com/posixshm/posixshm/segment"
)

// An item whose bytes were overwritten (by a buggy or hostile peer) is
// reported as corruption, not as a bare codec error.
func TestCorruptItemIsErrCorrupt(t *testing.T) {
	type task struct {
		Name string
		ID   int
	}
	seg := newSeg(t, 1<<20)
	q, err := queue.New[task](seg, "tasks", queue.Capacity(4))
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Push(task{"x", 1}); err != nil {
		t.Fatal(err)
	}
	obj, err := seg.Lookup("tasks")
	if err != nil {
		t.Fatal(err)
	}
	// Cell 0's data: after the 256-byte header and the cell's 16-byte state
	// and meta words (layout.go).
	data, err := seg.Bytes(obj.Offset+256+16, 8)
	if err != nil {
		t.Fatal(err)
	}
	for i := range data {
		data[i] = 0xff
	}
	_, err = q.Pop()
	if !errors.Is(err, queue.ErrCorrupt) || !errors.Is(err, segment.ErrCorrupt) {
		t.Fatalf("Pop of a corrupt item: %v, want ErrCorrupt", err)
	}
	// The cell was released: the queue goes on.
	if err := q.Push(task{"y", 2}); err != nil {
		t.Fatal(err)
	}
	if v, err := q.Pop(); err != nil || v.Name != "y" {
		t.Fatalf("after a corrupt item: %v %v", v, err)
	}
}
