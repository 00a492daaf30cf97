package ari

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Config configures a Client. Zero values select the documented defaults.
type Config struct {
	// URL is the ARI base, e.g. "http://127.0.0.1:8088/ari". https (or wss)
	// selects TLS for both REST and the event WebSocket; ws/wss are
	// accepted too and map to http/https for REST.
	URL string
	// Username and Password authenticate with an HTTP Basic header (REST and
	// WebSocket). Alternatively APIKey "user:password" is sent as the
	// api_key query parameter of the WebSocket (REST then uses the same
	// credentials in a Basic header, so they never appear in a REST URL).
	Username, Password string
	APIKey             string
	// Apps are the Stasis applications subscribed on the one socket
	// (app=a,b). Required by Run; a REST-only client may leave it empty.
	Apps         []string
	SubscribeAll bool
	// TLS is used for https/wss (custom RootCAs, ServerName, client
	// certificates). nil = system roots.
	TLS    *tls.Config
	Logger *slog.Logger // nil = discard

	// QueueSize bounds the events buffered between the socket read loop
	// and the Handler (default 8192). When it is full new events are
	// dropped, counted in Stats.Dropped and logged (at most once a
	// second): the read loop never waits for a slow Handler, because
	// Asterisk drops a socket it cannot write to within 100 ms.
	QueueSize int
	// KeepRaw keeps every event's frame in Event.Raw (a consumer that
	// parses more than the modelled fields or wants the types not
	// modelled, e.g. a CTI feed with bridge fields, wants it). Off, no
	// event keeps it (a KindOther event has just Type, Application,
	// AsteriskID, Timestamp and the modelled fields it carries) and each
	// holds just its strings: a smaller allocation.
	KeepRaw bool
	// ReadLimit is the largest event frame accepted (default 16 MiB). A
	// larger frame closes the socket with an error (Stats.Oversized); Run
	// reconnects and the gateway's reconcile releases the channel whose
	// events were lost. Asterisk writes an event of any length as one
	// frame (res_http_websocket's ast_websocket_write has a 64-bit
	// length and no cap); what bounds an event is its content: HTTP bodies
	// of 40 960 bytes (main/http.c MAX_CONTENT_LENGTH) and dialplan data
	// of 8 192 (pbx.c EXT_DATA_SIZE) per value, but a channel snapshot
	// carries every ari.conf channelvars value and a Dial event up to
	// three snapshots, so a few 40 kB variables already pass 1 MiB. The
	// reader only allocates what a frame needs, so the limit costs nothing
	// until such a frame comes; it guards against a runaway peer.
	ReadLimit int64
	// PingInterval is how often the client pings Asterisk (which never
	// pings on its own; default 5 s). PongTimeout is how much longer a
	// silent socket is tolerated (default 5 s): the read deadline is
	// PingInterval+PongTimeout after the last pong or frame.
	PingInterval, PongTimeout time.Duration
	// DialTimeout bounds the WebSocket dial and handshake (default 10 s).
	DialTimeout time.Duration
	// BackoffMin and BackoffMax bound the reconnect delay (defaults 250 ms
	// and 15 s). The delay doubles after each failed attempt and is
	// jittered uniformly in [d/2, d]; it starts over after a connection
	// that lasted longer than BackoffMax.
	BackoffMin, BackoffMax time.Duration

	// RESTTimeout bounds the REST calls that Asterisk answers at once
	// (default 5 s): play, hangup, playback stop, gets, dtmf, ring,
	// silence, originate, dial...
	RESTTimeout time.Duration
	// RESTLongTimeout bounds the calls Asterisk queues behind a playing
	// file and answers only when they ran (answer, set variable,
	// continue, move; default 60 s), since a prompt can last that long.
	RESTLongTimeout time.Duration
	// RESTRetries is how many times an idempotent GET is retried after a
	// connection error or a 503 (default 2; negative = none). Other
	// methods are never retried.
	RESTRetries int
	// MaxIdleConns is the number of kept-alive REST connections of each
	// pool below (default 32).
	MaxIdleConns int
	// MaxConnsPerHost caps the REST connections open at once for the
	// calls Asterisk answers at once (RESTTimeout; default 32). More
	// concurrent calls wait for a free connection (the wait counts in
	// their timeout) instead of each opening a socket: 10k calls
	// starting together would otherwise exhaust file descriptors.
	MaxConnsPerHost int
	// MaxBlockingConns caps the connections of the calls Asterisk holds
	// behind a playing file (RESTLongTimeout: answer, set variable,
	// continue, move; default 64). They have their own pool so that
	// calls blocked for seconds never hold up the plays, stops and gets
	// of other channels. The two defaults and the events socket stay
	// within Asterisk's default HTTP sessionlimit (100, http.conf): past
	// it Asterisk closes new connections (EOF) and calls fail.
	MaxBlockingConns int
	// OnREST, if set, is called once per REST HTTP attempt (a retried GET
	// reports each try) when it has finished, on the calling goroutine:
	// it is called concurrently and must be quick (e.g. observe a
	// histogram). See RESTCall.
	OnREST func(RESTCall)
	// Transport, if set, carries the REST calls Asterisk answers at once
	// instead of the client's own HTTP pool, and LongTransport those it
	// holds behind a playing file (answer, set variable, continue, move;
	// nil = Transport, or the own pool). The listener mode uses them to
	// send REST over Asterisk's outbound WebSocket (RESTRequest) and the
	// held calls over plain HTTP; see [Listener].
	Transport, LongTransport http.RoundTripper
}

// RESTCall describes one finished REST HTTP attempt, for latency metrics.
type RESTCall struct {
	Method string // GET, POST, DELETE...
	// Route is the path relative to the ARI base with every id replaced by
	// {id} ("/channels/{id}/play/{id}", "/channels/create",
	// "/playbacks/{id}"): a low-cardinality label.
	Route string
	// Status is the HTTP status, 0 when no reply arrived (connection
	// error, timeout, cancellation).
	Status int
	// Duration runs from sending the request to having read the reply body.
	Duration time.Duration
	// Attempt is 1 for the first try, 2 for the first retry...
	Attempt int
}

// Defaults of Config.
const (
	DefaultQueueSize       = 8192
	DefaultReadLimit       = 16 << 20
	DefaultPingInterval    = 5 * time.Second
	DefaultPongTimeout     = 5 * time.Second
	DefaultDialTimeout     = 10 * time.Second
	DefaultBackoffMin      = 250 * time.Millisecond
	DefaultBackoffMax      = 15 * time.Second
	DefaultRESTTimeout     = 5 * time.Second
	DefaultRESTLongTimeout = 60 * time.Second
	DefaultRESTRetries     = 2
	DefaultMaxIdleConns    = 32
	DefaultMaxConnsPerHost = 32
	DefaultMaxBlocking     = 64
)

// ErrConfig is wrapped by NewClient's errors.
var ErrConfig = errors.New("ari: invalid config")

func (cfg *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.ReadLimit <= 0 {
		cfg.ReadLimit = DefaultReadLimit
	}
	def(&cfg.PingInterval, DefaultPingInterval)
	def(&cfg.PongTimeout, DefaultPongTimeout)
	def(&cfg.DialTimeout, DefaultDialTimeout)
	def(&cfg.BackoffMin, DefaultBackoffMin)
	def(&cfg.BackoffMax, DefaultBackoffMax)
	if cfg.BackoffMax < cfg.BackoffMin {
		cfg.BackoffMax = cfg.BackoffMin
	}
	def(&cfg.RESTTimeout, DefaultRESTTimeout)
	def(&cfg.RESTLongTimeout, DefaultRESTLongTimeout)
	if cfg.RESTRetries == 0 {
		cfg.RESTRetries = DefaultRESTRetries
	} else if cfg.RESTRetries < 0 {
		cfg.RESTRetries = 0
	}
	if cfg.MaxIdleConns <= 0 {
		cfg.MaxIdleConns = DefaultMaxIdleConns
	}
	if cfg.MaxConnsPerHost <= 0 {
		cfg.MaxConnsPerHost = DefaultMaxConnsPerHost
	}
	if cfg.MaxBlockingConns <= 0 {
		cfg.MaxBlockingConns = DefaultMaxBlocking
	}
}

// endpoints derives the REST base and the WebSocket URL (without
// credentials) from cfg.URL.
func (cfg *Config) endpoints() (rest *url.URL, ws *url.URL, err error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		// url.Parse's error quotes the URL, which may hold user:password@.
		return nil, nil, fmt.Errorf("%w: URL does not parse", ErrConfig)
	}
	if u.User != nil {
		return nil, nil, fmt.Errorf("%w: put credentials in Username/Password or APIKey, not in URL", ErrConfig)
	}
	if u.Host == "" {
		return nil, nil, fmt.Errorf("%w: URL %q has no host", ErrConfig, cfg.URL)
	}
	rest, ws = new(url.URL), new(url.URL)
	*rest, *ws = *u, *u
	rest.RawQuery, ws.RawQuery, rest.Fragment, ws.Fragment = "", "", "", ""
	switch u.Scheme {
	case "http", "ws":
		rest.Scheme, ws.Scheme = "http", "ws"
	case "https", "wss":
		rest.Scheme, ws.Scheme = "https", "wss"
	default:
		return nil, nil, fmt.Errorf("%w: URL scheme %q (want http, https, ws or wss)", ErrConfig, u.Scheme)
	}
	rest.Path = strings.TrimSuffix(rest.Path, "/")
	rest.RawPath = ""
	ws.Path = rest.Path + "/events"
	ws.RawPath = ""
	return rest, ws, nil
}

// basicAuth returns the credentials for the Basic header.
func (cfg *Config) basicAuth() (user, pass string, ok bool) {
	if cfg.Username != "" || cfg.Password != "" {
		return cfg.Username, cfg.Password, true
	}
	if cfg.APIKey != "" {
		user, pass, _ = strings.Cut(cfg.APIKey, ":")
		return user, pass, true
	}
	return "", "", false
}

// redact removes the configured secrets from s (defence in depth: no error
// we build contains them, but errors from lower layers are passed through).
func (cfg *Config) redact(s string) string {
	for _, secret := range []string{cfg.APIKey, cfg.Password, url.QueryEscape(cfg.APIKey)} {
		if len(secret) >= 3 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}
