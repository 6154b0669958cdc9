//go:build linux

package segment

import (
	"fmt"
	"sync/atomic"
)

// Counters are operation counters that every process can bump on the hot
// path without contending with other processes: one 64-byte line of eight
// counters per registry slot, and each process adds only to its own slot's
// line. Reading sums the lines. A slot's line outlives the process that used
// it, so sums count every operation since the object was created; a process
// that later takes the slot keeps adding to the same line.
//
// Layout, inside the block of the object that owns them (CountersSize bytes,
// 64-byte aligned):
//
//	[slot][8]uint64, atomic, written only by the slot's owner
type Counters struct {
	lines [][NumCounters]atomic.Uint64
	mine  *[NumCounters]atomic.Uint64
}

// NumCounters is how many counters a Counters set holds.
const NumCounters = 8

// CountersSize returns the bytes a Counters set takes in s: one cache line
// per registry slot.
func CountersSize(s *Segment) uint64 { return uint64(len(s.reg)) * 64 }

// CountersAt returns the counter set at off, which must be 64-byte aligned
// and CountersSize(s) long. On a ReadOnly segment Add goes to a private
// line that nobody reads.
func CountersAt(s *Segment, off Offset) (*Counters, error) {
	if off%64 != 0 {
		return nil, fmt.Errorf("%w: counters at %d are not 64-byte aligned", ErrCorrupt, off)
	}
	lines, err := Slice[[NumCounters]atomic.Uint64](s, off, len(s.reg))
	if err != nil {
		return nil, err
	}
	c := &Counters{lines: lines}
	if s.slot >= 0 {
		c.mine = &lines[s.slot]
	} else {
		c.mine = new([NumCounters]atomic.Uint64)
	}
	return c, nil
}

// Add adds n to counter i of this process's line. i must be below
// NumCounters.
func (c *Counters) Add(i int, n uint64) { c.mine[i].Add(n) }

// Sum returns counter i summed over every process that ever used the object.
func (c *Counters) Sum(i int) uint64 {
	var t uint64
	for j := range c.lines {
		t += c.lines[j][i].Load()
	}
	return t
}

// Sums returns every counter summed over all processes. Lines are read one
// after another while others may be adding, so under load the sums are a
// moment's approximation; at rest they are exact.
func (c *Counters) Sums() [NumCounters]uint64 {
	var t [NumCounters]uint64
	for j := range c.lines {
		for i := range t {
			t[i] += c.lines[j][i].Load()
		}
	}
	return t
}

// Max raises w to v if v is larger: a high-water mark. It writes only when
// the mark moves, so after warm-up it costs one shared read.
func Max(w *atomic.Uint64, v uint64) {
	for {
		cur := w.Load()
		if v <= cur || w.CompareAndSwap(cur, v) {
			return
		}
	}
}
