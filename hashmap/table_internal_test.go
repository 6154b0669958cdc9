package hashmap

import (
	"strings"
	"testing"
)

// TestKeyIs: the in-place key compare tells apart keys that differ in any
// one byte, at every length around its two-word fast case.
func TestKeyIs(t *testing.T) {
	for n := range 25 {
		k := strings.Repeat("k", n)
		rec := []byte(k)
		if !keyIs(&append(rec, 0)[0], n, k) {
			t.Fatalf("len %d: equal keys differ", n)
		}
		for i := range n {
			other := []byte(k)
			other[i] ^= 1
			if keyIs(&other[0], n, k) {
				t.Fatalf("len %d: keys differing at byte %d compare equal", n, i)
			}
		}
		if n > 0 && keyIs(&rec[0], n-1, k) {
			t.Fatalf("len %d: a shorter key compares equal", n)
		}
	}
}

// TestHashSpreads: keys of every length around hashShort's range that
// differ in one byte hash differently (a smoke test of both paths).
func TestHashSpreads(t *testing.T) {
	for n := 1; n < 40; n++ {
		seen := map[uint64]int{}
		for i := range n {
			b := []byte(strings.Repeat("x", n))
			b[i] = 'y'
			h := hashOf(42, string(b))
			if j, dup := seen[h]; dup {
				t.Fatalf("len %d: keys differing at bytes %d and %d hash alike", n, j, i)
			}
			seen[h] = i
		}
	}
}
