package bitset

// Stats describes a bitset, in the shape the other structures use, for
// programs and tools. A bitset has no operation counters: each operation is
// one atomic instruction, and a counter would double its cost. Nothing is
// ever lost with a dead process: a single-word atomic either happened or
// did not.
type Stats struct {
	Len int // number of bits
	Set int // bits set now (a Count: it reads every word)
}

// Stats returns the bitset's statistics.
func (b *Bitset) Stats() Stats { return Stats{Len: b.Len(), Set: b.Count()} }
