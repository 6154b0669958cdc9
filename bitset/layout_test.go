package bitset

import (
	"testing"
	"unsafe"
)

// Other processes, and docs/LAYOUT.md, depend on these numbers: changing one
// is a new LayoutVersion.
func TestLayoutPinned(t *testing.T) {
	var h header
	checks := []struct {
		what      string
		got, want uintptr
	}{
		{"header size", unsafe.Sizeof(h), 64},
		{"headerSize", headerSize, 64},
		{"magic offset", unsafe.Offsetof(h.magic), 0},
		{"version offset", unsafe.Offsetof(h.version), 8},
		{"length offset", unsafe.Offsetof(h.length), 16},
		{"nwords offset", unsafe.Offsetof(h.nwords), 24},
		{"LayoutVersion", uintptr(LayoutVersion), 1},
		{"block of 1 bit", uintptr(blockSize(1)), 72},
		{"block of 64 bits", uintptr(blockSize(64)), 72},
		{"block of 65 bits", uintptr(blockSize(65)), 80},

		{"OwnedLayoutVersion", uintptr(OwnedLayoutVersion), 2},
		{"counters size", unsafe.Sizeof(counters{}), 64},
		{"released offset", unsafe.Offsetof(counters{}.released), 0},
		{"owned bits offset", ownedBitsOff, 128},
		{"owner words of 1 bit", uintptr(ownersOff(1)), 192},
		{"owner words of 512 bits", uintptr(ownersOff(512)), 192},
		{"owner words of 513 bits", uintptr(ownersOff(513)), 256},
		{"owned block of 1 bit", uintptr(ownedBlockSize(1)), 200},
		{"owned block of 513 bits", uintptr(ownedBlockSize(513)), 256 + 8*513},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	// An owner word: state in the top byte, slot in bits 32-47, generation
	// in the low 32 bits.
	for _, c := range []struct {
		state uint64
		slot  int
		gen   uint32
		want  uint64
	}{
		{ownClaiming, 3, 7, 0x01000003_00000007},
		{ownHeld, 4095, 0xffffffff, 0x02000fff_ffffffff},
		{ownReleasing, 0, 1, 0x03000000_00000001},
	} {
		w := c.state<<stateShift | stamp(c.slot, c.gen)
		if w != c.want || ownState(w) != c.state || ownerOf(w) != (Owner{c.slot, c.gen}) || !wellFormed(w) {
			t.Errorf("owner word of %d, %d, %d = %#x, want %#x", c.state, c.slot, c.gen, w, c.want)
		}
	}
	if got := string(unsafe.Slice((*byte)(unsafe.Pointer(&[]uint64{Magic}[0])), 8)); got != "PSHMBIT1" {
		t.Errorf("magic bytes %q", got)
	}
}
