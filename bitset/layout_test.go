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
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	if got := string(unsafe.Slice((*byte)(unsafe.Pointer(&[]uint64{Magic}[0])), 8)); got != "PSHMBIT1" {
		t.Errorf("magic bytes %q", got)
	}
}
