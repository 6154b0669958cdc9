package queue_test

import (
	"context"
	"testing"
	"time"

	"github.com/posixshm/posixshm/queue"
)

// FuzzQueueCorrupt writes random bytes over a queue's memory (header and
// cells) and then runs every operation, through the old handle and a fresh
// attach: each must return (an error is fine), never panic or hang.
func FuzzQueueCorrupt(f *testing.F) {
	f.Add(uint16(0), []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Add(uint16(64), []byte{1, 2, 3})
	f.Add(uint16(256), []byte{0x05, 0, 0, 0x10, 0, 0, 0, 0, 0xff, 0xff, 0, 0})
	f.Add(uint16(320), []byte{2, 0, 0, 0x60, 0, 0, 0, 0, 0, 1, 0, 0})
	seg := newSeg(f, 4<<20)
	f.Fuzz(func(t *testing.T, at uint16, junk []byte) {
		q, err := queue.New[[]byte](seg, "fz", queue.Capacity(8), queue.SlotSize(16))
		if err != nil {
			t.Skip(err) // heap exhausted by earlier iterations
		}
		for q.Len() > 0 {
			if _, err := q.Pop(); err != nil {
				break
			}
		}
		q.Push([]byte("abc"))
		q.Push(make([]byte, 100))
		obj, err := seg.Lookup("fz")
		if err != nil {
			t.Fatal(err)
		}
		mem, err := seg.Bytes(obj.Offset, obj.Size)
		if err != nil {
			t.Fatal(err)
		}
		saved := append([]byte(nil), mem...)
		defer copy(mem, saved)
		copy(mem[int(at)%len(mem):], junk)
		exercise(t, q)
		if q2, err := queue.Open[[]byte](seg, "fz"); err == nil {
			exercise(t, q2)
		}
	})
}

func exercise(t *testing.T, q *queue.Queue[[]byte]) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 20 {
			q.Push([]byte("x"))
			q.Push(make([]byte, 40))
			q.Pop()
			q.PopFunc(func([]byte) error { return nil })
			q.PushFunc(3, func(b []byte) {})
		}
		q.Len()
		q.Stats()
		for range q.Drain() {
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
		q.PopWait(ctx)
		cancel()
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("operations on a corrupted queue hang")
	}
}
