package testwait

import (
	"testing"
	"time"
)

// Long bounds a wait for something that happens within a moment on an idle
// machine: long enough for a starved 2-core machine running -race.
const Long = 20 * time.Second

// For polls cond until it holds (true) or d has passed (false, after one
// last try). The interval grows from 1 ms to 10 ms.
func For(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for step := time.Millisecond; ; step = min(2*step, 10*time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return cond()
		}
		time.Sleep(step) // polling a condition that has no event, not a barrier
	}
}

// Until polls cond until it holds; tb fails (Fatal) if it does not within d,
// saying it waited until what.
func Until(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	if !For(d, cond) {
		tb.Fatalf("timed out after %v waiting until %s", d, what)
	}
}
