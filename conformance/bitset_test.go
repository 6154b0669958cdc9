package conformance_test

import (
	"math/bits"
	"testing"
	"time"

	"github.com/posixshm/posixshm/bitset"
	"github.com/posixshm/posixshm/conformance/harness"
	"github.com/posixshm/posixshm/segment"
)

func init() {
	harness.Register("bitset-claim", bitsetClaim)
}

// bitsetClaim races its siblings to TestAndSet every bit of "claims", and
// reports the bits it won as a bitmap, 64 to a word.
func bitsetClaim(c *harness.Child) error {
	seg, err := segment.Open(c.Seg)
	if err != nil {
		return err
	}
	defer seg.Close()
	b, err := bitset.Open(seg, "claims")
	if err != nil {
		return err
	}
	n := b.Len()
	won := make([]uint64, (n+63)/64)
	// Each child visits every bit once, in its own order (a stride that is
	// prime and does not divide n), so the children meet on all words in
	// a mixed order rather than each sweeping a region of its own.
	stride := []int{7, 11, 13, 17, 19, 23, 29, 31}[c.Index%8]
	if n%stride == 0 {
		stride = 1
	}
	c.WaitStart()
	for k := range n {
		i := (k * stride) % n
		if !b.TestAndSet(i) {
			won[i/64] |= 1 << (i % 64)
		}
		if k%512 == 0 {
			// A sweep takes a few milliseconds, less than a time slice:
			// sleeping now and then lets the 8 processes interleave on
			// few cores, so they truly contend for the same words.
			time.Sleep(20 * time.Microsecond)
		}
	}
	c.Report(won)
	return nil
}

// TestBitsetTestAndSetClaims: 8 processes TestAndSet the same 100,000 bits;
// each bit is won by exactly one process.
func TestBitsetTestAndSetClaims(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	const procs = 8
	name := harness.SegmentName(t)
	seg, err := segment.Create(name, 8<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer seg.Close()
	b, err := bitset.New(seg, "claims", n)
	if err != nil {
		t.Fatal(err)
	}
	g := harness.Start(t, "bitset-claim", name, procs, nil)
	outs := harness.MustSucceed(t, g.Wait())
	union := make([]uint64, (n+63)/64)
	total := 0
	for _, o := range outs {
		var won []uint64
		harness.Decode(t, o.Result, &won)
		if len(won) != len(union) {
			t.Fatalf("child %d reported %d words, want %d", o.Index, len(won), len(union))
		}
		for w, v := range won {
			if both := union[w] & v; both != 0 {
				i := w*64 + bits.TrailingZeros64(both)
				t.Fatalf("bit %d won by child %d and an earlier child", i, o.Index)
			}
			union[w] |= v
			total += bits.OnesCount64(v)
		}
		t.Logf("child %d won %d bits", o.Index, countBits(won))
	}
	if total != n {
		t.Fatalf("%d bits won in all, want %d: some bit was won by nobody", total, n)
	}
	if !b.All() || b.Count() != n {
		t.Fatalf("shared bitset: All %v Count %d, want all %d set", b.All(), b.Count(), n)
	}
}

func countBits(ws []uint64) (n int) {
	for _, w := range ws {
		n += bits.OnesCount64(w)
	}
	return n
}
