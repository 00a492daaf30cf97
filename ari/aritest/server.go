package aritest

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Sentinel errors of the caller-side (injection) methods.
var (
	ErrNoChannel   = errors.New("aritest: no such channel")
	ErrNotInStasis = errors.New("aritest: channel not in Stasis")
	ErrNoApp       = errors.New("aritest: application not registered (no WebSocket)")
	ErrChannelID   = errors.New("aritest: channel id already exists")
	ErrClosed      = errors.New("aritest: server closed")
)

// Options configures a Server. The zero value is usable.
type Options struct {
	// Speed divides every simulated media time: playbacks, caller DTMF,
	// outbound DTMF, ringing. 1 (or 0) = real time; 20 = 20x faster.
	Speed float64
	// Username and Password are the accepted credentials (basic auth or
	// api_key=user:password). Default "asterisk"/"asterisk".
	Username, Password string
	// Sounds is the sound catalogue: name -> length. A key "name" is a
	// sound in language "en"; "lang:name" (e.g. "fr:hello-world") one in
	// another language. nil => DefaultSounds().
	Sounds map[string]time.Duration
	// Contexts lists the dialplan contexts that exist (continue to any
	// other context leaves Stasis and hangs the channel up). nil => every
	// context exists.
	Contexts []string
	// AsteriskID is the asterisk_id of every event (default "02:fc:00:00:00:01").
	AsteriskID string
	// WriteTimeout is how long a write to an events socket may block
	// before the client is dropped: Asterisk's websocket_write_timeout,
	// default 100 ms. Negative = never drop (benchmarks on a busy machine).
	WriteTimeout time.Duration
	// Seed seeds the fault injection's randomness (reorder, duplicate).
	Seed uint64
	// Logger receives debug logs; nil discards.
	Logger *slog.Logger
}

// DefaultSounds returns the built-in catalogue (lengths of the Debian GSM
// sounds the recordings were made with, English).
func DefaultSounds() map[string]time.Duration {
	m := map[string]time.Duration{
		"beep":               440 * time.Millisecond,
		"hello-world":        1420 * time.Millisecond,
		"vm-goodbye":         880 * time.Millisecond,
		"demo-congrats":      9500 * time.Millisecond,
		"tt-monkeys":         10400 * time.Millisecond,
		"tt-weasels":         3900 * time.Millisecond,
		"silence/1":          time.Second,
		"silence/2":          2 * time.Second,
		"silence/3":          3 * time.Second,
		"silence/5":          5 * time.Second,
		"silence/10":         10 * time.Second,
		"auth-thankyou":      1 * time.Second,
		"vm-intro":           5 * time.Second,
		"pls-hold-while-try": 2 * time.Second,
		"conf-now-muted":     1200 * time.Millisecond,
	}
	for d := '0'; d <= '9'; d++ {
		m["digits/"+string(d)] = 500 * time.Millisecond
	}
	return m
}

// Server is a fake Asterisk serving ARI (REST under /ari and the events
// WebSocket /ari/events) on a loopback port. All methods are safe for
// concurrent use.
type Server struct {
	opts   Options
	log    *slog.Logger
	speed  float64
	ln     net.Listener
	hs     *http.Server
	url    string
	sounds map[string]map[string]time.Duration // lang -> name -> length

	done chan struct{} // closed by Close
	wg   sync.WaitGroup

	connMu    sync.Mutex // guards wsClient.conn (kill may run under mu)
	mu        sync.Mutex
	closed    bool
	started   time.Time
	apps      map[string]*app
	clients   map[*wsClient]struct{}
	chans     map[string]*channel
	ends      map[string]*endRec
	playbacks map[string]*playback
	endpoints map[string]Endpoint
	outbound  map[string]*outbound // AddOutbound, by app
	seq       int
	nameSeq   int
	reqs      []Request
	sentDTMF  map[string]string
	faults    faults
	rng       *rand.Rand
	cti       ctiState // endpoints and bridges (endpoint.go, bridge.go)
}

// NewServer starts a fake Asterisk on 127.0.0.1:0.
func NewServer(opts Options) (*Server, error) {
	if opts.Speed <= 0 {
		opts.Speed = 1
	}
	if opts.Username == "" && opts.Password == "" {
		opts.Username, opts.Password = "asterisk", "asterisk"
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = defaultWriteTimeout
	}
	if opts.AsteriskID == "" {
		opts.AsteriskID = "02:fc:00:00:00:01"
	}
	if opts.Sounds == nil {
		opts.Sounds = DefaultSounds()
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("aritest: listen: %w", err)
	}
	s := &Server{
		opts:      opts,
		log:       log,
		speed:     opts.Speed,
		ln:        ln,
		url:       "http://" + ln.Addr().String() + "/ari",
		sounds:    map[string]map[string]time.Duration{},
		done:      make(chan struct{}),
		started:   time.Now(),
		apps:      map[string]*app{},
		clients:   map[*wsClient]struct{}{},
		chans:     map[string]*channel{},
		ends:      map[string]*endRec{},
		playbacks: map[string]*playback{},
		endpoints: map[string]Endpoint{},
		sentDTMF:  map[string]string{},
		rng:       rand.New(rand.NewPCG(opts.Seed, opts.Seed^0x9e3779b97f4a7c15)),
	}
	for k, d := range opts.Sounds {
		lang, name := "en", k
		if i := strings.IndexByte(k, ':'); i >= 0 {
			lang, name = k[:i], k[i+1:]
		}
		if s.sounds[lang] == nil {
			s.sounds[lang] = map[string]time.Duration{}
		}
		s.sounds[lang][name] = d
	}
	s.hs = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		_ = s.hs.Serve(ln)
	}()
	return s, nil
}

// URL returns the ARI base URL, e.g. "http://127.0.0.1:PORT/ari".
func (s *Server) URL() string { return s.url }

// WebSocketURL returns the events URL for the given apps without
// credentials, e.g. "ws://127.0.0.1:PORT/ari/events?app=gw".
func (s *Server) WebSocketURL(apps ...string) string {
	return "ws" + strings.TrimPrefix(s.url, "http") + "/events?app=" + strings.Join(apps, ",")
}

// Close stops the server: it closes every socket, ends every channel
// goroutine and pending request, and waits for all its goroutines.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	clients := make([]*wsClient, 0, len(s.clients))
	for c := range s.clients {
		clients = append(clients, c)
	}
	s.mu.Unlock()
	for _, c := range clients {
		c.kill()
	}
	_ = s.hs.Close()
	s.wg.Wait()
}

// speedDur scales a media duration by the speed factor.
func (s *Server) speedDur(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.speed)
}

// sleep waits d (already scaled) or until the server closes.
func (s *Server) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.done:
		return false
	}
}

// soundLen looks a sound up in the catalogue for a language ("en_US" falls
// back to "en").
func (s *Server) soundLen(lang, name string) (time.Duration, bool) {
	if m := s.sounds[lang]; m != nil {
		if d, ok := m[name]; ok {
			return d, true
		}
	}
	if i := strings.IndexByte(lang, '_'); i > 0 {
		if m := s.sounds[lang[:i]]; m != nil {
			if d, ok := m[name]; ok {
				return d, true
			}
		}
	}
	return 0, false
}

func (s *Server) soundList(lang string) []soundJSON {
	byName := map[string][]formatLangJSON{}
	for l, m := range s.sounds {
		if lang != "" && l != lang {
			continue
		}
		for n := range m {
			byName[n] = append(byName[n], formatLangJSON{Language: l, Format: "gsm"})
		}
	}
	out := make([]soundJSON, 0, len(byName))
	for n, f := range byName {
		sort.Slice(f, func(i, j int) bool { return f[i].Language < f[j].Language })
		out = append(out, soundJSON{ID: n, Formats: f})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (s *Server) contextExists(ctx string) bool {
	if s.opts.Contexts == nil {
		return true
	}
	for _, c := range s.opts.Contexts {
		if c == ctx {
			return true
		}
	}
	return false
}

// Request is one REST request as the server saw it.
type Request struct {
	Method  string
	Path    string // below the /ari prefix, e.g. "/channels/X/answer"
	Params  map[string]string
	Status  int
	Time    time.Time // when it arrived
	Elapsed time.Duration
}

// Requests returns a copy of the REST request log, in arrival order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.reqs...)
}

// SentDTMF returns the digits sent towards the caller on a channel with
// POST /channels/{id}/dtmf, in order (they produce no event on the app).
func (s *Server) SentDTMF(channelID string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sentDTMF[channelID]
}
