//go:build linux

package segment

import (
	"testing"
	"unsafe"
)

// TestFieldOffsetsPinned pins the offset of every field of the header, a
// directory entry, a registry slot and an intent record. Other processes,
// other builds of this library and docs/LAYOUT.md depend on each one:
// changing one is a new LayoutVersion, and this table changes with it.
func TestFieldOffsetsPinned(t *testing.T) {
	var h header
	var e dirEntry
	var r regSlot
	var in intentRecord
	for _, c := range []struct {
		what      string
		got, want uintptr
	}{
		{"header.magic", unsafe.Offsetof(h.magic), 0},
		{"header.version", unsafe.Offsetof(h.version), 8},
		{"header.byteOrder", unsafe.Offsetof(h.byteOrder), 12},
		{"header.wordSize", unsafe.Offsetof(h.wordSize), 16},
		{"header.headerSize", unsafe.Offsetof(h.headerSize), 20},
		{"header.totalSize", unsafe.Offsetof(h.totalSize), 24},
		{"header.createdNanos", unsafe.Offsetof(h.createdNanos), 32},
		{"header.flags", unsafe.Offsetof(h.flags), 40},
		{"header.dirOff", unsafe.Offsetof(h.dirOff), 48},
		{"header.dirEntries", unsafe.Offsetof(h.dirEntries), 56},
		{"header.dirEntrySize", unsafe.Offsetof(h.dirEntrySize), 60},
		{"header.regOff", unsafe.Offsetof(h.regOff), 64},
		{"header.regSlots", unsafe.Offsetof(h.regSlots), 72},
		{"header.regSlotSize", unsafe.Offsetof(h.regSlotSize), 76},
		{"header.heapOff", unsafe.Offsetof(h.heapOff), 80},
		{"header.heapSize", unsafe.Offsetof(h.heapSize), 88},
		{"header.checksum", unsafe.Offsetof(h.checksum), 96},
		{"header.state", unsafe.Offsetof(h.state), 128},
		{"header size", unsafe.Sizeof(h), 192},

		{"dirEntry.ctl", unsafe.Offsetof(e.ctl), 0},
		{"dirEntry.kind", unsafe.Offsetof(e.kind), 8},
		{"dirEntry.version", unsafe.Offsetof(e.version), 12},
		{"dirEntry.nameLen", unsafe.Offsetof(e.nameLen), 16},
		{"dirEntry.creatorSlot", unsafe.Offsetof(e.creatorSlot), 20},
		{"dirEntry.creatorGen", unsafe.Offsetof(e.creatorGen), 24},
		{"dirEntry.off", unsafe.Offsetof(e.off), 32},
		{"dirEntry.size", unsafe.Offsetof(e.size), 40},
		{"dirEntry.params", unsafe.Offsetof(e.params), 48},
		{"dirEntry.name", unsafe.Offsetof(e.name), 80},
		{"dirEntry size", unsafe.Sizeof(e), dirEntrySize},

		{"regSlot.ctl", unsafe.Offsetof(r.ctl), 0},
		{"regSlot.pid", unsafe.Offsetof(r.pid), 8},
		{"regSlot.attachedNano", unsafe.Offsetof(r.attachedNano), 16},
		{"regSlot.intents", unsafe.Offsetof(r.intents), 64},
		{"regSlot size", unsafe.Sizeof(r), regSlotSize},

		{"intentRecord.word", unsafe.Offsetof(in.word), 0},
		{"intentRecord.a", unsafe.Offsetof(in.a), 8},
		{"intentRecord.b", unsafe.Offsetof(in.b), 16},
		{"intentRecord.c", unsafe.Offsetof(in.c), 24},
		{"intentRecord size", unsafe.Sizeof(in), intentSize},
	} {
		if c.got != c.want {
			t.Errorf("%s at %d, want %d", c.what, c.got, c.want)
		}
	}
}

// TestPackedWordsPinned pins the bit layouts of the packed words that other
// processes decode.
func TestPackedWordsPinned(t *testing.T) {
	if got := intentWord(Kind(0x1234), 0x56, 0x789abcde); got != 0x789abcde_00_56_1234 {
		t.Errorf("intentWord = %#x", got)
	}
	if got := makeEntryCtl(entryReady, 7); got != 7<<32|2 {
		t.Errorf("makeEntryCtl = %#x", got)
	}
	if ctl := uint64(9)<<32 | slotActive; slotState(ctl) != slotActive || slotGen(ctl) != 9 {
		t.Errorf("slot ctl %#x decodes as state %d gen %d", ctl, slotState(ctl), slotGen(ctl))
	}
}
