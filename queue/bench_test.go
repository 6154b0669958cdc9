package queue_test

import (
	"testing"

	"github.com/posixshm/posixshm/queue"
)

// Benchmarks of the paths the word fast path does not take; the int64
// push+pop pair and its peers (xsync, channels) are in the bench module.
// Run, in queue/, with:
//
//	go test -run '^$' -bench . -count 3

// BenchmarkPushPopValue: one Push and one Pop of a short string, which
// goes through the codec and claims the cell for the pop (claimPop).
func BenchmarkPushPopValue(b *testing.B) {
	seg := newSeg(b, 4<<20)
	q, err := queue.New[string](seg, "b")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		q.Push("a short string")
		q.Pop()
	}
}

// BenchmarkBatch16: PushBatch and PopBatch of 16 int64s; PopBatch holds
// its 16 claims until it returns.
func BenchmarkBatch16(b *testing.B) {
	seg := newSeg(b, 4<<20)
	q, err := queue.New[int64](seg, "b")
	if err != nil {
		b.Fatal(err)
	}
	src, dst := make([]int64, 16), make([]int64, 16)
	for b.Loop() {
		q.PushBatch(src)
		q.PopBatch(dst)
	}
}

// BenchmarkPushPopSpilled: one Push and one Pop of a 200-byte value, which
// spills to an allocator block (Alloc and Publish on push; Adopt, release
// and Free on pop).
func BenchmarkPushPopSpilled(b *testing.B) {
	seg := newSeg(b, 4<<20)
	q, err := queue.New[[]byte](seg, "b")
	if err != nil {
		b.Fatal(err)
	}
	v := make([]byte, 200)
	for b.Loop() {
		if err := q.Push(v); err != nil {
			b.Fatal(err)
		}
		if _, err := q.Pop(); err != nil {
			b.Fatal(err)
		}
	}
}
