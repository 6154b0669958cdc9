package bitset

// Stats describes a bitset, in the shape the other structures use, for
// programs and tools. A bitset has no operation counters: each plain
// operation is one atomic instruction, and a counter would double its
// cost. A plain bitset loses nothing with a dead process (a single-word
// atomic either happened or did not), though a bit it had claimed with
// TestAndSet stays set; an owned bitset's recovery releases such bits and
// counts them in Released.
type Stats struct {
	Len      int    // number of bits
	Set      int    // bits set now (a Count: it reads every word)
	Owned    int    // bits with an owner, claimed or being claimed or released (reads every owner word); 0 without owners
	Released uint64 // owned bits released because their owner was gone (by recovery or ReleaseOrphans), ever; 0 without owners
}

// Stats returns the bitset's statistics. It does not block; the counts
// are not a snapshot under concurrent writes.
func (b *Bitset) Stats() Stats {
	st := Stats{Len: b.Len(), Set: b.Count()}
	if b.owners != nil {
		st.Owned, st.Released = b.owned(), b.ctrs.released.Load()
	}
	return st
}
