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
		{"heap header chunks", unsafe.Offsetof(heapHeader{}.chunks), 0},
		{"classList.head", unsafe.Offsetof(classList{}.head), 0},
		{"classList.allocs", unsafe.Offsetof(classList{}.allocs), 8},
		{"classList.frees", unsafe.Offsetof(classList{}.frees), 16},
		{"classList.carved", unsafe.Offsetof(classList{}.carved), 24},
		{"blockHeader.state", unsafe.Offsetof(blockHeader{}.state), 0},
		{"blockHeader.next", unsafe.Offsetof(blockHeader{}.next), 8},
		{"chunk size", chunkSize, 16 << 10},
		{"block alignment", blockAlign, 16},
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
	// The packed words' bit layouts (layout.go).
	if w := packState(stateOwned, 5, 0x1234, 0x89abcdef); w != 0x89abcdef_1234_05_02 {
		t.Errorf("packState = %#x", w)
	} else if stateOf(w) != stateOwned || classOf(w) != 5 {
		t.Errorf("state %#x decodes as state %d class %d", w, stateOf(w), classOf(w))
	} else if slot, gen := ownerOf(w); slot != 0x1234 || gen != 0x89abcdef {
		t.Errorf("state %#x decodes as owner %d/%d", w, slot, gen)
	}
	if chunkEntry(0) != 1 || chunkEntry(127) != 128 || blockMagic != 0xB10C4EAD {
		t.Errorf("chunk entries or block magic changed")
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
