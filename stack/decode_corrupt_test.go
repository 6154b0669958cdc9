package stack_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/posixshm/posixshm/codec"
	"github.com/posixshm/posixshm/segment"
	"github.com/posixshm/posixshm/stack"
)

// An item whose bytes do not decode (here: a length word flipped from 8 to
// 4 under an int64) is corrupt shared memory: Pop, Peek and Snapshot say so
// with an error wrapping ErrCorrupt (and segment.ErrCorrupt), still
// wrapping the codec's decode error (finding 4 of docs/RELIABILITY.md).
func TestDecodeErrorIsCorrupt(t *testing.T) {
	seg := newSeg(t, 1<<20)
	s, err := stack.New[int64](seg, "s", stack.Capacity(4))
	if err != nil {
		t.Fatal(err)
	}
	const v = 0x1122334455667788
	if err := s.Push(v); err != nil {
		t.Fatal(err)
	}
	obj, err := seg.Lookup("s")
	if err != nil {
		t.Fatal(err)
	}
	mem, err := seg.Bytes(obj.Offset, obj.Size)
	if err != nil {
		t.Fatal(err)
	}
	// The cell is a state word, the length word, then the value.
	want := binary.NativeEndian.AppendUint64(binary.NativeEndian.AppendUint64(nil, 8), v)
	i := bytes.Index(mem, want)
	if i < 0 {
		t.Fatal("item not found in the stack's block")
	}
	binary.NativeEndian.PutUint64(mem[i:], 4)

	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, stack.ErrCorrupt) || !errors.Is(err, segment.ErrCorrupt) || !errors.Is(err, codec.ErrDecode) {
			t.Errorf("%s: %v, want an error wrapping stack.ErrCorrupt and codec.ErrDecode", op, err)
		}
	}
	_, err = s.Peek()
	check("Peek", err)
	_, err = s.Snapshot(0)
	check("Snapshot", err)
	_, err = s.Pop()
	check("Pop", err)
	if n := s.Len(); n != 0 {
		t.Errorf("Len after popping the corrupt item: %d, want 0", n)
	}
}
