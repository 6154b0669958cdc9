package queue

import (
	"encoding/binary"
	"fmt"

	"github.com/posixshm/posixshm/codec"
)

// The word fast path (codec.IsWord): a plain 8-byte number under the
// default codec is moved as one word, without calling the codec.

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
// free(pos+cap): no reading state, no second write to release.
//
// Why that is safe. The state load that sees full(pos) (exactly, lap
// included: layout.go) orders the producer's writes of the meta and data
// words before our reads of them. The CAS succeeds only if the cell still
// says full(pos), which it says once in 2^60 positions, so the cell held
// item pos throughout and the bytes we read are that item's. If the CAS
// fails another consumer took the item (or it was recycled) and what we
// read is dropped unread; the bytes may be changing under us then, which
// is why only a fixed 8-byte value is read this way (one aligned load, no
// decoding).
//
// Where the item becomes the caller's: at that CAS, which takes the item
// and frees its cell at once (repair.go, "Where an item is the queue's").
// A consumer killed before it took nothing: the item stays for others. One
// killed after it holds the value in its own memory only, as any consumer
// killed after the store that releases a claimed cell does; the item was
// never claimed in a cell, so there is nothing to count. Claiming first
// (full -> reading -> free, as the other pops do) would move that line by
// one store without shortening what follows it (the hint, the wake check,
// the return), and cost 4 ns a push+pop pair here (45 -> 49-50 ns, old and
// new test binaries alternated; docs/BENCHMARKS.md).
//
// Anything but an inline full(pos) cell at the head (empty, a push in
// flight, a dead claimer, a spilled value from another handle, corruption)
// goes through claimPop and finishPop, which handle every case.
func (q *Queue[T]) popWord() (T, error) {
	pos := q.hdr.deq.Load()
	for i := 0; i < maxSpins; i++ {
		backoff(i)
		ci := int(pos & q.mask)
		sw := q.state(ci)
		w := sw.Load()
		if w != makeState(pos, stFull, false, 0) {
			if posDiff(cellPos(w), pos) > 0 {
				// Another consumer took pos (the cell has moved on to a
				// later position): step to pos+1 without the hint, as
				// claimPush does, so racing consumers spread out.
				pos++
				continue
			}
			break
		}
		off := ci*q.strW*8 + 8
		b := q.data[off : off+16 : off+16]
		n := binary.NativeEndian.Uint64(b[0:8])
		x := binary.NativeEndian.Uint64(b[8:16])
		if !sw.CompareAndSwap(w, makeState(pos+q.cap, stFree, false, 0)) {
			pos++ // lost pos to another consumer
			continue
		}
		advanceHint(&q.hdr.deq, q.hb[hintDeq:hintDeq+8], pos)
		q.wakePushers()
		if n != 8 {
			var zero T
			return zero, fmt.Errorf("%w: cell %d holds %d bytes, want 8 (%s)", ErrCorrupt, ci, n, q.codec.ID())
		}
		return codec.FromWordBits[T](x), nil
	}
	pos, ci, w, err := q.claimPop()
	if err != nil {
		var zero T
		return zero, err
	}
	return q.finishPop(pos, ci, w)
}
