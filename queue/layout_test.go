package queue

import (
	"testing"
	"unsafe"
)

// TestLayout pins the shared-memory layout: other processes, and other
// builds of this package, read these offsets.
func TestLayout(t *testing.T) {
	var h header
	checks := []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof(header)", unsafe.Sizeof(h), headerSize},
		{"magic", unsafe.Offsetof(h.magic), 0},
		{"version", unsafe.Offsetof(h.version), 8},
		{"slotSize", unsafe.Offsetof(h.slotSize), 12},
		{"capacity", unsafe.Offsetof(h.capacity), 16},
		{"fingerprint", unsafe.Offsetof(h.fingerprint), 24},
		{"enq", unsafe.Offsetof(h.enq), 64},
		{"deq", unsafe.Offsetof(h.deq), 128},
		{"lost", unsafe.Offsetof(h.lost), 192},
		{"notEmpty", unsafe.Offsetof(h.notEmpty), 200},
		{"popWaiters", unsafe.Offsetof(h.popWaiters), 204},
		{"notFull", unsafe.Offsetof(h.notFull), 208},
		{"pushWaiters", unsafe.Offsetof(h.pushWaiters), 212},
		{"sleeps", unsafe.Offsetof(h.sleeps), 216},
		{"highWater", unsafe.Offsetof(h.highWater), 224},
		{"repaired", unsafe.Offsetof(h.repaired), 232},
		{"lostGate", unsafe.Offsetof(h.lostGate), 240},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if DefaultSlotSize+cellHeader != 64 {
		t.Errorf("default cell is %d bytes, want one 64-byte line", DefaultSlotSize+cellHeader)
	}
	if string(unsafe.Slice((*byte)(unsafe.Pointer(&[]uint64{qMagic}[0])), 8)) != "PSHMQUE1" {
		t.Errorf("qMagic does not spell PSHMQUE1")
	}
}

func TestStateWord(t *testing.T) {
	o := stamp(4095, 0xfffff)
	w := makeState(1<<28+5, stReading, true, o)
	if cellPos(w) != 5 || cellState(w) != stReading || !cellSpill(w) || cellOwner(w) != o || stampSlot(o) != 4095 || stampGen(o) != 0xfffff {
		t.Fatalf("state word %#x decodes wrong", w)
	}
	// The counted bit changes nothing else a reader decodes.
	if m := w | lostBit; m == w || cellPos(m) != 5 || cellState(m) != stReading || !cellSpill(m) || cellOwner(m) != o {
		t.Fatalf("counted bit %#x overlaps another field of %#x", uint64(lostBit), w)
	}
	// The gate's snap and held bit sit below the holder's stamp.
	if g := uint64(gateSnapMask) | gateHeld | uint64(o)<<32; uint32(g>>32) != o || g&gateSnapMask != gateSnapMask || g&gateHeld == 0 {
		t.Fatalf("gate word %#x decodes wrong", g)
	}
	// Free and full cells carry the lap (position bits 28..60) instead of
	// an owner, and report no owner.
	for _, st := range []uint64{stFree, stFull} {
		p := uint64(3)<<posBits | 5
		w := makeState(p, st, false, o)
		if cellPos(w) != 5 || cellState(w) != st || cellOwner(w) != 0 || w>>ownShift != 3 {
			t.Errorf("state %d word %#x: lap or owner wrong", st, w)
		}
		if makeState(p, st, false, 0) == makeState(p+1<<posBits, st, false, 0) {
			t.Errorf("state %d: positions a 2^28 lap apart share a word", st)
		}
	}
	for _, c := range []struct {
		cell uint32
		pos  uint64
		want int32
	}{{5, 5, 0}, {6, 5, 1}, {4, 5, -1}, {0, posMask, 1}, {posMask, 1 << posBits, -1}, {0, 1 << 24, -(1 << 24)}} {
		if got := posDiff(c.cell, c.pos); got != c.want {
			t.Errorf("posDiff(%d, %d) = %d, want %d", c.cell, c.pos, got, c.want)
		}
	}
}
