package stack

import (
	"testing"
	"unsafe"
)

// TestLayout pins the shared-memory layout other processes read.
func TestLayout(t *testing.T) {
	var h header
	for _, c := range []struct {
		name      string
		got, want uintptr
	}{
		{"sizeof(header)", unsafe.Sizeof(h), headerSize},
		{"version", unsafe.Offsetof(h.version), 8},
		{"slotSize", unsafe.Offsetof(h.slotSize), 12},
		{"capacity", unsafe.Offsetof(h.capacity), 16},
		{"fingerprint", unsafe.Offsetof(h.fingerprint), 24},
		{"top", unsafe.Offsetof(h.top), 64},
		{"lost", unsafe.Offsetof(h.lost), 128},
		{"highWater", unsafe.Offsetof(h.highWater), 136},
		{"repaired", unsafe.Offsetof(h.repaired), 144},
		{"lostGate", unsafe.Offsetof(h.lostGate), 152},
	} {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.name, c.got, c.want)
		}
	}
	if string(unsafe.Slice((*byte)(unsafe.Pointer(&[]uint64{sMagic}[0])), 8)) != "PSHMSTK1" {
		t.Errorf("sMagic does not spell PSHMSTK1")
	}
	o := stamp(4095, 0xfffff)
	if w := makeState(stReading, o); cellState(w) != stReading || cellOwner(w) != o || stampSlot(o) != 4095 || stampGen(o) != 0xfffff {
		t.Errorf("state word %#x decodes wrong", w)
	}
	if w := makeState(stReading, o) | lostBit; cellState(w) != stReading || cellOwner(w) != o {
		t.Errorf("counted bit overlaps another field of %#x", w)
	}
	if top := nextTop(5<<32|7, 8); height(top) != 8 || top>>32 != 6 {
		t.Errorf("nextTop = %#x", top)
	}
}
