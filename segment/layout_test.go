package segment_test

import (
	"testing"
	"unsafe"

	"github.com/posixshm/posixshm/segment"
)

// Other processes, and docs/LAYOUT.md, depend on these numbers: changing one
// is a new LayoutVersion.
func TestLayoutPinned(t *testing.T) {
	var h segment.Header
	var e segment.DirEntry
	var r segment.RegSlot
	var in segment.IntentRecordLayout
	checks := []struct {
		what      string
		got, want uintptr
	}{
		{"header size", unsafe.Sizeof(h), 192},
		{"directory entry size", unsafe.Sizeof(e), uintptr(segment.DirEntrySize)},
		{"registry slot size", unsafe.Sizeof(r), uintptr(segment.RegSlotSize)},
		{"intent size", unsafe.Sizeof(in), 32},
		{"intents per slot", uintptr(segment.IntentsPerSlot), 62},
		{"header page", uintptr(segment.HeaderSize), 4096},
		{"Magic", uintptr(segment.Magic), 0x314745534d485350},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	if got := string(unsafe.Slice((*byte)(unsafe.Pointer(&[]uint64{segment.Magic}[0])), 8)); got != "PSHMSEG1" {
		t.Errorf("magic bytes %q", got)
	}
}
