package alloc

import (
	"testing"
	"unsafe"
)

// Other processes, and docs/LAYOUT.md, depend on these numbers.
func TestLayoutPinned(t *testing.T) {
	checks := []struct {
		what      string
		got, want uintptr
	}{
		{"block header", unsafe.Sizeof(blockHeader{}), blockHdr},
		{"class list", unsafe.Sizeof(classList{}), 64},
		{"heap header", unsafe.Sizeof(heapHeader{}), 64 + 64*numClasses + 64*numSmallClasses*(shards-1)},
		{"heap header lists", unsafe.Offsetof(heapHeader{}.lists), 64},
		{"heap header shards", unsafe.Offsetof(heapHeader{}.shards), 64 + 64*numClasses},
		{"heap header size", unsafe.Sizeof(heapHeader{}), 22144},
		{"classes", uintptr(len(classes)), numClasses},
		{"small classes", uintptr(numSmall), numSmallClasses},
		{"small classes (constant)", numSmallClasses, 31},
		{"first class", uintptr(classes[0].size), 32},
		{"largest small class", uintptr(classes[numSmall-1].size), maxSmallBlock},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %d, want %d", c.what, c.got, c.want)
		}
	}
	for i := 1; i < len(classes); i++ {
		if classes[i].size <= classes[i-1].size {
			t.Fatalf("class %d (%d bytes) not larger than class %d", i, classes[i].size, i-1)
		}
	}
	if uint64(classes[len(classes)-1].size) < 64<<30 {
		t.Fatalf("largest class %d does not cover a 64 GiB segment", classes[len(classes)-1].size)
	}
}

// TestClassFor: the table lookup for small blocks agrees with the binary
// search over every class, at every size up to past the small classes.
func TestClassFor(t *testing.T) {
	for total := uint64(0); total <= 3*16384; total++ {
		if got, want := classFor(total), classSearch(total); got != want {
			t.Fatalf("classFor(%d) = %d, binary search says %d", total, got, want)
		}
	}
}
