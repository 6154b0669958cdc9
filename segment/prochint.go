//go:build linux

package segment

import _ "unsafe" // for go:linkname

// procPin and procUnpin are the runtime's own (sync.Pool uses them); the
// runtime keeps them reachable by linkname for the packages that rely on
// them (go.dev/issue/67401).
//
//go:linkname procPin runtime.procPin
func procPin() int

//go:linkname procUnpin runtime.procUnpin
func procUnpin()

// ProcHint returns the index of the scheduler's P (0 to GOMAXPROCS-1)
// that runs the caller: a moment's value, since a goroutine can move
// between Ps at any time, but one that goroutines running at the same
// moment never share. Per-process state that goroutines update (intent
// words, the allocator's chunk cursors) is spread by it, so that goroutines
// of one process do not all CAS the same cache line. About 2.5 ns.
func ProcHint() int {
	p := procPin()
	procUnpin()
	return p
}
