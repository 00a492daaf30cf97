package aritest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/eivr-gateway/eivr-gateway/internal/astargs"
)

func (s *Server) routes() http.Handler {
	m := http.NewServeMux()
	h := func(pattern string, f func(http.ResponseWriter, *http.Request, params)) {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			p, err := parseParams(r)
			if h, ok := r.Context().Value(paramsKey{}).(*params); ok {
				*h = p
			}
			if err != nil {
				writeErr(w, http.StatusBadRequest, err.Error())
				return
			}
			f(w, r, p)
		})
	}
	m.HandleFunc("GET /ari/events", s.handleEvents)
	h("GET /ari/asterisk/info", s.asteriskInfo)
	h("GET /ari/asterisk/ping", s.asteriskPing)
	h("GET /ari/asterisk/variable", func(w http.ResponseWriter, r *http.Request, p params) {
		if p.str("variable") == "" {
			writeErr(w, http.StatusBadRequest, "Variable name is required")
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"value": ""})
	})
	h("GET /ari/applications", s.listApps)
	h("GET /ari/applications/{app}", s.getApp)
	h("POST /ari/applications/{app}/subscription", s.subscribe)
	h("GET /ari/sounds", s.listSounds)
	h("GET /ari/sounds/{id}", s.getSound)
	h("GET /ari/channels", s.listChannels)
	h("POST /ari/channels", s.originate)
	h("POST /ari/channels/create", s.create)
	h("POST /ari/channels/{id}", s.originate)
	h("GET /ari/channels/{id}", s.getChannel)
	h("DELETE /ari/channels/{id}", s.hangup)
	h("POST /ari/channels/{id}/answer", s.answer)
	h("POST /ari/channels/{id}/play", s.play1)
	h("POST /ari/channels/{id}/play/{pb}", s.play1)
	h("GET /ari/channels/{id}/variable", s.getVar)
	h("POST /ari/channels/{id}/variable", s.setVar)
	h("GET /ari/channels/{id}/variables", s.getVars)
	h("POST /ari/channels/{id}/variables", s.setVars)
	h("POST /ari/channels/{id}/continue", s.continue1)
	h("POST /ari/channels/{id}/move", s.move)
	h("POST /ari/channels/{id}/dtmf", s.dtmf)
	h("POST /ari/channels/{id}/dial", s.dial)
	for _, op := range []string{"ring", "silence", "mute", "hold", "moh"} {
		h("POST /ari/channels/{id}/"+op, s.nop)
		h("DELETE /ari/channels/{id}/"+op, s.nop)
	}
	s.bridgeRoutes(h)
	h("GET /ari/playbacks/{pb}", s.getPlayback)
	h("DELETE /ari/playbacks/{pb}", s.stopPlayback)
	h("POST /ari/playbacks/{pb}/control", s.controlPlayback)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, "Resource not found")
	})
	return s.middleware(m)
}

type paramsKey struct{}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Unwrap lets the WebSocket upgrade reach the http.Hijacker.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (s *Server) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			writeErr(w, http.StatusServiceUnavailable, "Shutting down")
			return
		}
		s.wg.Add(1)
		latency := s.faults.latency
		s.mu.Unlock()
		defer s.wg.Done()

		if !s.authorized(r) {
			w.Header().Set("WWW-Authenticate", `Basic realm="Asterisk REST Interface"`)
			writeErr(w, http.StatusUnauthorized, "Authentication required")
			return
		}
		path := strings.TrimPrefix(r.URL.Path, "/ari")
		if path == "/events" {
			next.ServeHTTP(w, r)
			return
		}
		if latency > 0 && !s.sleep(latency) {
			writeErr(w, http.StatusServiceUnavailable, "Shutting down")
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		s.mu.Lock()
		injected := s.restFaultLocked(r.Method, path)
		s.mu.Unlock()
		var p params
		if injected != 0 {
			p, _ = parseParams(r)
			writeErr(sw, injected, "aritest: injected failure")
		} else {
			next.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), paramsKey{}, &p)))
		}
		req := Request{Method: r.Method, Path: path, Params: p.flat(), Status: sw.status, Time: start, Elapsed: time.Since(start)}
		s.mu.Lock()
		s.reqs = append(s.reqs, req)
		s.mu.Unlock()
	})
}

func (s *Server) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		k := r.URL.Query().Get("api_key")
		user, pass, ok = strings.Cut(k, ":")
	}
	return ok && user == s.opts.Username && pass == s.opts.Password
}

// params merges query (or form) parameters and a JSON body, JSON winning,
// like res_ari. Repeated query parameters keep the last value.
type params struct {
	v    map[string]string
	vars map[string]string // JSON body "variables"
}

func (p params) str(k string) string { return p.v[k] }

func (p params) has(k string) bool { _, ok := p.v[k]; return ok }

func (p params) flat() map[string]string { return maps.Clone(p.v) }

func (p params) int(k string, def int) (int, error) {
	v, ok := p.v[k]
	if !ok || v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%s: not an integer: %q", k, v)
	}
	return n, nil
}

func (p params) ms(k string, def int) (time.Duration, error) {
	n, err := p.int(k, def)
	return time.Duration(n) * time.Millisecond, err
}

func parseParams(r *http.Request) (params, error) {
	p := params{v: map[string]string{}}
	q := r.URL.Query()
	if len(q) == 0 && r.Body != nil && r.Method != http.MethodGet {
		ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if ct == "application/x-www-form-urlencoded" {
			if err := r.ParseForm(); err == nil {
				q = r.PostForm
			}
		}
	}
	for k, vs := range q {
		if k != "api_key" && len(vs) > 0 {
			p.v[k] = vs[len(vs)-1]
		}
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/json" || r.Body == nil {
		return p, nil
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || len(strings.TrimSpace(string(body))) == 0 {
		return p, nil
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return p, fmt.Errorf("Invalid JSON body: %v", err)
	}
	for k, v := range m {
		switch v := v.(type) {
		case string:
			p.v[k] = v
		case float64:
			p.v[k] = strconv.FormatFloat(v, 'f', -1, 64)
		case bool:
			p.v[k] = strconv.FormatBool(v)
		case []any:
			parts := make([]string, 0, len(v))
			for _, e := range v {
				parts = append(parts, fmt.Sprint(e))
			}
			p.v[k] = strings.Join(parts, ",")
		case map[string]any:
			if k == "variables" {
				p.vars = map[string]string{}
				for vk, vv := range v {
					p.vars[vk] = fmt.Sprint(vv)
				}
			}
		}
	}
	return p, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"message":"encoding failed"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func writeErr(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

func noContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

func uuid() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// ---- asterisk, applications, sounds

func (s *Server) asteriskInfo(w http.ResponseWriter, r *http.Request, p params) {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	ts := formatTS(started)
	info := map[string]any{
		"build": map[string]any{"os": "Linux", "kernel": "6.1.0", "options": "", "machine": "x86_64",
			"date": "2026-11-23 00:00:00 UTC", "user": "aritest"},
		"system": map[string]any{"version": "22.10.1", "entity_id": s.opts.AsteriskID},
		"config": map[string]any{"name": "aritest", "default_language": "en",
			"setid": map[string]any{"user": "asterisk", "group": "asterisk"}},
		"status": map[string]any{"startup_time": ts, "last_reload_time": ts},
	}
	if only := p.str("only"); only != "" {
		for k := range info {
			if !strings.Contains(","+only+",", ","+k+",") {
				delete(info, k)
			}
		}
	}
	writeJSON(w, http.StatusOK, info)
}

func (s *Server) asteriskPing(w http.ResponseWriter, r *http.Request, p params) {
	writeJSON(w, http.StatusOK, map[string]string{"asterisk_id": s.opts.AsteriskID, "ping": "pong", "timestamp": formatTS(time.Now())})
}

func (s *Server) appJSONLocked(name string) applicationJSON {
	a := applicationJSON{Name: name, ChannelIDs: []string{}, BridgeIDs: []string{}, EndpointIDs: []string{},
		DeviceNames: []string{}, EventsAllowed: []any{}, EventsDisallowed: []any{}}
	for id, c := range s.chans {
		if (c.inStasis && c.app == name) || c.subApp == name {
			a.ChannelIDs = append(a.ChannelIDs, id)
		}
	}
	sort.Strings(a.ChannelIDs)
	s.ctiAppJSONLocked(name, &a)
	return a
}

func (s *Server) listApps(w http.ResponseWriter, r *http.Request, p params) {
	s.mu.Lock()
	names := make([]string, 0, len(s.apps))
	for n := range s.apps {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]applicationJSON, 0, len(names))
	for _, n := range names {
		out = append(out, s.appJSONLocked(n))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getApp(w http.ResponseWriter, r *http.Request, p params) {
	name := r.PathValue("app")
	s.mu.Lock()
	_, ok := s.apps[name]
	a := s.appJSONLocked(name)
	s.mu.Unlock()
	if !ok {
		writeErr(w, http.StatusNotFound, "Application not found")
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// subscribe handles eventSource=channel:ID (the app then also sees the
// channel outside Stasis), endpoint:Tech[/res] and bridge:ID (endpoint.go;
// other sources are accepted and ignored).
func (s *Server) subscribe(w http.ResponseWriter, r *http.Request, p params) {
	name := r.PathValue("app")
	src := p.str("eventSource")
	if src == "" {
		writeErr(w, http.StatusBadRequest, "Missing parameter eventSource")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.apps[name]; !ok {
		writeErr(w, http.StatusNotFound, "Application not found")
		return
	}
	for _, one := range strings.Split(src, ",") {
		if id, ok := strings.CutPrefix(one, "channel:"); ok {
			c := s.chans[id]
			if c == nil {
				writeErr(w, http.StatusUnprocessableEntity, "Event source does not exist")
				return
			}
			c.subApp = name
		} else if !s.subscribeCTILocked(name, one) {
			writeErr(w, http.StatusUnprocessableEntity, "Event source does not exist")
			return
		}
	}
	writeJSON(w, http.StatusOK, s.appJSONLocked(name))
}

func (s *Server) listSounds(w http.ResponseWriter, r *http.Request, p params) {
	if f := p.str("format"); f != "" && f != "gsm" {
		writeErr(w, http.StatusNotFound, "No sounds found that matched the query")
		return
	}
	out := s.soundList(p.str("lang"))
	if len(out) == 0 {
		writeErr(w, http.StatusNotFound, "No sounds found that matched the query")
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getSound(w http.ResponseWriter, r *http.Request, p params) {
	id := r.PathValue("id")
	for _, snd := range s.soundList("") {
		if snd.ID == id {
			writeJSON(w, http.StatusOK, snd)
			return
		}
	}
	writeErr(w, http.StatusNotFound, "Sound not found")
}

// ---- channels

func (s *Server) listChannels(w http.ResponseWriter, r *http.Request, p params) {
	s.mu.Lock()
	out := make([]channelJSON, 0, len(s.chans))
	for _, c := range s.chans {
		out = append(out, c.json())
	}
	s.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) getChannel(w http.ResponseWriter, r *http.Request, p params) {
	s.mu.Lock()
	c := s.chans[r.PathValue("id")]
	var j channelJSON
	if c != nil {
		j = c.json()
	}
	s.mu.Unlock()
	if c == nil {
		writeErr(w, http.StatusNotFound, "Channel not found")
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) hangup(w http.ResponseWriter, r *http.Request, p params) {
	cause := 16
	reason, code := p.str("reason"), p.str("reason_code")
	switch {
	case reason != "" && code != "":
		writeErr(w, http.StatusBadRequest, "The reason and reason_code can't both be specified")
		return
	case reason != "":
		c, ok := hangupReasons[reason]
		if !ok {
			writeErr(w, http.StatusBadRequest, "Invalid reason for hangup provided")
			return
		}
		cause = c
	case code != "":
		n, err := strconv.Atoi(code)
		if err != nil {
			writeErr(w, http.StatusBadRequest, "Invalid reason for hangup provided")
			return
		}
		cause = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chans[r.PathValue("id")]
	if c == nil || c.hangup != nil {
		writeErr(w, http.StatusNotFound, "Channel not found")
		return
	}
	s.requestHangupLocked(c, cause, true)
	noContent(w)
}

// controlLocked finds a channel for a channel-control call: 404, 409 (not
// in Stasis) or 412 (bad state) are written for the caller.
func (s *Server) controlLocked(w http.ResponseWriter, id, notFound string, checkState bool) *channel {
	c := s.chans[id]
	if c == nil || c.destroyed {
		writeErr(w, http.StatusNotFound, notFound)
		return nil
	}
	if !c.inStasis || c.hangup != nil {
		writeErr(w, http.StatusConflict, "Channel not in Stasis application")
		return nil
	}
	if checkState {
		switch c.state {
		case "Down", "Rsrved", "Ringing":
			writeErr(w, http.StatusPreconditionFailed, "Channel in invalid state")
			return nil
		}
	}
	return c
}

func (s *Server) enqueueLocked(c *channel, cmd *command) {
	c.queue = append(c.queue, cmd)
	c.poke()
}

// runSync queues a synchronous command and waits for it to run.
func (s *Server) runSync(w http.ResponseWriter, r *http.Request, c *channel, cmd *command, failStatus int, failMsg string) {
	cmd.reply = make(chan error, 1)
	s.enqueueLocked(c, cmd)
	s.mu.Unlock()
	select {
	case err := <-cmd.reply:
		if err != nil {
			writeErr(w, failStatus, failMsg)
			return
		}
		noContent(w)
	case <-r.Context().Done():
	case <-s.done:
		writeErr(w, http.StatusServiceUnavailable, "Shutting down")
	}
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, p params) {
	s.mu.Lock()
	c := s.controlLocked(w, r.PathValue("id"), "Channel not found", false)
	if c == nil {
		s.mu.Unlock()
		return
	}
	if c.state == "Down" || c.state == "Rsrved" {
		s.mu.Unlock()
		writeErr(w, http.StatusPreconditionFailed, "Channel in invalid state")
		return
	}
	s.runSync(w, r, c, &command{kind: cmdAnswer}, http.StatusInternalServerError, "Failed to answer")
}

func (s *Server) play1(w http.ResponseWriter, r *http.Request, p params) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.controlLocked(w, r.PathValue("id"), "Channel not found", true)
	if c == nil {
		return
	}
	var media []string
	for _, m := range strings.Split(p.str("media"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			media = append(media, m)
		}
	}
	if len(media) == 0 {
		writeErr(w, http.StatusInternalServerError, "Failed to queue media for playback")
		return
	}
	if len(media) >= 128 {
		writeErr(w, http.StatusBadRequest, "Too many media URIs")
		return
	}
	id := r.PathValue("pb")
	if id == "" {
		id = p.str("playbackId")
	}
	if id == "" {
		id = uuid()
	}
	lang := p.str("lang")
	if lang == "" {
		lang = c.lang
	}
	pb := &playback{id: id, ch: c, media: media, lang: lang, state: "queued"}
	s.playbacks[id] = pb
	s.enqueueLocked(c, &command{kind: cmdPlay, pb: pb})
	w.Header().Set("Location", "/playbacks/"+id)
	writeJSON(w, http.StatusCreated, pb.json(0, "queued"))
}

// readVarsLocked is the channel a variable read (GET /variable,
// GET /variables) reads, or nil after writing the 404 Asterisk answers: any
// channel the server still holds (no Stasis check), in the wording GET uses
// (ari-25; POST says "Channel not found").
func (s *Server) readVarsLocked(w http.ResponseWriter, id string) *channel {
	c := s.chans[id]
	if c == nil {
		writeErr(w, http.StatusNotFound, "Provided channel was not found")
	}
	return c
}

func (s *Server) getVar(w http.ResponseWriter, r *http.Request, p params) {
	name := p.str("variable")
	if name == "" {
		writeErr(w, http.StatusBadRequest, "Variable name is required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.readVarsLocked(w, r.PathValue("id"))
	if c == nil {
		return
	}
	v, ok, err := s.getVarLocked(c, name)
	switch {
	case err != nil:
		writeErr(w, http.StatusInternalServerError, err.Error())
	case !ok:
		writeErr(w, http.StatusNotFound, "Provided variable was not found")
	default:
		writeJSON(w, http.StatusOK, map[string]string{"value": v})
	}
}

func (s *Server) setVar(w http.ResponseWriter, r *http.Request, p params) {
	name := p.str("variable")
	if !p.has("variable") {
		writeErr(w, http.StatusBadRequest, "Variable name is required")
		return
	}
	s.mu.Lock()
	c := s.controlLocked(w, r.PathValue("id"), "Channel not found", false) // sic: GET says "Provided channel was not found" (ari-25)
	if c == nil {
		s.mu.Unlock()
		return
	}
	s.runSync(w, r, c, &command{kind: cmdSetVar, name: name, value: p.str("value"), unset: !p.has("value")},
		http.StatusBadRequest, "Failed to execute function")
}

// getVars is the bulk read of 22.10: ?variables=A,B → {"variables":{...}}
// (unset names are left out).
func (s *Server) getVars(w http.ResponseWriter, r *http.Request, p params) {
	names := p.str("variables")
	if names == "" {
		writeErr(w, http.StatusBadRequest, "Variable names are required")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.readVarsLocked(w, r.PathValue("id"))
	if c == nil {
		return
	}
	out := map[string]string{}
	for _, n := range strings.Split(names, ",") {
		if v, ok, err := s.getVarLocked(c, n); err == nil && ok {
			out[n] = v
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"variables": out})
}

// setVars is the bulk write of 22.10: body {"variables":{...}}, one
// queued command like POST /variable.
func (s *Server) setVars(w http.ResponseWriter, r *http.Request, p params) {
	if len(p.vars) == 0 {
		writeErr(w, http.StatusBadRequest, "Variables are required")
		return
	}
	s.mu.Lock()
	c := s.controlLocked(w, r.PathValue("id"), "Channel not found", false)
	if c == nil {
		s.mu.Unlock()
		return
	}
	cmd := &command{kind: cmdSetVars, vars: p.vars}
	s.runSync(w, r, c, cmd, http.StatusBadRequest, "Failed to execute function")
}

func (s *Server) continue1(w http.ResponseWriter, r *http.Request, p params) {
	prio, err := p.int("priority", 0)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.controlLocked(w, r.PathValue("id"), "Channel not found", true)
	if c == nil {
		return
	}
	ctx, exten, label := p.str("context"), p.str("extension"), p.str("label")
	if label != "" {
		n, err := strconv.Atoi(label)
		if err != nil {
			writeErr(w, http.StatusNotFound, "Requested label cannot be found")
			return
		}
		prio = n
	}
	switch {
	case ctx == "" && exten == "" && prio == 0:
		ctx, exten, prio = c.dp.Context, c.dp.Exten, int(c.dp.Priority)+1
	default:
		if ctx == "" {
			ctx = c.dp.Context
			if exten == "" {
				exten = c.dp.Exten
			}
		} else if exten == "" {
			exten = "s"
		}
		if prio == 0 {
			prio = 1
		}
	}
	s.enqueueLocked(c, &command{kind: cmdContinue, context: ctx, exten: exten, priority: int64(prio)})
	noContent(w)
}

func (s *Server) move(w http.ResponseWriter, r *http.Request, p params) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.controlLocked(w, r.PathValue("id"), "Channel not found", false)
	if c == nil {
		return
	}
	app := p.str("app")
	if app == "" {
		writeErr(w, http.StatusBadRequest, "Application name is required")
		return
	}
	// Asterisk splits a move's appArgs with strtok_r: on every comma,
	// empty fields dropped, nothing protected (unlike originate's).
	var args []string
	for _, a := range strings.Split(p.str("appArgs"), ",") {
		if a != "" {
			args = append(args, a)
		}
	}
	s.enqueueLocked(c, &command{kind: cmdMove, app: app, args: args})
	noContent(w)
}

func (s *Server) dtmf(w http.ResponseWriter, r *http.Request, p params) {
	digits := p.str("dtmf")
	if digits == "" {
		writeErr(w, http.StatusBadRequest, "DTMF is required")
		return
	}
	cmd := &command{kind: cmdDTMF, digits: digits}
	var errs [4]error
	cmd.before, errs[0] = p.ms("before", 0)
	cmd.between, errs[1] = p.ms("between", 100)
	cmd.duration, errs[2] = p.ms("duration", 100)
	cmd.after, errs[3] = p.ms("after", 0)
	for _, err := range errs {
		if err != nil {
			writeErr(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.controlLocked(w, r.PathValue("id"), "Channel not found", true)
	if c == nil {
		return
	}
	s.enqueueLocked(c, cmd)
	noContent(w)
}

func (s *Server) nop(w http.ResponseWriter, r *http.Request, p params) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.controlLocked(w, r.PathValue("id"), "Channel not found", false)
	if c == nil {
		return
	}
	s.enqueueLocked(c, &command{kind: cmdNop})
	noContent(w)
}

// ---- originate, create, dial

func (s *Server) newOutboundLocked(w http.ResponseWriter, r *http.Request, p params) *channel {
	ep := p.str("endpoint")
	if ep == "" {
		writeErr(w, http.StatusBadRequest, "Endpoint must be specified")
		return nil
	}
	tech, res, ok := strings.Cut(ep, "/")
	if !ok || res == "" {
		writeErr(w, http.StatusBadRequest, "Endpoint parameter not in tech/resource format")
		return nil
	}
	switch strings.ToUpper(tech) {
	case "LOCAL", "PJSIP", "SIP", "IAX2", "DAHDI", "TEST":
	default:
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "Allocation failed"})
		return nil
	}
	id := r.PathValue("id")
	if id == "" {
		id = p.str("channelId")
	}
	if other := p.str("otherChannelId"); id != "" && other != "" && strings.HasPrefix(id, other) {
		writeErr(w, http.StatusConflict, "Channel with given unique ID already exists")
		return nil
	}
	if id == "" {
		id = s.nextIDLocked()
	} else if _, dup := s.chans[id]; dup {
		writeErr(w, http.StatusConflict, "Channel with given unique ID already exists")
		return nil
	}
	var name string
	if strings.EqualFold(tech, "Local") {
		exten, ctx, _ := strings.Cut(strings.TrimSuffix(res, "/n"), "@")
		if ctx == "" {
			ctx = "default"
		}
		name = s.localNameLocked(ctx, exten) + ";1"
	} else {
		s.nameSeq++
		name = fmt.Sprintf("%s/%s-%08x", tech, res, s.nameSeq)
	}
	c := s.newChannelLocked(id, name)
	c.endpoint = ep
	cid := parseCallerID(p.str("callerId"))
	c.caller, c.connected = cid, cid
	c.dp = dialplanJSON{Context: "default", Exten: "s", Priority: 1, AppName: "AppDial2", AppData: "(Outgoing Line)"}
	return c
}

func (s *Server) originate(w http.ResponseWriter, r *http.Request, p params) {
	app := p.str("app")
	if app == "" && p.str("extension") == "" {
		writeErr(w, http.StatusBadRequest, "Application or extension must be specified")
		return
	}
	timeout, err := p.int("timeout", 30)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.newOutboundLocked(w, r, p)
	if c == nil {
		return
	}
	c.subApp = app
	for _, k := range sortedKeys(p.vars) {
		s.setVarLocked(c, k, p.vars[k], false)
	}
	writeJSON(w, http.StatusOK, c.json())
	args := stasisArgs(app, p.str("appArgs"))
	var enter func()
	if app != "" {
		enter = func() {
			if !s.appActiveLocked(app) {
				s.requestHangupLocked(c, 16, false)
				return
			}
			s.enterStasisLocked(c, app, args)
		}
	} else {
		ctx := p.str("context")
		if ctx == "" {
			ctx = "default"
		}
		c.dp = dialplanJSON{Context: ctx, Exten: p.str("extension"), Priority: 1}
	}
	to := time.Duration(timeout) * time.Second
	if timeout < 0 {
		to = 0
	}
	s.dialLocked(c, to, true, enter)
}

// stasisMaxArgs is Stasis()'s argument cap (app_stasis.c MAX_ARGS).
const stasisMaxArgs = 128

// stasisArgs returns the StasisStart args of a channel that originate or
// create sends into app: Asterisk runs Stasis("app,appArgs"), which splits
// its data with the standard argument splitter, so parentheses, brackets
// and quotes protect commas and quotes and backslashes are removed.
func stasisArgs(app, appArgs string) []string {
	if appArgs == "" {
		return nil
	}
	f := astargs.Split(app+","+appArgs, 1+stasisMaxArgs)
	if len(f) < 2 {
		return nil
	}
	return f[1:]
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func (s *Server) create(w http.ResponseWriter, r *http.Request, p params) {
	app := p.str("app")
	if app == "" {
		writeErr(w, http.StatusBadRequest, "Application must be specified")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.newOutboundLocked(w, r, p)
	if c == nil {
		return
	}
	c.subApp = app
	for _, k := range sortedKeys(p.vars) {
		c.vars[k] = p.vars[k]
	}
	args := stasisArgs(app, p.str("appArgs"))
	writeJSON(w, http.StatusOK, c.json())
	appData := app
	if a := p.str("appArgs"); a != "" {
		appData += "," + a
	}
	c.dp = dialplanJSON{Context: "default", Exten: "s", Priority: 1, AppName: "Stasis", AppData: appData}
	s.emitLocked(c, "ChannelDialplan", nil, []kv{{"dialplan_app", "Stasis"}, {"dialplan_app_data", c.dp.AppData}})
	s.enterStasisLocked(c, app, args)
}

func (s *Server) dial(w http.ResponseWriter, r *http.Request, p params) {
	timeout, err := p.int("timeout", 0)
	if err != nil {
		writeErr(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.controlLocked(w, r.PathValue("id"), "Channel not found", false)
	if c == nil {
		return
	}
	if c.endpoint == "" || c.state != "Down" {
		writeErr(w, http.StatusConflict, "Channel cannot be dialed")
		return
	}
	noContent(w)
	s.dialLocked(c, time.Duration(timeout)*time.Second, false, nil)
}

// ---- playbacks

func (s *Server) getPlayback(w http.ResponseWriter, r *http.Request, p params) {
	s.mu.Lock()
	pb := s.playbacks[r.PathValue("pb")]
	var j playbackJSON
	if pb != nil {
		j = pb.json(pb.idx, pb.state)
		if pb.paused {
			j.State = "paused"
		}
	}
	s.mu.Unlock()
	if pb == nil {
		writeErr(w, http.StatusNotFound, "Playback not found")
		return
	}
	writeJSON(w, http.StatusOK, j)
}

func (s *Server) stopPlayback(w http.ResponseWriter, r *http.Request, p params) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pb := s.playbacks[r.PathValue("pb")]
	if pb == nil || pb.stop {
		writeErr(w, http.StatusNotFound, "Playback not found")
		return
	}
	if pb.state == "queued" || pb.state == "done" {
		pb.state = "done" // Finished{done} when the channel reaches it
	} else {
		pb.stop = true
		pb.ch.poke()
	}
	noContent(w)
}

func (s *Server) controlPlayback(w http.ResponseWriter, r *http.Request, p params) {
	op := p.str("operation")
	s.mu.Lock()
	defer s.mu.Unlock()
	pb := s.playbacks[r.PathValue("pb")]
	switch op {
	case "restart", "pause", "unpause", "reverse", "forward":
	default:
		writeErr(w, http.StatusBadRequest, "Invalid operation "+op)
		return
	}
	if pb == nil || pb.stop {
		writeErr(w, http.StatusNotFound, "Playback not found")
		return
	}
	if pb.state != "playing" {
		writeErr(w, http.StatusConflict, "Playback not in a valid state")
		return
	}
	switch op {
	case "pause":
		pb.paused = true
	case "unpause":
		if pb.paused {
			pb.paused = false
			s.pbEventLocked(pb, "PlaybackStarted", pb.idx, "playing")
		}
	case "restart":
		pb.restart = true
	}
	pb.ch.poke()
	noContent(w)
}
