package conformance_test

import (
	"testing"

	"github.com/posixshm/posixshm/conformance/harness"
)

// TestMain lets the test binary double as the child process of every
// scenario: harness.Main runs a scenario when the environment names one.
func TestMain(m *testing.M) { harness.Main(m) }
