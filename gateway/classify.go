package gateway

import (
	"errors"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// isNotFound: the channel or playback no longer exists (a 404 on a hung-up
// channel is routine).
func isNotFound(err error) bool { return errors.Is(err, ari.ErrNotFound) }

// isVariableNotSet: GET variable on an unset variable (G replies "name=").
func isVariableNotSet(err error) bool { return errors.Is(err, ari.ErrVariableNotSet) }

// isServerError: Asterisk answered 5xx (P8: a stop right after
// PlaybackStarted may get 500 and is retried).
func isServerError(err error) bool {
	var e *ari.Error
	return errors.As(err, &e) && e.Status >= 500
}
