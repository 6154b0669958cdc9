package queue

import (
	"context"
	"testing"
	"time"

	"github.com/posixshm/posixshm/alloc/alloctest"
)

// TestWaitWithoutFence runs PopWait and PushWait as on a kernel that
// refuses membarrier while the publishing side still uses plain stores
// (the worst mix: another process registered, this one not). Sleeps are
// then bounded at unfencedSleep, so every item and every free cell still
// reaches its waiter, at the latest one bounded sleep later.
func TestWaitWithoutFence(t *testing.T) {
	old := fence
	fence = func() bool { return false }
	defer func() { fence = old }()

	seg := alloctest.NewSegment(t, 4<<20)
	q, err := New[int64](seg, "nofence", Capacity(2))
	if err != nil {
		t.Fatal(err)
	}
	q.plainPub = true
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	const rounds = 2000
	done := make(chan error, 1)
	go func() {
		for i := range rounds {
			v, err := q.PopWait(ctx)
			if err == nil && v != int64(i) {
				t.Errorf("PopWait = %d, want %d", v, i)
			}
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := range rounds {
		if i%16 == 0 {
			time.Sleep(50 * time.Microsecond) // let the consumer go to sleep
		}
		if err := q.PushWait(ctx, int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := q.Stats(); s.Sleeps == 0 {
		t.Errorf("no waiter slept in %d rounds; the unfenced path was not run", rounds)
	}
}
