package eivr

import (
	"errors"
	"fmt"
)

// Protocol sentinels. Parse functions return errors that wrap one of these
// (test with [errors.Is]); a [*ParseError] adds the offending input.
var (
	// ErrEmptyData: the application data is empty. Native ExternalIVR()
	// logs "ExternalIVR requires a command to execute" and returns -1.
	ErrEmptyData = errors.New("empty application data")

	// ErrMissingParen: the target has a '(' but no ')' after it. Native
	// logs "Parse error, missing closing parenthesis" and returns -1 before
	// touching the channel (eivr-protocol.md §2.3).
	ErrMissingParen = errors.New("missing closing parenthesis")

	// ErrNoTarget: the application data yields no program or ivr:// URL at
	// all (e.g. ",n"). Native Asterisk dereferences NULL and crashes (§10 Q19);
	// we reject it.
	ErrNoTarget = errors.New("no program or ivr:// target")

	// ErrTooManyArgs: more than 32 argv elements (program or URL included).
	// Native Asterisk then hands execv an array without its terminating NULL
	// (§2.3); we reject it.
	ErrTooManyArgs = errors.New("more than 32 argv elements")

	// ErrNotTCP: HostPort was asked for a target that is not an ivr:// URL.
	ErrNotTCP = errors.New("not an ivr:// target")

	// ErrEmptyHost: an ivr:// URL without a host ("ivr://", "ivr://:3000").
	// Native getaddrinfo fails: "Unable to locate host".
	ErrEmptyHost = errors.New("ivr:// URL without a host")

	// ErrEmptyVarName: a V command item without a name ("V,=x"). Native
	// Asterisk reads before the start of the string (§6.2); we reject the item.
	ErrEmptyVarName = errors.New("variable name is empty")

	// ErrBadEvent: a line that is not an event as Asterisk writes it
	// ("<tag>,<%10d timestamp>[,<data>]").
	ErrBadEvent = errors.New("malformed event line")
)

// ParseError is the error of a parse function: which input it was, why it
// failed, and the sentinel it wraps (one of the Err* values above).
type ParseError struct {
	Input  string // the offending input, as given
	Reason string // what is wrong with it, for people
	Err    error  // the sentinel, for errors.Is
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%q: %s", e.Input, e.Reason)
}

func (e *ParseError) Unwrap() error { return e.Err }

func parseError(input string, sentinel error, reason string) *ParseError {
	if reason == "" {
		reason = sentinel.Error()
	}
	return &ParseError{Input: input, Reason: reason, Err: sentinel}
}
