package alloc

import (
	"testing"
	"unsafe"
)

// Other processes, and docs/LAYOUT.md, depend on these numbers.
func TestLayoutPinned(t *testing.T) {
	var hh heapHeader
	checks := []struct {
		what      string
		got, want uintptr
	}{
		{"block header", unsafe.Sizeof(blockHeader{}), blockHdr},
		{"blockHeader.state", unsafe.Offsetof(blockHeader{}.state), 0},
		{"shard counters", unsafe.Sizeof(shardCounters{}), 64},
		{"shardCounters.allocs", unsafe.Offsetof(shardCounters{}.allocs), 0},
		{"shardCounters.frees", unsafe.Offsetof(shardCounters{}.frees), 8},
		{"heap header chunks", unsafe.Offsetof(hh.chunks), 0},
		{"heap header cursors", unsafe.Offsetof(hh.cursors), 64},
		{"heap header counters", unsafe.Offsetof(hh.counters), 64 + 64*numSmallClasses},
		{"heap header size", unsafe.Sizeof(hh), 64 + 64*numSmallClasses + 64*shards},
		{"heap header size (bytes)", unsafe.Sizeof(hh), 2560},
		{"classes", uintptr(len(classes)), numClasses},
		{"small classes", uintptr(numSmall), numSmallClasses},
		{"small classes (constant)", numSmallClasses, 31},
		{"first class", uintptr(classes[0].size), 32},
		{"largest small class", uintptr(classes[numSmall-1].size), maxSmallBlock},
		{"chunk size", chunkSize, 16 << 10},
		{"block alignment", blockAlign, 16},
		{"bitmap words per chunk", bitmapWords, 8},
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
	// The smallest class fills the bitmap exactly.
	if chunkSize/classes[0].size != bitmapWords*64 {
		t.Errorf("%d blocks of the smallest class per chunk, bitmaps hold %d", chunkSize/classes[0].size, bitmapWords*64)
	}
	// The packed words' bit layouts (layout.go).
	if w := packState(stateOwned, 5, 0x1234, 0x89abcdef); w != 0x89abcdef_1234_05_02 {
		t.Errorf("packState = %#x", w)
	} else if stateOf(w) != stateOwned || classOf(w) != 5 {
		t.Errorf("state %#x decodes as state %d class %d", w, stateOf(w), classOf(w))
	} else if slot, gen := ownerOf(w); slot != 0x1234 || gen != 0x89abcdef {
		t.Errorf("state %#x decodes as owner %d/%d", w, slot, gen)
	}
	if w := packChunk(chunkRetiring, 7, 0x1234, 0x89abcdef); w != 0x89abcdef_1234_07_05 {
		t.Errorf("packChunk = %#x", w)
	} else if chunkStatus(w) != chunkRetiring || chunkClass(w) != 7 {
		t.Errorf("chunk word %#x decodes as status %d class %d", w, chunkStatus(w), chunkClass(w))
	} else if slot, gen := chunkOwner(w); slot != 0x1234 || gen != 0x89abcdef {
		t.Errorf("chunk word %#x decodes as owner %d/%d", w, slot, gen)
	}
	if w := contWord(40, 1000); w != 1000<<32|40<<8|chunkCont {
		t.Errorf("contWord = %#x", w)
	}
	for st, v := range map[uint8]uint8{chunkUnused: 0, chunkCarving: 1, chunkSmall: 2, chunkLarge: 3, chunkCont: 4, chunkRetiring: 5, chunkFreeing: 6, chunkReleasing: 7,
		stateFree + 10: 11, stateOwned + 10: 12, statePublished + 10: 13, stateFreeing + 10: 14, stateRetired + 10: 15} {
		if st != v {
			t.Errorf("chunk status constant %d changed", v)
		}
	}
	if uint64(classes[len(classes)-1].size) < 64<<30 {
		t.Fatalf("largest class %d does not cover a 64 GiB segment", classes[len(classes)-1].size)
	}
}

// TestClassIndex: the multiply that replaces the division by the block
// size is exact at every byte of a chunk, for every small class.
func TestClassIndex(t *testing.T) {
	for class, c := range classes[:numSmall] {
		if c.blocks != chunkSize/c.size {
			t.Errorf("class %d: %d blocks, want %d", class, c.blocks, chunkSize/c.size)
		}
		for rel := uint64(0); rel < chunkSize; rel++ {
			if got := c.index(rel); got != rel/c.size {
				t.Fatalf("class %d (%d bytes): index(%d) = %d, want %d", class, c.size, rel, got, rel/c.size)
			}
		}
	}
}

// TestGeometry: the regions of a heap lie in order, aligned, inside it.
func TestGeometry(t *testing.T) {
	for _, size := range []uint64{64 << 10, 1 << 20, 16 << 20, 1 << 30} {
		{
			const off = 1 << 20 // a heap starts past the segment's header, directory and registry
			g, ok := geometryOf(off, size)
			if !ok {
				t.Errorf("heap of %d bytes: no chunk fits", size)
				continue
			}
			regions := []uint64{off, g.availOff, g.claimedOff, g.tableOff, g.bitsOff, g.chunkOff, g.chunkOff + g.nChunks*chunkSize}
			for i := 1; i < len(regions); i++ {
				if regions[i] < regions[i-1] {
					t.Errorf("heap %d: region %d at %d before region %d at %d", size, i, regions[i], i-1, regions[i-1])
				}
			}
			if g.bitsOff%64 != 0 || g.chunkOff%4096 != 0 || g.chunkOff+g.nChunks*chunkSize > off+size {
				t.Errorf("heap %d: geometry %+v", size, g)
			}
			if g2, ok := geometryOf(off, size); !ok || g2 != g {
				t.Errorf("geometry is not a function of its inputs")
			}
		}
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
