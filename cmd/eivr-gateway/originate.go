package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
	"github.com/eivr-gateway/eivr-gateway/eivr"
	"github.com/eivr-gateway/eivr-gateway/gateway"
)

// Click-to-call: `eivr-gateway originate` asks the running gateway, over
// POST /v1/calls on its admin listener, to call a destination and run an
// ExternalIVR program when it answers. Only the gateway process can run the
// session: it holds the app's events socket (a second socket would take the
// app over).

// callRequest is the body of POST /v1/calls.
type callRequest struct {
	Endpoint string `json:"endpoint"`            // "PJSIP/1000"
	Run      string `json:"run"`                 // application data as in ExternalIVR(): "/path/prog(args),options"
	App      string `json:"app,omitempty"`       // default originate.app, else the first [[app]]
	CallerID string `json:"caller_id,omitempty"` // default originate.caller_id
	Timeout  string `json:"timeout,omitempty"`   // ringing time, default originate.timeout
}

// callResponse is the reply of POST /v1/calls.
type callResponse struct {
	Status  string `json:"status"` // answered, busy, no_answer, failed, refused
	Channel string `json:"channel,omitempty"`
	Cause   int    `json:"cause,omitempty"` // hangup cause when not answered, if known
	Error   string `json:"error,omitempty"`
}

// Call outcomes: gateway.CallAnswered, CallBusy, CallNoAnswer, CallFailed,
// and callRefused.
const (
	callAnswered = gateway.CallAnswered // the destination answered; the session runs
	callBusy     = gateway.CallBusy
	callNoAnswer = gateway.CallNoAnswer
	callFailed   = gateway.CallFailed
	callRefused  = "refused" // not placed: bad request, allow-list, duplicate, draining
)

// serverMargin is how long POST /v1/calls waits beyond the ringing time
// (the originate and answer requests on a busy Asterisk).
const serverMargin = 30 * time.Second

// errDuplicate is the duplicate-destination guard's refusal.
var errDuplicate = errors.New("a call to this destination is already in progress")

// originator places one call and waits until it is answered or fails
// (gateway.Gateway.Originate).
type originator func(ctx context.Context, r gateway.OriginateRequest) (gateway.OriginateResult, error)

// gatewayOriginator places calls through the first gateway (the first ARI
// URL).
func gatewayOriginator(s *server) originator {
	return func(ctx context.Context, r gateway.OriginateRequest) (gateway.OriginateResult, error) {
		return s.gateways[0].Originate(ctx, r)
	}
}

// configurer is the running configuration of the process serving
// POST /v1/calls (server, listenServer).
type configurer interface{ config() config.Config }

// errNoRoute is wrapped by an originator that has no connection to place
// the call on (listener mode: no persistent socket for the app).
var errNoRoute = errors.New("no connection to originate on")

// callService serves POST /v1/calls.
type callService struct {
	s         configurer
	originate originator // nil: click-to-call not available

	mu       sync.Mutex
	inFlight map[string]bool // destinations with a call in progress
}

func newCallService(s *server) *callService {
	return &callService{s: s, originate: gatewayOriginator(s), inFlight: map[string]bool{}}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

func refuse(w http.ResponseWriter, code int, format string, args ...any) {
	writeJSON(w, code, callResponse{Status: callRefused, Error: fmt.Sprintf(format, args...)})
}

func (c *callService) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	cfg := c.s.config()
	token := cfg.Admin.Token
	if token == "" {
		refuse(w, http.StatusForbidden, "click-to-call is disabled: set admin.token (or EIVR_ADMIN_TOKEN)")
		return
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="eivr-gateway"`)
		refuse(w, http.StatusUnauthorized, "missing or wrong bearer token")
		return
	}
	var req callRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		refuse(w, http.StatusBadRequest, "body: %v", err)
		return
	}
	app := req.App
	if app == "" {
		app = cfg.Originate.App
	}
	if app == "" {
		app = cfg.Apps[0].Name
	}
	if _, ok := cfg.App(app); !ok {
		refuse(w, http.StatusBadRequest, "no [[app]] named %q", app)
		return
	}
	if req.Endpoint == "" || !strings.Contains(req.Endpoint, "/") {
		refuse(w, http.StatusBadRequest, "endpoint %q: want tech/resource, e.g. PJSIP/1000", req.Endpoint)
		return
	}
	if _, err := eivr.ParseAppData(req.Run); err != nil {
		refuse(w, http.StatusBadRequest, "run: %v", err)
		return
	}
	var err error
	timeout := cfg.Originate.Timeout.Duration
	if req.Timeout != "" {
		if timeout, err = time.ParseDuration(req.Timeout); err != nil || timeout <= 0 {
			refuse(w, http.StatusBadRequest, "timeout %q: want a duration such as \"30s\"", req.Timeout)
			return
		}
	}
	callerID := req.CallerID
	if callerID == "" {
		callerID = cfg.Originate.CallerID
	}
	if c.originate == nil {
		refuse(w, http.StatusNotImplemented, "click-to-call is not available in this build (the gateway has no originate yet)")
		return
	}
	// Duplicate-destination guard.
	dest := strings.ToLower(req.Endpoint)
	c.mu.Lock()
	if c.inFlight[dest] {
		c.mu.Unlock()
		refuse(w, http.StatusConflict, "%s: %v", req.Endpoint, errDuplicate)
		return
	}
	c.inFlight[dest] = true
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.inFlight, dest)
		c.mu.Unlock()
	}()

	ctx, cancel := context.WithTimeout(r.Context(), timeout+serverMargin)
	defer cancel()
	res, err := c.originate(ctx, gateway.OriginateRequest{App: app, Endpoint: req.Endpoint, AppData: req.Run, CallerID: callerID, Timeout: timeout})
	switch {
	case errors.Is(err, gateway.ErrDenied):
		refuse(w, http.StatusForbidden, "run %q (app %s): %v", req.Run, app, err)
	case errors.Is(err, gateway.ErrDraining):
		refuse(w, http.StatusServiceUnavailable, "the gateway is draining: %v", err)
	case errors.Is(err, errNoRoute):
		refuse(w, http.StatusServiceUnavailable, "app %s: %v", app, err)
	case errors.Is(err, gateway.ErrBadArgs):
		refuse(w, http.StatusBadRequest, "run: %v", err)
	case err != nil:
		writeJSON(w, http.StatusBadGateway, callResponse{Status: callFailed, Channel: res.ChannelID, Error: err.Error()})
	case res.Status == gateway.CallAnswered:
		writeJSON(w, http.StatusCreated, callResponse{Status: res.Status, Channel: res.ChannelID})
	default:
		writeJSON(w, http.StatusBadGateway, callResponse{Status: res.Status, Channel: res.ChannelID, Cause: res.Cause})
	}
}

func cmdOriginate(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("originate", e, "--endpoint TECH/RESOURCE --run 'PROGRAM(ARGS)[,OPTIONS]' [flags]")
	var cf configFlags
	cf.register(fs)
	endpoint := fs.String("endpoint", "", "destination to call, e.g. PJSIP/1000")
	run := fs.String("run", "", "what to run when it answers, as in ExternalIVR(): '/path/prog(args),options' or 'ivr://host(args)'")
	app := fs.String("app", "", "Stasis app (default originate.app, else the first [[app]])")
	callerID := fs.String("callerid", "", "caller ID shown to the destination, \"Name <number>\"")
	timeout := fs.Duration("timeout", 0, "how long it may ring (default originate.timeout)")
	admin := fs.String("admin", "", "admin listener of the running gateway (default admin.listen)")
	wait := fs.Duration("wait", 0, "how long to wait for the gateway's answer (default: the ringing time + 35s; the gateway itself gives up 30s after the ringing time)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *endpoint == "" || *run == "" {
		return fmt.Errorf("%w: --endpoint and --run are required", errUsage)
	}
	cfg, _, err := cf.load(fs, e.getenv)
	if err != nil {
		return configError(err)
	}
	addr := *admin
	if addr == "" {
		addr = cfg.Admin.Listen
	}
	if addr == "" {
		return errors.New("admin.listen is empty: the running gateway has no admin listener to take the call")
	}
	if cfg.Admin.Token == "" {
		return errors.New("no token: set admin.token or EIVR_ADMIN_TOKEN (the same as the running gateway's)")
	}
	req := callRequest{Endpoint: *endpoint, Run: *run, App: *app, CallerID: *callerID}
	if *timeout > 0 {
		req.Timeout = timeout.String()
	}
	if *wait <= 0 {
		ring := *timeout
		if ring <= 0 {
			ring = cfg.Originate.Timeout.Duration
		}
		*wait = ring + serverMargin + 5*time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, *wait)
	defer cancel()
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/v1/calls", bytes.NewReader(body))
	if err != nil {
		return err
	}
	hr.Header.Set("Authorization", "Bearer "+cfg.Admin.Token)
	hr.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(hr)
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("no answer from the gateway at %s within %v (--wait): %w", addr, *wait, err)
		}
		return fmt.Errorf("is the gateway running? %w", err)
	}
	defer resp.Body.Close()
	var res callResponse
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return fmt.Errorf("POST /v1/calls: %s", resp.Status)
	}
	switch res.Status {
	case callAnswered:
		fmt.Fprintf(e.stdout, "answered: %s runs on channel %s\n", *run, res.Channel)
		return nil
	case callBusy, callNoAnswer, callFailed:
		msg := strings.ReplaceAll(res.Status, "_", " ")
		if res.Cause != 0 {
			msg += fmt.Sprintf(" (cause %d)", res.Cause)
		}
		if res.Error != "" {
			msg += ": " + res.Error
		}
		fmt.Fprintf(e.stdout, "%s: %s\n", *endpoint, msg)
		return errSilent
	default:
		return fmt.Errorf("refused: %s", res.Error)
	}
}
