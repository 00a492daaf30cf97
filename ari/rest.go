package ari

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// callClass picks the timeout of a REST call.
type callClass uint8

const (
	short callClass = iota // answered at once: RESTTimeout
	long                   // queued behind a playing file: RESTLongTimeout
)

// maxBody bounds the REST reply bodies read (GET /channels on a busy
// system is the biggest).
const maxBody = 64 << 20

// request is one REST call.
type request struct {
	method string
	path   string // relative to the base, segments already escaped
	query  url.Values
	body   any // JSON body, nil = none
	class  callClass
	want   int // expected success status (0 = any 2xx)
}

// do runs r and returns the reply body of a success. GETs are retried on
// connection errors and 503; nothing else is retried.
func (c *Client) do(ctx context.Context, r request) ([]byte, error) {
	timeout := c.cfg.RESTTimeout
	if r.class == long {
		timeout = c.cfg.RESTLongTimeout
	}
	var body []byte
	if r.body != nil {
		b, err := json.Marshal(r.body)
		if err != nil {
			return nil, &Error{Method: r.method, Path: r.path, Err: fmt.Errorf("encode body: %w", err)}
		}
		body = b
	}
	u := *c.rest
	u.RawPath = c.rest.EscapedPath() + r.path
	if p, err := url.PathUnescape(u.RawPath); err == nil {
		u.Path = p
	}
	if len(r.query) > 0 {
		u.RawQuery = r.query.Encode()
	}
	attempts := 1
	if r.method == http.MethodGet {
		attempts += c.cfg.RESTRetries
	}
	var err error
	for try := 0; try < attempts; try++ {
		if try > 0 {
			t := time.NewTimer(time.Duration(try) * 100 * time.Millisecond)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, &Error{Method: r.method, Path: r.path, Err: ctx.Err()}
			case <-t.C:
			}
		}
		var res []byte
		var retry bool
		res, retry, err = c.once(ctx, &u, r, body, timeout, try+1)
		if err == nil {
			return res, nil
		}
		if !retry {
			break
		}
	}
	return nil, err
}

func (c *Client) once(ctx context.Context, u *url.URL, r request, body []byte, timeout time.Duration, attempt int) (res []byte, retry bool, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	status := 0
	if on := c.cfg.OnREST; on != nil {
		start := time.Now()
		defer func() {
			on(RESTCall{Method: r.method, Route: route(r.path), Status: status, Duration: time.Since(start), Attempt: attempt})
		}()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, r.method, u.String(), rd)
	if err != nil {
		return nil, false, &Error{Method: r.method, Path: r.path, Err: errors.New("cannot build the request")}
	}
	if user, pass, ok := c.cfg.basicAuth(); ok {
		req.SetBasicAuth(user, pass)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	hc := c.http
	if r.class == long {
		hc = c.httpLong // blocked calls must not hold up the others
	}
	resp, err := hc.Do(req)
	if err != nil {
		// *url.Error quotes the URL (with its query); keep only the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		// A connection error is retried (for GETs); a timeout or the
		// caller's cancellation is not.
		return nil, ctx.Err() == nil, &Error{Method: r.method, Path: r.path, Err: c.redactErr(err)}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	status = resp.StatusCode
	if err != nil {
		return nil, true, &Error{Method: r.method, Path: r.path, Err: fmt.Errorf("reading the %d reply: %w", resp.StatusCode, c.redactErr(err))}
	}
	if resp.StatusCode/100 == 2 {
		return b, false, nil
	}
	e := &Error{Method: r.method, Path: r.path, Status: resp.StatusCode, Message: errorMessage(b)}
	if e.Message == "" {
		e.Message = http.StatusText(resp.StatusCode)
	}
	return nil, resp.StatusCode == http.StatusServiceUnavailable, e
}

// errorMessage extracts {"message": ...} or {"error": ...}.
func errorMessage(b []byte) string {
	var m struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	if json.Unmarshal(b, &m) != nil {
		return strings.TrimSpace(truncate(b, 200))
	}
	if m.Message != "" {
		return m.Message
	}
	return m.Error
}

// fixedWord reports whether s, at an id's place under collection coll,
// is one of ARI's fixed words rather than an id.
func fixedWord(coll, s string) bool {
	switch coll {
	case "channels":
		return s == "create" || s == "externalMedia"
	case "bridges":
		return s == "create"
	case "asterisk":
		return s == "info" || s == "ping" || s == "variable" || s == "modules" || s == "logging" || s == "config"
	case "recordings":
		return s == "live" || s == "stored"
	case "events":
		return s == "user"
	case "endpoints":
		return s == "sendMessage"
	}
	return false
}

// route reduces a request path ("/channels/c%201/play/pb1") to a
// low-cardinality label ("/channels/{id}/play/{id}"). ARI paths alternate
// a collection or verb and an id; a fixed word at an id's place
// ("/channels/create", "/recordings/stored/{id}") is kept and an id
// follows it. Under /endpoints every segment but sendMessage is an id
// (/endpoints/{tech}/{resource}).
func route(path string) string {
	segs := strings.Split(strings.TrimPrefix(path, "/"), "/")
	var b strings.Builder
	b.Grow(len(path) + 8)
	id := false // the next segment is at an id's place
	for i, s := range segs {
		b.WriteByte('/')
		switch {
		case i == 0:
			b.WriteString(s)
			id = true
		case (id || segs[0] == "endpoints") && fixedWord(segs[0], s):
			b.WriteString(s)
			id = true
		case id || segs[0] == "endpoints":
			b.WriteString("{id}")
			id = false
		default:
			b.WriteString(s)
			id = true
		}
	}
	return b.String()
}

// seg escapes one path segment (ids may hold any character).
func seg(s string) string { return url.PathEscape(s) }

// checkID rejects empty ids locally (they would address another resource).
func checkID(what, id string) error {
	if id == "" {
		return fmt.Errorf("ari: empty %s id: %w", what, ErrBadRequest)
	}
	return nil
}

// Answer answers a channel (POST /channels/{id}/answer). Asterisk runs it
// after the channel's queued commands: it waits behind a playing file, so
// it uses RESTLongTimeout.
func (c *Client) Answer(ctx context.Context, channelID string) error {
	if err := checkID("channel", channelID); err != nil {
		return err
	}
	_, err := c.do(ctx, request{method: "POST", path: "/channels/" + seg(channelID) + "/answer", class: long})
	return err
}

// Hangup hangs a channel up (DELETE /channels/{id}); reason is one of
// Asterisk's names (normal, busy, congestion, no_answer, ...), "" for the
// default (normal).
func (c *Client) Hangup(ctx context.Context, channelID, reason string) error {
	if err := checkID("channel", channelID); err != nil {
		return err
	}
	q := url.Values{}
	if reason != "" {
		q.Set("reason", reason)
	}
	_, err := c.do(ctx, request{method: "DELETE", path: "/channels/" + seg(channelID), query: q})
	return err
}

// Play queues media on a channel (POST /channels/{id}/play/{playbackId},
// or /play when playbackId is "" and Asterisk picks the id). The items are
// sent comma-joined, so none may contain a comma. lang "" = the channel's
// language. Choose the playbackId yourself and route events by it before
// calling: PlaybackStarted can arrive before this returns.
func (c *Client) Play(ctx context.Context, channelID, playbackID string, media []string, lang string) (Playback, error) {
	if err := checkID("channel", channelID); err != nil {
		return Playback{}, err
	}
	if len(media) == 0 {
		return Playback{}, fmt.Errorf("ari: play: no media: %w", ErrBadRequest)
	}
	for _, m := range media {
		if m == "" || strings.Contains(m, ",") {
			return Playback{}, fmt.Errorf("ari: play: media item %q is empty or has a comma: %w", m, ErrBadRequest)
		}
	}
	q := url.Values{"media": {strings.Join(media, ",")}}
	if lang != "" {
		q.Set("lang", lang)
	}
	path := "/channels/" + seg(channelID) + "/play"
	if playbackID != "" {
		path += "/" + seg(playbackID)
	}
	b, err := c.do(ctx, request{method: "POST", path: path, query: q})
	if err != nil {
		return Playback{}, err
	}
	return decodePlayback(b, "POST", path)
}

// GetPlayback returns a playback (GET /playbacks/{id}); ErrNotFound once
// it has finished.
func (c *Client) GetPlayback(ctx context.Context, playbackID string) (Playback, error) {
	if err := checkID("playback", playbackID); err != nil {
		return Playback{}, err
	}
	path := "/playbacks/" + seg(playbackID)
	b, err := c.do(ctx, request{method: "GET", path: path})
	if err != nil {
		return Playback{}, err
	}
	return decodePlayback(b, "GET", path)
}

// StopPlayback stops a playing or queued playback (DELETE /playbacks/{id});
// ErrNotFound if it already finished.
func (c *Client) StopPlayback(ctx context.Context, playbackID string) error {
	if err := checkID("playback", playbackID); err != nil {
		return err
	}
	_, err := c.do(ctx, request{method: "DELETE", path: "/playbacks/" + seg(playbackID)})
	return err
}

// GetGlobalVariable reads a global variable (GET /asterisk/variable);
// Asterisk also answers its built-in directories there (ASTDATADIR...).
func (c *Client) GetGlobalVariable(ctx context.Context, name string) (string, error) {
	return c.getValue(ctx, "/asterisk/variable", name)
}

// getValue GETs path?variable=name and decodes ARI's Variable reply.
func (c *Client) getValue(ctx context.Context, path, name string) (string, error) {
	b, err := c.do(ctx, request{method: "GET", path: path, query: url.Values{"variable": {name}}})
	if err != nil {
		return "", err
	}
	var v struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return "", &Error{Method: "GET", Path: path, Status: 200, Message: "reply does not decode: " + err.Error()}
	}
	return v.Value, nil
}

// GetVariable reads a channel variable or function (GET
// /channels/{id}/variable). An unset variable is ErrVariableNotSet; an
// unknown channel is ErrNotFound.
func (c *Client) GetVariable(ctx context.Context, channelID, name string) (string, error) {
	if err := checkID("channel", channelID); err != nil {
		return "", err
	}
	return c.getValue(ctx, "/channels/"+seg(channelID)+"/variable", name)
}

// SetVariable sets a channel variable or function (POST
// /channels/{id}/variable). Queued behind a playing file:
// RESTLongTimeout.
func (c *Client) SetVariable(ctx context.Context, channelID, name, value string) error {
	if err := checkID("channel", channelID); err != nil {
		return err
	}
	q := url.Values{"variable": {name}, "value": {value}}
	_, err := c.do(ctx, request{method: "POST", path: "/channels/" + seg(channelID) + "/variable", query: q, class: long})
	return err
}

// Continue makes the channel leave Stasis and continue in the dialplan
// (POST /channels/{id}/continue). Empty strings and priority 0 are not
// sent (Asterisk then uses the next priority). The channel leaves only
// after its current command (a playing file): RESTLongTimeout.
func (c *Client) Continue(ctx context.Context, channelID, context_, exten string, priority int, label string) error {
	if err := checkID("channel", channelID); err != nil {
		return err
	}
	q := url.Values{}
	if context_ != "" {
		q.Set("context", context_)
	}
	if exten != "" {
		q.Set("extension", exten)
	}
	if priority != 0 {
		q.Set("priority", strconv.Itoa(priority))
	}
	if label != "" {
		q.Set("label", label)
	}
	_, err := c.do(ctx, request{method: "POST", path: "/channels/" + seg(channelID) + "/continue", query: q, class: long})
	return err
}

// Move moves the channel to another Stasis application (POST
// /channels/{id}/move); args are comma-joined into appArgs.
func (c *Client) Move(ctx context.Context, channelID, app string, args []string) error {
	if err := checkID("channel", channelID); err != nil {
		return err
	}
	q := url.Values{"app": {app}}
	if len(args) > 0 {
		q.Set("appArgs", strings.Join(args, ","))
	}
	_, err := c.do(ctx, request{method: "POST", path: "/channels/" + seg(channelID) + "/move", query: q, class: long})
	return err
}

// DTMFOptions are the timings of SendDTMF; zero = Asterisk's default
// (before 0, between 100 ms, duration 100 ms, after 0).
type DTMFOptions struct {
	Before, Between, Duration, After time.Duration
}

// SendDTMF sends DTMF to the channel (POST /channels/{id}/dtmf).
func (c *Client) SendDTMF(ctx context.Context, channelID, dtmf string, opt DTMFOptions) error {
	if err := checkID("channel", channelID); err != nil {
		return err
	}
	if dtmf == "" {
		return fmt.Errorf("ari: dtmf: no digits: %w", ErrBadRequest)
	}
	q := url.Values{"dtmf": {dtmf}}
	for _, p := range []struct {
		name string
		d    time.Duration
	}{{"before", opt.Before}, {"between", opt.Between}, {"duration", opt.Duration}, {"after", opt.After}} {
		if p.d > 0 {
			q.Set(p.name, strconv.FormatInt(p.d.Milliseconds(), 10))
		}
	}
	_, err := c.do(ctx, request{method: "POST", path: "/channels/" + seg(channelID) + "/dtmf", query: q})
	return err
}

// Ring indicates ringing to the channel (POST /channels/{id}/ring).
func (c *Client) Ring(ctx context.Context, channelID string) error {
	return c.simple(ctx, "POST", channelID, "/ring")
}

// StartSilence plays silence to the channel (POST /channels/{id}/silence).
func (c *Client) StartSilence(ctx context.Context, channelID string) error {
	return c.simple(ctx, "POST", channelID, "/silence")
}

// StopSilence stops it (DELETE /channels/{id}/silence).
func (c *Client) StopSilence(ctx context.Context, channelID string) error {
	return c.simple(ctx, "DELETE", channelID, "/silence")
}

func (c *Client) simple(ctx context.Context, method, channelID, suffix string) error {
	if err := checkID("channel", channelID); err != nil {
		return err
	}
	_, err := c.do(ctx, request{method: method, path: "/channels/" + seg(channelID) + suffix})
	return err
}

// OriginateParams are POST /channels' parameters. Either App (+AppArgs)
// or Extension/Context/Priority/Label; zero values are not sent.
type OriginateParams struct {
	Endpoint       string // required, "tech/resource"
	App            string
	AppArgs        []string // comma-joined into appArgs
	Extension      string
	Context        string
	Priority       int
	Label          string
	CallerID       string
	Timeout        time.Duration // rounded to seconds; 0 = Asterisk's 30 s; negative = none
	ChannelID      string
	OtherChannelID string
	Originator     string
	Formats        string
	Variables      map[string]string // sent in the JSON body
}

// Originate creates and dials a channel (POST /channels).
func (c *Client) Originate(ctx context.Context, p OriginateParams) (Channel, error) {
	if p.Endpoint == "" {
		return Channel{}, fmt.Errorf("ari: originate: no endpoint: %w", ErrBadRequest)
	}
	q := url.Values{"endpoint": {p.Endpoint}}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("app", p.App)
	if len(p.AppArgs) > 0 {
		q.Set("appArgs", strings.Join(p.AppArgs, ","))
	}
	set("extension", p.Extension)
	set("context", p.Context)
	if p.Priority != 0 {
		q.Set("priority", strconv.Itoa(p.Priority))
	}
	set("label", p.Label)
	set("callerId", p.CallerID)
	switch {
	case p.Timeout < 0:
		q.Set("timeout", "-1")
	case p.Timeout > 0:
		q.Set("timeout", strconv.FormatInt(int64((p.Timeout+time.Second-1)/time.Second), 10))
	}
	set("channelId", p.ChannelID)
	set("otherChannelId", p.OtherChannelID)
	set("originator", p.Originator)
	set("formats", p.Formats)
	return c.channelCall(ctx, request{method: "POST", path: "/channels", query: q, body: varsBody(p.Variables)})
}

// CreateParams are POST /channels/create's parameters.
type CreateParams struct {
	Endpoint       string // required
	App            string // required
	AppArgs        []string
	ChannelID      string
	OtherChannelID string
	Originator     string
	Formats        string
	Variables      map[string]string
}

// CreateChannel creates a channel in App without dialling it (POST
// /channels/create); dial it with Dial.
func (c *Client) CreateChannel(ctx context.Context, p CreateParams) (Channel, error) {
	if p.Endpoint == "" || p.App == "" {
		return Channel{}, fmt.Errorf("ari: create channel: endpoint and app are required: %w", ErrBadRequest)
	}
	q := url.Values{"endpoint": {p.Endpoint}, "app": {p.App}}
	if len(p.AppArgs) > 0 {
		q.Set("appArgs", strings.Join(p.AppArgs, ","))
	}
	for k, v := range map[string]string{"channelId": p.ChannelID, "otherChannelId": p.OtherChannelID, "originator": p.Originator, "formats": p.Formats} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return c.channelCall(ctx, request{method: "POST", path: "/channels/create", query: q, body: varsBody(p.Variables)})
}

func varsBody(v map[string]string) any {
	if len(v) == 0 {
		return nil
	}
	return struct {
		Variables map[string]string `json:"variables"`
	}{v}
}

// Dial dials a created channel (POST /channels/{id}/dial); caller is the
// id of the calling channel ("" = none), timeout 0 = none sent.
func (c *Client) Dial(ctx context.Context, channelID, caller string, timeout time.Duration) error {
	if err := checkID("channel", channelID); err != nil {
		return err
	}
	q := url.Values{}
	if caller != "" {
		q.Set("caller", caller)
	}
	if timeout > 0 {
		q.Set("timeout", strconv.FormatInt(int64((timeout+time.Second-1)/time.Second), 10))
	}
	_, err := c.do(ctx, request{method: "POST", path: "/channels/" + seg(channelID) + "/dial", query: q})
	return err
}

// GetChannel returns a channel's snapshot (GET /channels/{id}).
func (c *Client) GetChannel(ctx context.Context, channelID string) (Channel, error) {
	if err := checkID("channel", channelID); err != nil {
		return Channel{}, err
	}
	return c.channelCall(ctx, request{method: "GET", path: "/channels/" + seg(channelID)})
}

func (c *Client) channelCall(ctx context.Context, r request) (Channel, error) {
	b, err := c.do(ctx, r)
	if err != nil {
		return Channel{}, err
	}
	var ch Channel
	if err := decodeBody(b, func(s *scanner) error { return s.channel(&ch, "channel") }); err != nil {
		return Channel{}, &Error{Method: r.method, Path: r.path, Status: 200, Message: "reply does not decode: " + err.Error()}
	}
	return ch, nil
}

// ListChannels returns every channel of the system (GET /channels).
func (c *Client) ListChannels(ctx context.Context) ([]Channel, error) {
	b, err := c.do(ctx, request{method: "GET", path: "/channels"})
	if err != nil {
		return nil, err
	}
	var out []Channel
	err = decodeBody(b, func(s *scanner) error {
		if s.b[s.i] != '[' {
			return s.syntax(s.i, "reply is not an array")
		}
		return s.array(func() error {
			var ch Channel
			err := s.channel(&ch, "channel")
			out = append(out, ch)
			return err
		})
	})
	if err != nil {
		return nil, &Error{Method: "GET", Path: "/channels", Status: 200, Message: "reply does not decode: " + err.Error()}
	}
	return out, nil
}

// decodeBody runs f over a REST reply with the event scanner (so Channel and
// Playback decode exactly as in events).
func decodeBody(b []byte, f func(s *scanner) error) error {
	s := scanner{b: b}
	if _, err := s.peek(); err != nil {
		return err
	}
	if err := f(&s); err != nil {
		return err
	}
	s.ws()
	if s.i < len(s.b) {
		return s.syntax(s.i, "trailing data")
	}
	if s.typeErr != nil {
		return s.typeErr
	}
	return nil
}

func decodePlayback(b []byte, method, path string) (Playback, error) {
	var p Playback
	if err := decodeBody(b, func(s *scanner) error { return s.playback(&p, "playback") }); err != nil {
		return Playback{}, &Error{Method: method, Path: path, Status: 200, Message: "reply does not decode: " + err.Error()}
	}
	return p, nil
}

// Application is GET /applications/{app}'s reply.
type Application struct {
	Name        string   `json:"name"`
	ChannelIDs  []string `json:"channel_ids"`
	BridgeIDs   []string `json:"bridge_ids"`
	EndpointIDs []string `json:"endpoint_ids"`
	DeviceNames []string `json:"device_names"`
}

// GetApplication returns an application's subscriptions (GET
// /applications/{app}): ChannelIDs lists the channels to resync.
func (c *Client) GetApplication(ctx context.Context, app string) (Application, error) {
	var a Application
	if err := checkID("application", app); err != nil {
		return a, err
	}
	err := c.getJSON(ctx, "/applications/"+seg(app), nil, &a)
	return a, err
}

// FormatLang is one (language, format) a sound exists in.
type FormatLang struct {
	Language string `json:"language"`
	Format   string `json:"format"`
}

// Sound is one entry of GET /sounds.
type Sound struct {
	ID      string       `json:"id"`
	Text    string       `json:"text"`
	Formats []FormatLang `json:"formats"`
}

// Sounds lists the sounds, filtered by language when lang != "" (GET
// /sounds); Asterisk answers 404 (ErrNotFound) when nothing matches.
func (c *Client) Sounds(ctx context.Context, lang string) ([]Sound, error) {
	q := url.Values{}
	if lang != "" {
		q.Set("lang", lang)
	}
	var s []Sound
	err := c.getJSON(ctx, "/sounds", q, &s)
	return s, err
}

// AsteriskInfo is the part of GET /asterisk/info the gateway uses.
type AsteriskInfo struct {
	System struct {
		Version  string `json:"version"`
		EntityID string `json:"entity_id"` // = every event's asterisk_id
	} `json:"system"`
	Build struct {
		OS      string `json:"os"`
		Machine string `json:"machine"`
	} `json:"build"`
	Status struct {
		StartupTime    string `json:"startup_time"`
		LastReloadTime string `json:"last_reload_time"`
	} `json:"status"`
}

// AsteriskInfo returns the server's identity and version (GET /asterisk/info).
func (c *Client) AsteriskInfo(ctx context.Context) (AsteriskInfo, error) {
	var info AsteriskInfo
	err := c.getJSON(ctx, "/asterisk/info", nil, &info)
	return info, err
}

func (c *Client) getJSON(ctx context.Context, path string, q url.Values, out any) error {
	b, err := c.do(ctx, request{method: "GET", path: path, query: q})
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return &Error{Method: "GET", Path: path, Status: 200, Message: "reply does not decode: " + err.Error()}
	}
	return nil
}

// ListChannelsJSON returns GET /channels' reply as Asterisk sent it (a JSON
// array of channels), for a consumer that keeps ARI's own JSON (the CTI
// stream's snapshot).
func (c *Client) ListChannelsJSON(ctx context.Context) ([]byte, error) {
	return c.do(ctx, request{method: "GET", path: "/channels"})
}
