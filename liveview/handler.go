package liveview

import (
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

//go:embed static/index.html static/live.js static/live.css
var static embed.FS

// EventsPath is where the page reads the stream.
const EventsPath = "/live/events"

// Keepalive is how often an idle stream carries a "ping", so a dead peer
// is noticed and proxies keep the stream open.
const Keepalive = 15 * time.Second

// csp lets the page load only its own script and style and talk only to
// its own origin; form-action 'none' also keeps a browser without script
// from ever submitting the token in a URL.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the view: the page at GET / (with /live.js and
// /live.css) and the stream at GET /live/events. token returns the admin
// token the stream requires as "Authorization: Bearer <token>" ("" turns
// the stream off with 403). The page itself holds no data and needs no
// token: it asks for it once and keeps it in the tab's sessionStorage,
// never in a URL.
func Handler(v *View, token func() string, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", file("static/index.html", "text/html; charset=utf-8"))
	mux.HandleFunc("GET /live.js", file("static/live.js", "text/javascript; charset=utf-8"))
	mux.HandleFunc("GET /live.css", file("static/live.css", "text/css; charset=utf-8"))
	mux.HandleFunc("GET "+EventsPath, func(w http.ResponseWriter, r *http.Request) {
		stream(w, r, v, token(), log)
	})
	return mux
}

func file(name, ctype string) http.HandlerFunc {
	data, err := static.ReadFile(name)
	if err != nil {
		panic("liveview: " + name + " not embedded: " + err.Error()) // a build mistake, caught by every test
	}
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

// authorized reports whether r carries token; token is never logged.
func authorized(r *http.Request, token string) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(token)) == 1
}

func stream(w http.ResponseWriter, r *http.Request, v *View, token string, log *slog.Logger) {
	w.Header().Set("Cache-Control", "no-store")
	if token == "" {
		http.Error(w, "the live view is off: set admin.token (or EIVR_ADMIN_TOKEN)", http.StatusForbidden)
		return
	}
	if !authorized(r, token) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="eivr-gateway"`)
		http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
		log.Warn("live view: refused a stream without the admin token", "remote", r.RemoteAddr)
		return
	}
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	sub, err := v.Subscribe()
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	defer sub.Close()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	enc := json.NewEncoder(w)
	tick := time.NewTicker(Keepalive)
	defer tick.Stop()
	events := sub.Events()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
			if enc.Encode(Event{Type: "ping"}) != nil {
				return
			}
			flusher.Flush()
		case ev, ok := <-events:
			if !ok {
				reason := "closed"
				switch err := sub.Err(); {
				case errors.Is(err, ErrSlow):
					reason = "slow"
				case errors.Is(err, ErrClosed):
					reason = "shutdown"
				}
				enc.Encode(Event{Type: "bye", Reason: reason})
				flusher.Flush()
				return
			}
			if err := enc.Encode(ev); err != nil {
				return
			}
			// Send what is queued at once, then flush once.
			for n := len(events); n > 0; n-- {
				ev, ok := <-events
				if !ok {
					break
				}
				if enc.Encode(ev) != nil {
					return
				}
			}
			flusher.Flush()
		}
	}
}
