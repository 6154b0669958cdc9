package alloc

// Size classes. Small classes are block sizes (header included) from 32 to
// 8 KiB, four per power of two so no block wastes more than a fifth of
// itself; large classes are whole-chunk counts, also four per power of two.
// Freed blocks go back to their class's list and are reused by the next
// allocation of that class.

const numClasses = 128

type classInfo struct {
	size   uint64 // block size in bytes, header included
	chunks uint64 // for large classes, chunks per block; 0 for small
	blocks uint64 // for small classes, blocks per chunk: chunkSize / size
	inv    uint64 // for small classes, ceil(2^32 / size): x*inv>>32 is x/size for every x below chunkSize
}

// index returns which block of a chunk of this small class starts at byte
// rel of the chunk (rel < chunkSize): rel / size without a division, which
// cost Free several ns.
func (c classInfo) index(rel uint64) uint64 { return rel * c.inv >> 32 }

var classes, numSmall = buildClasses()

func buildClasses() ([]classInfo, int) {
	var cs []classInfo
	small := func(size uint64) classInfo {
		return classInfo{size: size, blocks: chunkSize / size, inv: (1<<32 + size - 1) / size}
	}
	for _, s := range []uint64{32, 48, 64, 80, 96, 112, 128} {
		cs = append(cs, small(s))
	}
	for base := uint64(128); base < maxSmallBlock; base *= 2 {
		for q := uint64(1); q <= 4; q++ {
			cs = append(cs, small(base+base*q/4))
		}
	}
	nSmall := len(cs)
	for _, n := range []uint64{1, 2, 3, 4} {
		cs = append(cs, classInfo{size: n * chunkSize, chunks: n})
	}
	for base := uint64(4); len(cs) < numClasses; base *= 2 {
		for q := uint64(1); q <= 4 && len(cs) < numClasses; q++ {
			n := base + base*q/4
			cs = append(cs, classInfo{size: n * chunkSize, chunks: n})
		}
	}
	return cs, nSmall
}

// classFor returns the smallest class whose blocks hold total bytes
// (header included), or -1.
func classFor(total uint64) int {
	if total <= maxSmallBlock {
		return int(smallClassOf[(total+15)/16])
	}
	return classSearch(total)
}

// smallClassOf[i] is classSearch(16*i): every small class size is a
// multiple of 16, so it is the class of any total in (16*(i-1), 16*i]. A
// lookup where the binary search cost Alloc about 4 ns of branches.
var smallClassOf = func() (t [maxSmallBlock/16 + 1]uint8) {
	for i := range t {
		t[i] = uint8(classSearch(uint64(i) * 16))
	}
	return t
}()

// classSearch is classFor by binary search over every class.
func classSearch(total uint64) int {
	lo, hi := 0, len(classes)
	for lo < hi {
		m := (lo + hi) / 2
		if classes[m].size >= total {
			hi = m
		} else {
			lo = m + 1
		}
	}
	if lo == len(classes) {
		return -1
	}
	return lo
}
