//go:build linux && race

package segment

// raceBuild: the race detector runs atomic operations in its C runtime, on
// the system stack, where a memory fault cannot become a panic. A guarded
// atomic write to pages the SIGBUS handler made read-only would crash
// there, so UnguardedReads declines named segments in race builds.
const raceBuild = true
