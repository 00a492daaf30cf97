package transcript

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a Recorder's writer outlives
// them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
