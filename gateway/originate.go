package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/eivr"
)

// OriginateRequest is a click-to-call: call Endpoint and, when it answers,
// run AppData in a session of App.
type OriginateRequest struct {
	// App is the Stasis app the call enters ("" = the first configured).
	App string
	// Endpoint is the destination, "tech/resource" (e.g. PJSIP/1000).
	Endpoint string
	// AppData is what ExternalIVR() would get: "target(args),options".
	// It must pass the app's allow-list.
	AppData string
	// CallerID shown to the destination, "Name <number>"; "" = Asterisk's.
	CallerID string
	// Timeout is how long the destination may ring. 0 = 30 s.
	Timeout time.Duration
	// Variables are set on the new channel.
	Variables map[string]string
}

// OriginateResult says how a click-to-call went.
type OriginateResult struct {
	ChannelID string
	// Status is "answered" (the session runs), "busy", "no_answer" or
	// "failed" (Cause says why).
	Status string
	Cause  int
}

// Originate statuses.
const (
	CallAnswered = "answered"
	CallBusy     = "busy"
	CallNoAnswer = "no_answer"
	CallFailed   = "failed"
)

// originateWait is a pending click-to-call: route signals it when the
// channel enters Stasis or is destroyed.
type originateWait chan OriginateResult

// Originate places a call that runs r.AppData once answered, and waits
// until it is answered or fails (bounded by ctx and r.Timeout). Errors:
// ErrDenied (allow-list), ErrDraining, ErrBadArgs, or the ARI error.
func (g *Gateway) Originate(ctx context.Context, r OriginateRequest) (OriginateResult, error) {
	parsed, err := eivr.ParseAppData(r.AppData)
	if err != nil {
		return OriginateResult{}, errors.Join(ErrBadArgs, err)
	}
	g.mu.Lock()
	appName := r.App
	if appName == "" && len(g.cfg.Apps) > 0 {
		appName = g.cfg.Apps[0].Name
	}
	st := g.apps[appName]
	draining := g.draining
	g.mu.Unlock()
	switch {
	case st == nil:
		return OriginateResult{}, fmt.Errorf("originate: app %q is not configured", appName)
	case draining:
		return OriginateResult{}, ErrDraining
	}
	if ok, why := st.allow.allows(parsed); !ok {
		return OriginateResult{}, fmt.Errorf("%w: %s", ErrDenied, why)
	}
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	id := "eivr-" + g.prefix + "-c" + strconv.FormatUint(g.sSeq.Add(1), 10)
	wait := make(originateWait, 1)
	g.mu.Lock()
	g.pending[id] = wait
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.pending, id)
		g.mu.Unlock()
	}()
	// Stasis() splits appArgs with the standard splitter, parentheses
	// included, exactly as the dialplan's Stasis(app,<AppData>).
	_, err = g.client.Originate(ctx, ari.OriginateParams{
		Endpoint: r.Endpoint, App: appName, AppArgs: []string{r.AppData},
		CallerID: r.CallerID, Timeout: timeout, ChannelID: id, Variables: r.Variables,
	})
	if err != nil {
		return OriginateResult{ChannelID: id, Status: CallFailed}, fmt.Errorf("originate %s: %w", r.Endpoint, err)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout+10*time.Second)
	defer cancel()
	select {
	case res := <-wait:
		res.ChannelID = id
		return res, nil
	case <-wctx.Done():
		return OriginateResult{ChannelID: id, Status: CallFailed}, fmt.Errorf("originate %s: %w", r.Endpoint, wctx.Err())
	}
}

// originateEvent settles a pending click-to-call from its channel's events
// (called by route, under no lock).
func (g *Gateway) originateEvent(ch string, ev *ari.Event) {
	var res OriginateResult
	switch ev.Kind {
	case ari.KindStasisStart:
		res.Status = CallAnswered
	case ari.KindChannelDestroyed, ari.KindChannelHangupRequest:
		res.Cause = ev.Cause
		switch ev.Cause {
		case 17:
			res.Status = CallBusy
		case 18, 19, 21:
			res.Status = CallNoAnswer
		default:
			res.Status = CallFailed
		}
	case ari.KindDial:
		switch ev.DialStatus {
		case "BUSY":
			res.Status, res.Cause = CallBusy, 17
		case "NOANSWER":
			res.Status, res.Cause = CallNoAnswer, 19
		case "CHANUNAVAIL", "CONGESTION":
			res.Status = CallFailed
		default:
			return
		}
	default:
		return
	}
	g.mu.Lock()
	w := g.pending[ch]
	g.mu.Unlock()
	if w != nil {
		select {
		case w <- res:
		default: // already settled
		}
	}
}
