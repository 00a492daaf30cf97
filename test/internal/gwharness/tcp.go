package gwharness

import (
	"context"
	"regexp"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/eivr/eivrtest"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// Accept returns the next connection the gateway made to s (an ivr://
// server of eivrtest, which closes it when the test ends); t fails if none
// comes within testwait.Long.
func Accept(t testing.TB, s *eivrtest.Server) *eivrtest.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testwait.Long)
	defer cancel()
	c, err := s.Accept(ctx)
	if err != nil {
		t.Fatalf("the gateway did not connect: %v", err)
	}
	return c
}

// NoConnection checks that the gateway has made no connection to s that
// the test did not Accept.
func NoConnection(t testing.TB, s *eivrtest.Server) {
	t.Helper()
	if n := s.Waiting(); n > 0 {
		t.Errorf("the gateway made %d connection(s) nobody expected, want no session", n)
	}
}

// tsRE matches an event line's timestamp field.
var tsRE = regexp.MustCompile(`(?m)^(.),[ -]?\d{1,10}(,|$)`)

// Mask replaces the timestamps of the event lines in s by "ts"
// ("F,1700000000,beep" becomes "F,ts,beep").
func Mask(s string) string { return tsRE.ReplaceAllString(s, "${1},ts${2}") }
