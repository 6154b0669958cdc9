package hashmap_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/posixshm/posixshm/hashmap"
)

// TestInsertWaitsForDeleteInFlight: a delete removes its key with a CAS
// and lowers the Len counter a few instructions later. An insert into a
// full map in between must wait for that delete, not report ErrFull: the
// key it makes room for is already gone. The deleter here is held at that
// point (HkDeleteLinked) for a while, as a preempted one would be.
func TestInsertWaitsForDeleteInFlight(t *testing.T) {
	seg := newSeg(t, 4<<20)
	m, err := hashmap.New[string, int64](seg, "m", hashmap.MaxEntries(4))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		if err := m.Store(fmt.Sprint("k", i), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	held := make(chan struct{})
	var once atomic.Bool
	hashmap.SetTestHook(func(p int) {
		if p == hashmap.HkDeleteLinked && once.CompareAndSwap(false, true) {
			close(held)
			time.Sleep(300 * time.Microsecond)
		}
	})
	t.Cleanup(func() { hashmap.SetTestHook(nil) })
	deleted := make(chan error, 1)
	go func() { deleted <- m.Delete("k0") }()
	<-held
	if err := m.Store("new", 9); err != nil {
		t.Fatalf("Store while a delete was between its CAS and the counter: %v", err)
	}
	if err := <-deleted; err != nil {
		t.Fatal(err)
	}
	if v, ok, _ := m.Load("new"); !ok || v != 9 {
		t.Fatalf("Load(new) = %d %v", v, ok)
	}
	if m.Len() != 4 {
		t.Fatalf("Len = %d, want 4", m.Len())
	}
}
