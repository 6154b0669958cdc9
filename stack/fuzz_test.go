package stack_test

import (
	"testing"
	"time"

	"github.com/posixshm/posixshm/stack"
)

// FuzzStackCorrupt writes random bytes over a stack's memory and runs every
// operation: errors are fine, panics and hangs are not.
func FuzzStackCorrupt(f *testing.F) {
	f.Add(uint16(64), []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0})
	f.Add(uint16(192), []byte{3, 0, 0, 0, 0x05, 0, 0, 0})
	f.Add(uint16(200), []byte{0xff, 0xff, 0xff, 0xff})
	seg := newSeg(f, 4<<20)
	f.Fuzz(func(t *testing.T, at uint16, junk []byte) {
		s, err := stack.New[[]byte](seg, "fz", stack.Capacity(8), stack.SlotSize(16))
		if err != nil {
			t.Skip(err)
		}
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
		s.Push([]byte("abc"))
		copy(mem[int(at)%len(mem):], junk)
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, h := range []*stack.Stack[[]byte]{s, func() *stack.Stack[[]byte] { h, _ := stack.Open[[]byte](seg, "fz"); return h }()} {
				if h == nil {
					continue
				}
				for range 20 {
					h.Push([]byte("x"))
					h.Peek()
					h.Pop()
				}
				h.Len()
				h.Stats()
			}
		}()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			t.Fatal("operations on a corrupted stack hang")
		}
	})
}
