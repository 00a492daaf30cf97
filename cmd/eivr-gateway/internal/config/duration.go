package config

import (
	"fmt"
	"time"
)

// Duration is a time.Duration written as a string in TOML ("2s", "150ms").
// It is a struct so that a bare TOML integer (grace = 2, which would mean
// 2 ns) is a type error instead of a surprise.
type Duration struct{ time.Duration }

// Dur makes a Duration.
func Dur(d time.Duration) Duration { return Duration{d} }

// UnmarshalText parses a Go duration string; a negative one is an error.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("want a duration such as \"2s\" or \"150ms\": %w", err)
	}
	if v < 0 {
		return fmt.Errorf("duration %q is negative", b)
	}
	d.Duration = v
	return nil
}

// MarshalText formats d like time.Duration.String.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }
