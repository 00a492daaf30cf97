package eivr

import "errors"

// Transport sentinels. A [Conn]'s Err, Send and Close return errors that wrap
// one of these (test with [errors.Is]); the wrapping adds the details.
var (
	// ErrSlowClient: the client does not read its events and the Conn's
	// bounded event queue is full. Native Asterisk blocks the channel forever
	// in that case (eivr-protocol.md §10 Q27); we end the session instead.
	ErrSlowClient = errors.New("client does not read its events: event queue full")

	// ErrClientEOF: the client closed its command stream (a program's
	// stdout, a TCP server's side of the socket). Native Asterisk logs
	// "Child process went away" and hangs up (§4.2, §8.3).
	ErrClientEOF = errors.New("client closed its command stream")

	// ErrStderrEOF: a local program closed its stderr, which ends the session
	// as on Asterisk (§4.3, §10 Q25): a child that closes fd 2 hangs up its call.
	ErrStderrEOF = errors.New("client program closed its stderr")

	// ErrConnClosed: the Conn was closed by our side (Close was called).
	ErrConnClosed = errors.New("eivr connection closed")

	// ErrResolve: the ivr:// host (or port service name) could not be
	// resolved; native logs "Unable to locate host" (§3.2).
	ErrResolve = errors.New("unable to locate host")

	// ErrConnect: no resolved address accepted the connection within the
	// connect timeout; native logs "Could not connect to any host" (§3.2).
	// The error is a *[DialError] listing every address tried.
	ErrConnect = errors.New("could not connect to any host")
)
