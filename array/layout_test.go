package array

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
		{"elem offset", unsafe.Offsetof(h.elem), 12},
		{"length offset", unsafe.Offsetof(h.length), 16},
		{"elemSize offset", unsafe.Offsetof(h.elemSize), 24},
		{"LayoutVersion", uintptr(LayoutVersion), 1},
		{"Int32", uintptr(Int32), 1},
		{"Int64", uintptr(Int64), 2},
		{"Uint32", uintptr(Uint32), 3},
		{"Uint64", uintptr(Uint64), 4},
		{"Float32", uintptr(Float32), 5},
		{"Float64", uintptr(Float64), 6},
		{"block of 3 int32", uintptr(blockSize(Int32, 3)), 64 + 16},
		{"block of 3 float64", uintptr(blockSize(Float64, 3)), 64 + 24},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	if got := string(unsafe.Slice((*byte)(unsafe.Pointer(&[]uint64{Magic}[0])), 8)); got != "PSHMARR1" {
		t.Errorf("magic bytes %q", got)
	}
	for e := Int32; e <= Float64; e++ {
		if e.String() == "" || e.Size() == 0 {
			t.Errorf("ElemType %d: %q size %d", e, e.String(), e.Size())
		}
	}
	if ElemType(9).String() != "elem(9)" || ElemType(9).Size() != 0 {
		t.Errorf("unknown ElemType: %q %d", ElemType(9).String(), ElemType(9).Size())
	}
}
