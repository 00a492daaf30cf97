package gateway

import "errors"

// Why a session ended (read back from the session's outcome; logged).
var (
	// ErrHangup: the channel hung up (or left Stasis) and the client was told with H.
	ErrHangup = errors.New("channel hung up")
	// ErrClientExit: the client sent E or X; the dialplan continues.
	ErrClientExit = errors.New("client exited (E/X)")
	// ErrClientHangup: the client sent H; the channel is hung up.
	ErrClientHangup = errors.New("client hung up (H)")
	// ErrClientGone: the program exited or the server closed the
	// connection (also seen as a broken event stream).
	ErrClientGone = errors.New("client went away")
	// ErrSlowClient: the client stopped reading its events and its
	// bounded queue is full (eivr.ErrSlowClient, Q27).
	ErrSlowClient = errors.New("client does not read its events")
	// ErrStartFailed: the program could not be started or the server reached.
	ErrStartFailed = errors.New("cannot start the client")
	// ErrBadArgs: the StasisStart args are not a valid application string.
	ErrBadArgs = errors.New("bad application string")
	// ErrBadOption: option d on a live channel that is not Up (Q31).
	ErrBadOption = errors.New("option d on a live channel")
	// ErrDenied: the application string is not in the app's allow-list.
	ErrDenied = errors.New("application not allowed")
	// ErrLimit: the app's max_sessions is reached.
	ErrLimit = errors.New("too many sessions")
	// ErrDraining: the gateway takes no new calls.
	ErrDraining = errors.New("gateway draining")
	// ErrOverload: the session could not keep up with its ARI events.
	ErrOverload = errors.New("session event queue overflow")
	// ErrChannelGone: after an ARI reconnect the channel was no longer in the application.
	ErrChannelGone = errors.New("channel gone during ARI outage")
	// ErrNoChannel: Asterisk does not know the channel (404 "Channel not found").
	ErrNoChannel = errors.New("channel not found")
)

// StatusVariable is the channel variable the gateway sets before it sends a
// channel back to the dialplan (or hangs it up) on its own initiative.
const StatusVariable = "EIVRGW_STATUS"

// EIVRGW_STATUS values. The variable is not set when the client ended the
// session itself (E, X, H, exit) or the caller hung up.
const (
	StatusLimit       = "LIMIT"        // max_sessions reached; channel continues
	StatusDraining    = "DRAINING"     // gateway draining; channel continues
	StatusShutdown    = "SHUTDOWN"     // gateway stopped (drain timeout); channel continues
	StatusOverload    = "OVERLOAD"     // session overflowed its ARI event queue; channel continues
	StatusDenied      = "DENIED"       // not in the allow-list; hung up (native returns -1 when it cannot start the program)
	StatusBadArgs     = "BADARGS"      // unparsable application string; hung up (native returns -1)
	StatusBadOption   = "BADOPTION"    // option d on a live channel not Up; hung up (native returns -1)
	StatusStartFailed = "START_FAILED" // spawn/connect failed; hung up (native returns -1)
	StatusSlowClient  = "SLOW_CLIENT"  // client stopped reading events; hung up
	StatusRestarted   = "RESTARTED"    // left in the app by a previous gateway run (killed); channel continues (hung up if that fails)
	StatusLate        = "LATE"         // StasisStart missed during an ARI outage longer than AdoptWindow; channel continues (hung up if that fails)
)
