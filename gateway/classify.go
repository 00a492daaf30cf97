package gateway

import "errors"

// Until ari's REST errors land these are the gateway's own; the fake ARI of
// the tests returns them. TODO(gateway): map to ari.ErrNotFound & co.
var (
	errNotFound    = errors.New("not found")
	errVarNotSet   = errors.New("variable not set")
	errServerError = errors.New("server error")
)

func isNotFound(err error) bool       { return errors.Is(err, errNotFound) }
func isVariableNotSet(err error) bool { return errors.Is(err, errVarNotSet) }
func isServerError(err error) bool    { return errors.Is(err, errServerError) }
