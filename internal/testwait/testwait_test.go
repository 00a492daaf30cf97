package testwait

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestFor(t *testing.T) {
	tests := []struct {
		name  string
		after int32 // cond holds from its nth call on; 0: never
		d     time.Duration
		want  bool
	}{
		{"at once", 1, 0, true},
		{"after some polls", 5, Long, true},
		{"never", 0, 20 * time.Millisecond, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var calls atomic.Int32
			got := For(tt.d, func() bool { return calls.Add(1) == tt.after || (tt.after > 0 && calls.Load() > tt.after) })
			if got != tt.want {
				t.Errorf("For = %v after %d calls, want %v", got, calls.Load(), tt.want)
			}
			if tt.want && calls.Load() != tt.after {
				t.Errorf("cond called %d times, want %d (no call after it held)", calls.Load(), tt.after)
			}
		})
	}
}

// fakeTB records Fatalf instead of stopping the test.
type fakeTB struct {
	testing.TB
	failed string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.failed = format
}

func TestUntil(t *testing.T) {
	f := &fakeTB{TB: t}
	Until(f, 5*time.Millisecond, "never", func() bool { return false })
	if f.failed == "" {
		t.Error("Until did not fail on a condition that never holds")
	}
	f = &fakeTB{TB: t}
	Until(f, Long, "now", func() bool { return true })
	if f.failed != "" {
		t.Errorf("Until failed on a condition that holds: %s", f.failed)
	}
}
