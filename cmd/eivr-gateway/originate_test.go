package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

func callServer(t *testing.T, orig originator) (*callService, *httptest.Server) {
	t.Helper()
	cfg := config.Default()
	cfg.Admin.Token = "tok"
	cfg.Apps[0].Programs = []string{"/opt/ivr/*"}
	cfg.Apps[0].TCPHosts = []string{"ivr.example:3000"}
	c := &callService{s: &server{cfg: cfg}, originate: orig, inFlight: map[string]bool{}}
	ts := httptest.NewServer(c)
	t.Cleanup(ts.Close)
	return c, ts
}

func post(t *testing.T, url, token, body string) (int, callResponse) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableKeepAlives: true}}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var res callResponse
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, res
}

func TestCallsRefusals(t *testing.T) {
	placed := 0
	var got gateway.OriginateRequest
	orig := func(ctx context.Context, r gateway.OriginateRequest) (gateway.OriginateResult, error) {
		switch {
		case strings.HasPrefix(r.AppData, "/bin/"):
			return gateway.OriginateResult{}, fmt.Errorf("%w: program %s is not in programs", gateway.ErrDenied, r.AppData)
		case strings.HasPrefix(r.AppData, "/drain"):
			return gateway.OriginateResult{}, gateway.ErrDraining
		}
		placed++
		got = r
		return gateway.OriginateResult{Status: gateway.CallAnswered, ChannelID: "c1"}, nil
	}
	_, ts := callServer(t, orig)
	tests := []struct {
		name, token, body string
		code              int
		errPart           string
	}{
		{"no token", "", `{"endpoint":"PJSIP/1","run":"/opt/ivr/menu"}`, 401, "bearer token"},
		{"wrong token", "nope", `{"endpoint":"PJSIP/1","run":"/opt/ivr/menu"}`, 401, "bearer token"},
		{"unknown field", "tok", `{"endpoint":"PJSIP/1","run":"/opt/ivr/menu","prio":1}`, 400, "unknown field"},
		{"no endpoint", "tok", `{"run":"/opt/ivr/menu"}`, 400, "endpoint"},
		{"bad run", "tok", `{"endpoint":"PJSIP/1","run":"/opt/ivr/menu(a"}`, 400, "missing closing parenthesis"},
		{"not allowed", "tok", `{"endpoint":"PJSIP/1","run":"/bin/sh(-c,id)"}`, 403, "is not in programs"},
		{"draining", "tok", `{"endpoint":"PJSIP/1","run":"/drain"}`, 503, "draining"},
		{"unknown app", "tok", `{"endpoint":"PJSIP/1","run":"/opt/ivr/menu","app":"x"}`, 400, `no [[app]] named "x"`},
		{"bad timeout", "tok", `{"endpoint":"PJSIP/1","run":"/opt/ivr/menu","timeout":"soon"}`, 400, "timeout"},
	}
	for _, tt := range tests {
		code, res := post(t, ts.URL, tt.token, tt.body)
		if code != tt.code || res.Status != callRefused || !strings.Contains(res.Error, tt.errPart) {
			t.Errorf("%s: %d %+v, want %d refused with %q", tt.name, code, res, tt.code, tt.errPart)
		}
	}
	if placed != 0 {
		t.Errorf("%d calls placed by refused requests", placed)
	}
	code, res := post(t, ts.URL, "tok", `{"endpoint":"PJSIP/1","run":"ivr://ivr.example:3000(x),n","caller_id":"IVR <100>","timeout":"12s"}`)
	if code != 201 || res.Status != callAnswered || res.Channel != "c1" || placed != 1 {
		t.Errorf("allowed call: %d %+v (placed %d)", code, res, placed)
	}
	want := gateway.OriginateRequest{App: "eivr", Endpoint: "PJSIP/1", AppData: "ivr://ivr.example:3000(x),n", CallerID: "IVR <100>", Timeout: 12 * time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("gateway got %+v, want %+v", got, want)
	}
}

func TestCallsDuplicateDestination(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	orig := func(ctx context.Context, r gateway.OriginateRequest) (gateway.OriginateResult, error) {
		started <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return gateway.OriginateResult{Status: gateway.CallBusy, Cause: 17}, nil
	}
	_, ts := callServer(t, orig)
	first := make(chan int, 1)
	go func() {
		code, _ := post(t, ts.URL, "tok", `{"endpoint":"PJSIP/1000","run":"/opt/ivr/menu"}`)
		first <- code
	}()
	select {
	case <-started:
	case <-time.After(testwait.Long):
		t.Fatal("first call not placed")
	}
	code, res := post(t, ts.URL, "tok", `{"endpoint":"pjsip/1000","run":"/opt/ivr/other"}`)
	if code != 409 || !strings.Contains(res.Error, "already in progress") {
		t.Errorf("second call to the same destination: %d %+v, want 409", code, res)
	}
	close(release)
	if code := <-first; code != 502 {
		t.Errorf("busy call: HTTP %d, want 502", code)
	}
	// Once the first call is over, the destination can be called again.
	code, _ = post(t, ts.URL, "tok", `{"endpoint":"PJSIP/1000","run":"/opt/ivr/menu"}`)
	<-started
	if code != 502 {
		t.Errorf("call after the first ended: %d", code)
	}
}

func TestCallsDisabled(t *testing.T) {
	c, ts := callServer(t, nil)
	code, res := post(t, ts.URL, "tok", `{"endpoint":"PJSIP/1","run":"/opt/ivr/menu"}`)
	if code != 501 || res.Status != callRefused {
		t.Errorf("without an originator: %d %+v, want 501", code, res)
	}
	c.s.(*server).cfg.Admin.Token = ""
	code, res = post(t, ts.URL, "tok", `{"endpoint":"PJSIP/1","run":"/opt/ivr/menu"}`)
	if code != 403 || !strings.Contains(res.Error, "admin.token") {
		t.Errorf("without a token configured: %d %+v", code, res)
	}
}
