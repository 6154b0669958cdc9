//go:build race

package hashmap_test

// raceBuild: the race detector runs atomic operations in its C runtime,
// where Go cannot turn a memory fault into a panic (SetPanicOnFault), so a
// test must not make a guarded atomic fault.
const raceBuild = true
