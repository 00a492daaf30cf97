package eivr

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine or a child process
// outlives them (transports start both).
func TestMain(m *testing.M) {
	// Start the runtime's network poller now, so that its descriptors are
	// not counted as a leak by the first test that checks fds.
	if r, w, err := os.Pipe(); err == nil {
		r.Close()
		w.Close()
	}
	goleak.VerifyTestMain(m, goleak.Cleanup(func(code int) {
		if kids := childPids(os.Getpid()); len(kids) > 0 {
			fmt.Fprintf(os.Stderr, "child processes left behind (zombie or running): %v\n", kids)
			if code == 0 {
				code = 1
			}
		}
		os.Exit(code)
	}))
}
