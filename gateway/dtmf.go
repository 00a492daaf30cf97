package gateway

import (
	"strings"
	"time"
)

// dtmfArgs splits D's parameter. TODO(gateway): use eivr.DTMFArgs.
func dtmfArgs(param []byte) (digits string, between, duration time.Duration) {
	parts := strings.SplitN(string(param), ",", 3)
	digits = parts[0]
	between, duration = 250*time.Millisecond, 100*time.Millisecond
	if len(parts) > 1 {
		if d, err := time.ParseDuration(parts[1] + "ms"); err == nil && d > 0 {
			between = d
		}
	}
	if len(parts) > 2 {
		if d, err := time.ParseDuration(parts[2] + "ms"); err == nil && d > duration {
			duration = d
		}
	}
	return digits, between, duration
}
