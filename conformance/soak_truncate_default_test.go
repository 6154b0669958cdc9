//go:build !soakbugs

package conformance_test

import (
	"testing"

	"github.com/posixshm/posixshm/segment"
)

// soakPrepareTruncate adds the queue, stack and hashmap operations to the
// truncation test only in the soakbugs build, until they carry the fault
// guard (see soak_truncate_bugs_test.go).
func soakPrepareTruncate(t *testing.T, seg *segment.Segment) {}
