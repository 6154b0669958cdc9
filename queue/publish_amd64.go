package queue

import (
	"sync/atomic"
	"unsafe"
)

// storeRelease stores v to *w with release order only. On amd64 every store
// is a release (TSO), so a plain MOV does it, where atomic.Store is an XCHG:
// a locked instruction, a full barrier, about 5 ns. What the XCHG would add
// is store-load order, which only the check for sleepers after a publish
// needs; sleepers supply it themselves (segment.OtherProcessesFence, see
// wake). The Go compiler keeps stores in program order, so the cell's data,
// written before, is visible before this store.
//
// This is the package's one unsafe access to a shared word.
func storeRelease(w *atomic.Uint64, v uint64) {
	*(*uint64)(unsafe.Pointer(w)) = v
}
