package ari

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Client is one ARI connection: the event stream (Run) and the REST calls.
// All its methods are safe for concurrent use; Run runs at most once at a
// time.
type Client struct {
	cfg      Config
	log      *slog.Logger
	rest     *url.URL     // REST base, no trailing slash
	ws       *url.URL     // events URL without query
	http     *http.Client // calls answered at once (class short)
	tr       *http.Transport
	httpLong *http.Client // calls held behind a playing file (class long)
	trLong   *http.Transport
	dialer   *websocket.Dialer

	running   atomic.Bool
	connected atomic.Bool
	reclaim   chan struct{} // Reclaim → Run (buffered 1)

	mu       sync.Mutex
	replaced map[string]bool // apps taken over by another client (ApplicationReplaced)

	stats struct {
		events, dropped, decodeErrors, oversized, connects, reconnects, dialErrors atomic.Uint64
	}
}

// Stats are the event stream's counters since NewClient.
type Stats struct {
	Events       uint64 // events decoded and queued for the Handler
	Dropped      uint64 // events dropped because the queue was full
	DecodeErrors uint64 // frames Decode rejected (logged, not delivered)
	Oversized    uint64 // frames over ReadLimit (each closed the socket)
	Connects     uint64 // successful WebSocket connects
	Reconnects   uint64 // connects after the first
	DialErrors   uint64 // failed connect attempts
}

// NewClient checks cfg and returns a client; it does not connect.
func NewClient(cfg Config) (*Client, error) {
	cfg.setDefaults()
	cfg.Apps = append([]string(nil), cfg.Apps...)
	rest, ws, err := cfg.endpoints()
	if err != nil {
		return nil, err
	}
	if cfg.APIKey != "" && !strings.Contains(cfg.APIKey, ":") {
		return nil, fmt.Errorf("%w: APIKey must be user:password", ErrConfig)
	}
	for _, a := range cfg.Apps {
		if a == "" || strings.ContainsAny(a, ", ") {
			return nil, fmt.Errorf("%w: app name %q", ErrConfig, a)
		}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	tr := newTransport(cfg, cfg.MaxConnsPerHost)
	trLong := newTransport(cfg, cfg.MaxBlockingConns)
	c := &Client{
		cfg:      cfg,
		log:      log,
		rest:     rest,
		ws:       ws,
		tr:       tr,
		http:     newHTTPClient(tr),
		trLong:   trLong,
		httpLong: newHTTPClient(trLong),
		dialer: &websocket.Dialer{
			Proxy:            nil,
			HandshakeTimeout: cfg.DialTimeout,
			TLSClientConfig:  cfg.TLS.Clone(),
			ReadBufferSize:   64 << 10,
			WriteBufferSize:  4 << 10,
		},
		reclaim:  make(chan struct{}, 1),
		replaced: map[string]bool{},
	}
	if cfg.Transport != nil {
		c.http = newHTTPClient(cfg.Transport)
		c.httpLong = c.http
	}
	if cfg.LongTransport != nil {
		c.httpLong = newHTTPClient(cfg.LongTransport)
	}
	return c, nil
}

// newTransport returns a REST connection pool of at most maxConns
// connections.
func newTransport(cfg Config, maxConns int) *http.Transport {
	return &http.Transport{
		Proxy: nil, // Asterisk is reached directly
		DialContext: (&net.Dialer{
			Timeout:   cfg.DialTimeout,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		TLSClientConfig:       cfg.TLS.Clone(),
		TLSHandshakeTimeout:   cfg.DialTimeout,
		MaxIdleConns:          cfg.MaxIdleConns,
		MaxIdleConnsPerHost:   cfg.MaxIdleConns,
		MaxConnsPerHost:       maxConns,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

func newHTTPClient(tr http.RoundTripper) *http.Client {
	return &http.Client{
		Transport: tr,
		// Asterisk does not redirect; never follow one with our
		// credentials.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Close releases idle REST connections. It does not stop Run (cancel its
// context for that). The client stays usable.
func (c *Client) Close() {
	c.tr.CloseIdleConnections()
	c.trLong.CloseIdleConnections()
}

// Stats returns the event stream's counters.
func (c *Client) Stats() Stats {
	s := &c.stats
	return Stats{
		Events: s.events.Load(), Dropped: s.dropped.Load(), DecodeErrors: s.decodeErrors.Load(),
		Oversized: s.oversized.Load(), Connects: s.connects.Load(), Reconnects: s.reconnects.Load(),
		DialErrors: s.dialErrors.Load(),
	}
}

// Ready reports whether the event socket is connected and no application
// was taken over by another client (ApplicationReplaced).
func (c *Client) Ready() bool {
	if !c.connected.Load() {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.replaced) == 0
}

// Replaced returns the applications another client took over, sorted as
// in Config.Apps.
func (c *Client) Replaced() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, a := range c.cfg.Apps {
		if c.replaced[a] {
			out = append(out, a)
		}
	}
	return out
}

// Reclaim forgets every ApplicationReplaced and makes Run reconnect at once
// with all of Config.Apps, taking them back from the other client. Run
// never does this on its own: two gateways fighting over one app would
// steal it from each other forever.
func (c *Client) Reclaim() {
	c.mu.Lock()
	clear(c.replaced)
	c.mu.Unlock()
	select {
	case c.reclaim <- struct{}{}:
	default:
	}
}

// activeApps returns the apps not replaced.
func (c *Client) activeApps() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.cfg.Apps))
	for _, a := range c.cfg.Apps {
		if !c.replaced[a] {
			out = append(out, a)
		}
	}
	return out
}

func (c *Client) setReplaced(app string) {
	c.mu.Lock()
	c.replaced[app] = true
	c.mu.Unlock()
}

// errString renders err for logs and returned errors with secrets removed.
func (c *Client) redactErr(err error) error {
	if err == nil {
		return nil
	}
	s := err.Error()
	if r := c.cfg.redact(s); r != s {
		return errors.New(r)
	}
	return err
}
