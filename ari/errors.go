package ari

import (
	"context"
	"errors"
	"strconv"
)

// Sentinels matched by *Error.Is; test REST errors with errors.Is.
var (
	// ErrNotFound: 404, no such channel, playback, application or sound.
	ErrNotFound = errors.New("ari: not found")
	// ErrVariableNotSet: GET variable's 404 "Provided variable was not
	// found" (the channel exists, the variable is unset). It does not match
	// ErrNotFound.
	ErrVariableNotSet = errors.New("ari: variable not set")
	// ErrConflict: 409, e.g. the channel is not in a Stasis application,
	// or an id already exists.
	ErrConflict = errors.New("ari: conflict")
	// ErrPrecondition: 412, the channel is in an invalid state (Down,
	// Rsrved, Ringing: an unanswered outbound channel).
	ErrPrecondition = errors.New("ari: precondition failed")
	// ErrBadRequest: 400, invalid parameters (also raised locally for
	// arguments that cannot be sent).
	ErrBadRequest = errors.New("ari: bad request")
	// ErrUnavailable: 5xx, or no HTTP reply at all (connection refused or
	// reset, timeout, TLS failure; not when the caller's context was
	// canceled).
	ErrUnavailable = errors.New("ari: unavailable")
	// ErrUnauthorized: 401 or 403, credentials or ACL rejected.
	ErrUnauthorized = errors.New("ari: unauthorized")
)

// variableNotFound is Asterisk's message for an unset variable (22.10.1).
const variableNotFound = "Provided variable was not found"

// Error is a failed REST call. Status is 0 when no HTTP reply was received
// (then Err is the transport error, reachable with errors.Is/As). It never
// holds credentials or query parameters.
type Error struct {
	Method, Path string // e.g. "POST", "/channels/c1/answer" (relative to the ARI base)
	Status       int
	Message      string // Asterisk's {"message": ...} (or "error"), else the status text
	Err          error
}

func (e *Error) Error() string {
	b := make([]byte, 0, 64)
	b = append(b, "ari: "...)
	b = append(b, e.Method...)
	b = append(b, ' ')
	b = append(b, e.Path...)
	b = append(b, ": "...)
	if e.Status != 0 {
		b = strconv.AppendInt(b, int64(e.Status), 10)
		if e.Message != "" {
			b = append(b, ' ')
			b = append(b, e.Message...)
		}
	} else if e.Err != nil {
		b = append(b, e.Err.Error()...)
	}
	return string(b)
}

// Unwrap returns the transport error, if any.
func (e *Error) Unwrap() error { return e.Err }

// Is maps the status to the sentinels.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == 404 && e.Message != variableNotFound
	case ErrVariableNotSet:
		return e.Status == 404 && e.Message == variableNotFound
	case ErrConflict:
		return e.Status == 409
	case ErrPrecondition:
		return e.Status == 412
	case ErrBadRequest:
		return e.Status == 400
	case ErrUnauthorized:
		return e.Status == 401 || e.Status == 403
	case ErrUnavailable:
		return e.Status >= 500 || (e.Status == 0 && !errors.Is(e.Err, context.Canceled))
	}
	return false
}
