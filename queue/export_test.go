package queue

// SetCrashHook installs f as the crash hook (queue.go) for this process's
// tests; the child processes of crash_test.go kill themselves in it.
func SetCrashHook(f func(point int)) { crashHook = f }

// Crash points, for crash_test.go.
const (
	HookPushClaimed   = hookPushClaimed
	HookPushWritten   = hookPushWritten
	HookPushPublished = hookPushPublished
	HookPopClaimed    = hookPopClaimed
	HookPopReleased   = hookPopReleased
	HookBatchClaimed  = hookBatchClaimed
	HookLostMarked    = hookLostMarked
	HookLostCounted   = hookLostCounted
	HookLostFreed     = hookLostFreed
	HookSettleTaken   = hookSettleTaken
)
