package cti

import (
	"crypto/subtle"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"
)

// WriteTimeout bounds one write to a subscriber (and the cut-off message):
// a client that stopped reading cannot hold its handler longer.
const WriteTimeout = 10 * time.Second

// PingInterval is how often an idle SSE stream gets a comment line.
const PingInterval = 15 * time.Second

// Handler serves GET /v1/events from a Hub.
type Handler struct {
	Hub *Hub
	// Token returns the admin token now ("" refuses every request: 403).
	Token  func() string
	Logger *slog.Logger
}

// ServeHTTP implements http.Handler.
func (hd *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := hd.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	token := ""
	if hd.Token != nil {
		token = hd.Token()
	}
	if token == "" {
		http.Error(w, "the event stream is disabled: set admin.token (or EIVR_ADMIN_TOKEN)", http.StatusForbidden)
		return
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="eivr-gateway"`)
		http.Error(w, "missing or wrong bearer token", http.StatusUnauthorized)
		return
	}
	f, err := ParseFilter(r.URL.Query())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	sse := wantsSSE(r.Header.Get("Accept"))
	last := r.Header.Get("Last-Event-ID")
	if last == "" {
		last = r.URL.Query().Get("last_event_id")
	}
	if sse {
		w.Header().Set("Content-Type", "text/event-stream")
	} else {
		w.Header().Set("Content-Type", "application/x-ndjson")
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)

	ctx := r.Context()
	sub := hd.Hub.Subscribe(f, last, r.RemoteAddr)
	defer sub.Close()
	log = log.With("subscriber", r.RemoteAddr)
	log.Info("cti: subscriber", "sse", sse, "last_event_id", last, "filter", fmt.Sprintf("%+v", f))

	write := func(m *Message) error {
		rc.SetWriteDeadline(time.Now().Add(WriteTimeout))
		var err error
		if sse {
			_, err = w.Write(m.SSE())
		} else {
			if _, err = w.Write(m.JSON); err == nil {
				_, err = w.Write([]byte{'\n'})
			}
		}
		return err
	}
	lastSent := last
	send := func(m *Message) bool {
		if err := write(m); err != nil {
			log.Info("cti: subscriber write failed", "err", err, "last_sent", lastSent)
			return false
		}
		if m.Seq != 0 {
			lastSent = m.ID
		}
		// One flush per burst: when nothing more is queued.
		if len(sub.ch) == 0 && len(sub.backlog) == 0 {
			if err := rc.Flush(); err != nil {
				return false
			}
		}
		return true
	}
	for len(sub.backlog) > 0 {
		m, _ := sub.Next(ctx)
		if !send(m) {
			return
		}
	}
	if err := rc.Flush(); err != nil {
		return
	}
	ping := time.NewTicker(PingInterval)
	defer ping.Stop()
	for {
		select {
		case m, ok := <-sub.ch:
			if !ok {
				write(CutOffMessage(lastSent, hd.Hub.cfg.Queue))
				rc.Flush()
				log.Warn("cti: subscriber cut off (slow consumer)", "last_sent", lastSent)
				return
			}
			if !send(m) {
				return
			}
		case <-ping.C:
			if sse {
				rc.SetWriteDeadline(time.Now().Add(WriteTimeout))
				if _, err := w.Write([]byte(": ping\n\n")); err != nil {
					return
				}
				if err := rc.Flush(); err != nil {
					return
				}
			}
		case <-ctx.Done():
			log.Info("cti: subscriber gone", "last_sent", lastSent)
			return
		}
	}
}

// wantsSSE reports whether an Accept header asks for text/event-stream.
func wantsSSE(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err == nil && mt == "text/event-stream" {
			return true
		}
	}
	return false
}
