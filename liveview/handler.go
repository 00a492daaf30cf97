package liveview

import (
	"embed"
	"fmt"
	"html"
	"net/http"
	"strings"
	"time"
)

//go:embed static/index.html static/live.js static/live.css
var static embed.FS

// Defaults of Options.
const (
	DefaultEvents   = "v1/events"
	DefaultLinger   = 30 * time.Second
	DefaultMaxCalls = 200
	DefaultMaxLines = 300
)

// Options configure the page. Zero values take the defaults.
type Options struct {
	// Events is the stream the page reads, relative to the page (so the
	// view works behind a proxy that adds a path prefix). Default
	// "v1/events": the CTI hub's GET /v1/events on the same listener.
	Events string
	// Linger is how long an ended call stays on the page. Default 30 s.
	Linger time.Duration
	// MaxCalls bounds the calls the page keeps (live and ended): past it
	// the oldest ended call goes first, then the oldest live one.
	// Default 200.
	MaxCalls int
	// MaxLines bounds the exchange kept per call (the last ones).
	// Default 300.
	MaxLines int
}

// csp lets the page load only its own script and style and talk only to
// its own origin; form-action 'none' also keeps a browser without script
// from ever submitting the token in a URL.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the page: GET / (index.html with opt filled in),
// GET /live.js and GET /live.css; anything else is 404. The page holds no
// data and needs no token: it asks for the admin token once and sends it
// only as "Authorization: Bearer" on its stream request.
func Handler(opt Options) http.Handler {
	if opt.Events == "" {
		opt.Events = DefaultEvents
	}
	if opt.Linger <= 0 {
		opt.Linger = DefaultLinger
	}
	if opt.MaxCalls <= 0 {
		opt.MaxCalls = DefaultMaxCalls
	}
	if opt.MaxLines <= 0 {
		opt.MaxLines = DefaultMaxLines
	}
	page := string(mustRead("static/index.html"))
	conf := fmt.Sprintf(`<meta name="eivr-live" data-events="%s" data-linger="%d" data-max-calls="%d" data-max-lines="%d">`,
		html.EscapeString(opt.Events), opt.Linger.Milliseconds(), opt.MaxCalls, opt.MaxLines)
	page = strings.Replace(page, "<!--config-->", conf, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", serve([]byte(page), "text/html; charset=utf-8"))
	mux.HandleFunc("GET /live.js", serve(mustRead("static/live.js"), "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /live.css", serve(mustRead("static/live.css"), "text/css; charset=utf-8"))
	return mux
}

func mustRead(name string) []byte {
	data, err := static.ReadFile(name)
	if err != nil {
		panic("liveview: " + name + " not embedded: " + err.Error()) // a build mistake, caught by every test
	}
	return data
}

func serve(data []byte, ctype string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-cache")
		w.Write(data)
	}
}
