//go:build linux && !amd64

package segment

// rescueHandlerPC is 0 where no SIGBUS handler is written (rescue_amd64.s):
// UnguardedReads then reports false for named segments, and structures
// keep their fault guard.
func rescueHandlerPC() uintptr { return 0 }
