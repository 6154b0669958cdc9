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
}

var classes, numSmall = buildClasses()

func buildClasses() ([]classInfo, int) {
	var cs []classInfo
	for _, s := range []uint64{32, 48, 64, 80, 96, 112, 128} {
		cs = append(cs, classInfo{size: s})
	}
	for base := uint64(128); base < maxSmallBlock; base *= 2 {
		for q := uint64(1); q <= 4; q++ {
			cs = append(cs, classInfo{size: base + base*q/4})
		}
	}
	small := len(cs)
	for _, n := range []uint64{1, 2, 3, 4} {
		cs = append(cs, classInfo{size: n * chunkSize, chunks: n})
	}
	for base := uint64(4); len(cs) < numClasses; base *= 2 {
		for q := uint64(1); q <= 4 && len(cs) < numClasses; q++ {
			n := base + base*q/4
			cs = append(cs, classInfo{size: n * chunkSize, chunks: n})
		}
	}
	return cs, small
}

// classFor returns the smallest class whose blocks hold total bytes
// (header included), or -1.
func classFor(total uint64) int {
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
