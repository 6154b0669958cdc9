package array

// Stats describes an array, in the shape the other structures use, for
// programs and tools. An array has no operation counters: each operation is
// one atomic instruction, and a counter would double its cost. Nothing is
// ever lost with a dead process either: a single-word atomic either
// happened or did not.
type Stats struct {
	Len  int      // number of elements
	Elem ElemType // element type
}

// Stats returns the array's statistics. It does not read the elements.
func (a *Array[T]) Stats() Stats { return Stats{Len: len(a.data), Elem: elemOf[T]()} }
