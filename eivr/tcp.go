package eivr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"
)

// Defaults of TCPConfig.
const (
	// DefaultPort is the ivr:// port when none is given (§3.2).
	DefaultPort = "2949"
	// DefaultConnectTimeout bounds DialTCP as a whole: name resolution plus
	// every connection attempt. Native Asterisk has no limit of its own and
	// blocks the channel for minutes on a dead address (§10 Q26).
	DefaultConnectTimeout = 10 * time.Second
	// minAttemptTimeout: an address is given at least this much of what is
	// left of the connect timeout, so that a black-holed first address cannot
	// eat the whole budget of the ones after it... unless little is left.
	minAttemptTimeout = 2 * time.Second
)

// TCPConfig says how DialTCP connects to an ivr:// server. The zero value is
// ready to use.
type TCPConfig struct {
	// ConnectTimeout bounds the whole dial: resolution plus every address
	// tried. 0 = DefaultConnectTimeout (10 s).
	ConnectTimeout time.Duration

	// KeepAlive is the TCP keep-alive idle time. 0 = Go's default (15 s);
	// negative disables keep-alive (native Asterisk enables none). A server
	// that accepts and stays silent is legal: there is no read timeout.
	KeepAlive time.Duration

	// FlushTimeout bounds how long Close waits for queued events to be
	// written. 0 = DefaultFlushTimeout.
	FlushTimeout time.Duration

	// QueueBytes bounds the event queue (see Conn.Send). 0 = DefaultQueueBytes.
	QueueBytes int

	// Resolver looks the host and the port service up. nil =
	// net.DefaultResolver, whose address order (RFC 6724) is getaddrinfo's.
	Resolver Resolver

	// Logger gets the connection's records, each with peer=<address>.
	// nil discards.
	Logger *slog.Logger
}

// Resolver is what DialTCP needs to resolve names; *net.Resolver is one.
type Resolver interface {
	LookupIPAddr(ctx context.Context, host string) ([]net.IPAddr, error)
	LookupPort(ctx context.Context, network, service string) (int, error)
}

// DialError is the error of DialTCP when no address accepted the
// connection. It wraps ErrConnect and every attempt's error.
type DialError struct {
	Host, Port string
	Attempts   []DialAttempt // in the order tried
}

// DialAttempt is one address DialTCP tried.
type DialAttempt struct {
	Addr string // "ip:port"
	Err  error
}

func (e *DialError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v: %s", ErrConnect, net.JoinHostPort(e.Host, e.Port))
	for i, a := range e.Attempts {
		sep := "; "
		if i == 0 {
			sep = ": "
		}
		msg := a.Err
		var op *net.OpError
		if errors.As(a.Err, &op) && op.Err != nil {
			msg = op.Err // the address is already in the text
		}
		fmt.Fprintf(&b, "%s%s: %v", sep, a.Addr, msg)
	}
	return b.String()
}

// Unwrap returns ErrConnect and each attempt's error, for errors.Is/As.
func (e *DialError) Unwrap() []error {
	errs := make([]error, 0, len(e.Attempts)+1)
	errs = append(errs, ErrConnect)
	for _, a := range e.Attempts {
		errs = append(errs, a.Err)
	}
	return errs
}

// tcpConn is the Conn of an ivr:// server.
type tcpConn struct {
	stream
	c      *net.TCPConn
	flush  time.Duration
	closer closeState
}

// DialTCP connects to the ivr:// server host:port as app_externalivr does
// (eivr-protocol.md §3.2) and returns its Conn. The host is resolved (any
// address family) and each address is tried in the order the resolver
// returns them; the first that accepts wins. port may be a number or a
// service name; "" and "0" mean DefaultPort (2949). Nothing is sent on
// connect: the server speaks first only when it wants, with P.
//
// Unlike native (§10 Q26) the whole dial is bounded by cfg.ConnectTimeout.
// Errors wrap ErrResolve (host or service unknown) or, as a *DialError,
// ErrConnect (every address failed), plus the cause (e.g.
// syscall.ECONNREFUSED, context.DeadlineExceeded).
func DialTCP(ctx context.Context, host, port string, cfg TCPConfig) (Conn, error) {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = DefaultFlushTimeout
	}
	var res Resolver = net.DefaultResolver
	if cfg.Resolver != nil {
		res = cfg.Resolver
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.ConnectTimeout)
	defer cancel()

	if port == "" || port == "0" {
		port = DefaultPort
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		n, err := res.LookupPort(ctx, "tcp", port)
		if err != nil {
			return nil, fmt.Errorf("%w %q: port %q: %w", ErrResolve, host, port, err)
		}
		port = strconv.Itoa(n)
	}
	if host == "" {
		return nil, fmt.Errorf("%w: empty host name", ErrResolve)
	}
	ips, err := res.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", ErrResolve, host, err)
	}

	d := net.Dialer{KeepAlive: cfg.KeepAlive}
	derr := &DialError{Host: host, Port: port}
	for i, ip := range ips {
		addr := net.JoinHostPort(ip.String(), port)
		actx, acancel := context.WithTimeout(ctx, attemptTimeout(ctx, len(ips)-i))
		c, err := d.DialContext(actx, "tcp", addr)
		acancel()
		if err == nil {
			return newTCPConn(c.(*net.TCPConn), cfg), nil
		}
		derr.Attempts = append(derr.Attempts, DialAttempt{Addr: addr, Err: err})
		if ctx.Err() != nil {
			break
		}
	}
	return nil, derr
}

// attemptTimeout shares what is left of ctx's deadline among the n addresses
// still to try, giving each at least minAttemptTimeout when that much is left.
func attemptTimeout(ctx context.Context, n int) time.Duration {
	dl, _ := ctx.Deadline() // always set by DialTCP
	left := time.Until(dl)
	per := left / time.Duration(n)
	if per < minAttemptTimeout {
		per = min(left, minAttemptTimeout)
	}
	return per
}

func newTCPConn(c *net.TCPConn, cfg TCPConfig) *tcpConn {
	t := &tcpConn{c: c, flush: cfg.FlushTimeout}
	t.stream.init(c, c, cfg.QueueBytes)
	discardIfNil(cfg.Logger).Debug("connected", "peer", c.RemoteAddr().String())
	return t
}

// Close implements Conn: flush the queued events, then shut the socket down
// in both directions and close it, as native does (§8.3).
func (t *tcpConn) Close(ctx context.Context) error {
	return t.closer.do(ctx, func() error {
		return t.closeEvents(ctx, t.flush, func() error {
			_ = t.c.CloseRead()
			_ = t.c.CloseWrite()
			return t.c.Close()
		})
	})
}
