package queue

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/posixshm/posixshm/codec"
)

// The word fast path. A queue of a plain 8-byte number (int64, uint64, int,
// uint, float64) with the default codec stores each item as one native-endian
// word at the start of the cell's data, which is exactly what the plain codec
// writes. Push and Pop then move the word themselves instead of calling the
// codec through its interface (two indirect calls that cannot be inlined,
// about 5 ns of a 40 ns push+pop pair). The bytes in shared memory are the
// same either way, so handles with and without the fast path share a queue.

// wordCodec reports whether c stores T as its native-endian 8-byte word:
// T is one of the kinds toWord and fromWord handle, c has the default codec's
// ID, and a probe value round-trips to the expected bytes.
func wordCodec[T any](c codec.Codec[T]) bool {
	var probe T
	if _, ok := toWord(probe); !ok || c.FixedSize() != 8 || c.ID() != codec.For[T]().ID() {
		return false
	}
	const want = 0x0102030405060708
	probe = fromWord[T](want)
	b, err := c.Append(make([]byte, 0, 8), probe)
	if err != nil || len(b) != 8 || binary.NativeEndian.Uint64(b) != want {
		return false
	}
	back, err := c.Decode(b)
	if w, _ := toWord(back); err != nil || w != want {
		return false
	}
	return true
}

// toWord returns v's bits when T is one of the word kinds. The conversion to
// any does not escape, so it does not allocate.
func toWord[T any](v T) (uint64, bool) {
	switch x := any(v).(type) {
	case int64:
		return uint64(x), true
	case uint64:
		return x, true
	case int:
		return uint64(x), true
	case uint:
		return uint64(x), true
	case float64:
		return math.Float64bits(x), true
	}
	return 0, false
}

// fromWord is toWord's inverse; for other types it returns the zero T.
func fromWord[T any](w uint64) T {
	var v T
	switch p := any(&v).(type) {
	case *int64:
		*p = int64(w)
	case *uint64:
		*p = w
	case *int:
		*p = int(w)
	case *uint:
		*p = uint(w)
	case *float64:
		*p = math.Float64frombits(w)
	}
	return v
}

// pushWord is Push for the word fast path.
func (q *Queue[T]) pushWord(w uint64) error {
	pos, ci, err := q.claimPush(false)
	if err != nil {
		return err
	}
	off := ci*q.strW*8 + 8
	b := q.data[off : off+16 : off+16]
	binary.NativeEndian.PutUint64(b[0:8], 8) // meta: the length
	binary.NativeEndian.PutUint64(b[8:16], w)
	q.publish(ci, pos, false)
	return nil
}

// popWord is Pop for the word fast path. It reads the value before it
// takes the cell, and takes it with one CAS from full(pos) straight to
// free(pos+cap): no reading state, no second locked instruction to release.
//
// Why that is safe. The state load that sees full(pos) (exactly, lap
// included: layout.go) orders the producer's writes of the meta and data
// words before our reads of them. The CAS succeeds only if the cell still
// says full(pos), which it says once in 2^60 positions, so the cell held
// item pos throughout and the bytes we read are that item's. If the CAS
// fails another consumer took the item (or it was recycled) and what we
// read is dropped unread; the bytes may be changing under us then, which
// is why only a fixed 8-byte value is read this way (one aligned load, no
// decoding). This also shrinks a consumer's crash window: killed before
// the CAS it took nothing; killed after, it holds the value only in its
// own memory, like any consumer killed after Pop returned.
//
// Anything but an inline full(pos) cell at the head (empty, a push in
// flight, a dead claimer, a spilled value from another handle, corruption)
// goes through claimPop and finishPop, which handle every case.
func (q *Queue[T]) popWord() (T, error) {
	for i := 0; i < maxSpins; i++ {
		backoff(i)
		pos := q.hdr.deq.Load()
		ci := int(pos & q.mask)
		sw := q.state(ci)
		w := sw.Load()
		if w != makeState(pos, stFull, false, 0) {
			break
		}
		off := ci*q.strW*8 + 8
		b := q.data[off : off+16 : off+16]
		n := binary.NativeEndian.Uint64(b[0:8])
		x := binary.NativeEndian.Uint64(b[8:16])
		if !sw.CompareAndSwap(w, makeState(pos+q.cap, stFree, false, 0)) {
			continue
		}
		advanceHint(&q.hdr.deq, q.hb[hintDeq:hintDeq+8], pos)
		q.wakePushers()
		if n != 8 {
			var zero T
			return zero, fmt.Errorf("%w: cell %d holds %d bytes, want 8 (%s)", ErrCorrupt, ci, n, q.codec.ID())
		}
		return fromWord[T](x), nil
	}
	pos, ci, w, err := q.claimPop()
	if err != nil {
		var zero T
		return zero, err
	}
	return q.finishPop(pos, ci, w)
}
