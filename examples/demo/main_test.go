package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain lets the test binary act as a worker, as the demo binary does.
func TestMain(m *testing.M) {
	if len(os.Args) == 3 && (os.Args[1] == "producer" || os.Args[1] == "consumer") {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// The demo runs end to end with real processes, and leaves nothing behind.
func TestDemo(t *testing.T) {
	for _, anonymous := range []bool{false, true} {
		before, _ := filepath.Glob("/dev/shm/posixshm-demo-*")
		if err := parent(anonymous); err != nil {
			t.Fatalf("anonymous=%v: %v", anonymous, err)
		}
		after, _ := filepath.Glob("/dev/shm/posixshm-demo-*")
		if len(after) > len(before) {
			t.Fatalf("anonymous=%v: demo left %v", anonymous, after)
		}
	}
}
