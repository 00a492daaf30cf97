package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Environment of TestAsteriskCapacity (README, "Performance").
const (
	envAstURL  = "EIVR_ASTERISK_URL"          // ARI base URL, e.g. http://127.0.0.1:8088/ari
	envAstUser = "EIVR_ASTERISK_USER"         // default eivr
	envAstPass = "EIVR_ASTERISK_PASSWORD"     // default eivr-secret
	envAstDir  = "EIVR_ASTERISK_DIR"          // start.sh's DIR: DIR/asterisk.pid names the process measured
	envCapRuns = "EIVR_CAPACITY_RUNS"         // e.g. "native:100,gateway:100" (default: both at 100, 300, 1000)
	envCapHold = "EIVR_CAPACITY_HOLD"         // how long the calls are held while idle CPU is measured (default 5s)
	envCapCT   = "EIVR_CAPACITY_CALL_TIMEOUT" // the gateway's call_timeout (default 5s, config.toml's)
	envCapFmt  = "EIVR_CAPACITY_FORMATS"      // the originate's formats (default ulaw, a SIP phone's; "all" = Asterisk's default)
)

const (
	capHelper = "caphelper" // the ;1 halves
	capApp    = "capgw"     // the gateway's app
)

// procSample is Asterisk's CPU (utime+stime) and resident memory.
type procSample struct {
	CPU   time.Duration
	RSS   int64 // bytes
	Taken time.Time
}

// clkTck is USER_HZ: Linux reports /proc/PID/stat times in 1/100 s on
// every architecture Go runs on here.
const clkTck = 100

func readProc(pid int) (procSample, error) {
	s := procSample{Taken: time.Now()}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// The command name may hold spaces: the fields after it start past ")".
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64) // field 14
	st, err2 := strconv.ParseInt(f[12], 10, 64) // field 15
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("/proc/%d/stat: utime %q stime %q", pid, f[11], f[12])
	}
	s.CPU = time.Duration(ut+st) * time.Second / clkTck
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				return s, fmt.Errorf("VmRSS %q: %w", v, err)
			}
			s.RSS = kb << 10
		}
	}
	return s, nil
}

// capResult is one measured run.
type capResult struct {
	Mode                      string
	Calls                     int
	Setup, Held, After        procSample
	HoldEnd, Down             procSample
	SetupTime, DownTime       time.Duration
	GatewayCPU, GatewayRSSMax int64 // ns, bytes (gateway mode)
}

func (r capResult) String() string {
	n := float64(r.Calls)
	hold := r.HoldEnd.Taken.Sub(r.Held.Taken).Seconds()
	idle := (r.HoldEnd.CPU - r.Held.CPU).Seconds() / hold / n // CPU-s per call-second held
	// Net of the idle cost of the calls already up (set-up) or not yet
	// gone (tear-down), assuming they come and go at an even pace: on a
	// starved machine set-up and tear-down take seconds and that idle cost
	// would otherwise dominate both figures.
	setup, down := (r.Held.CPU - r.Setup.CPU).Seconds(), (r.Down.CPU - r.HoldEnd.CPU).Seconds()
	setupNet := setup - idle*n*r.SetupTime.Seconds()/2
	downNet := down - idle*n*r.DownTime.Seconds()/2
	s := fmt.Sprintf("%-7s %5d calls: Asterisk RSS +%.1f KiB/call (%.0f → %.0f MiB); CPU set-up %.2f ms/call (%v for all; %.2f net of idle), held idle %.2f %% of a core (%.1f µs/s per call), tear-down %.2f ms/call (%v; %.2f net of idle)",
		r.Mode, r.Calls, float64(r.Held.RSS-r.Setup.RSS)/n/1024, float64(r.Setup.RSS)/(1<<20), float64(r.Held.RSS)/(1<<20),
		1000*setup/n, r.SetupTime.Round(time.Millisecond), 1000*setupNet/n,
		100*idle*n, idle*1e6,
		1000*down/n, r.DownTime.Round(time.Millisecond), 1000*downNet/n)
	if r.Mode == "gateway" {
		s += fmt.Sprintf("; gateway process CPU %.2f ms/call, RSS max %.0f MiB", float64(r.GatewayCPU)/1e6/n, float64(r.GatewayRSSMax)/(1<<20))
	}
	return s
}

// TestAsteriskCapacity measures what moving to ARI costs Asterisk: N
// concurrent ivr:// calls on Local channels held by native ExternalIVR()
// ([native-test]) and through the gateway ([gateway-test], Stasis), the
// ivr:// server being this test (no process per call on either side).
// Asterisk's CPU (/proc/PID/stat) is read before the calls, when all are
// connected, after holding them idle and after they are gone; its RSS
// (/proc/PID/status) before and while held. Skipped without
// EIVR_ASTERISK_URL and EIVR_ASTERISK_DIR; figures are logged, never
// asserted; the test fails only if a call does not connect or stay.
// The calls are originated with formats=ulaw (EIVR_CAPACITY_FORMATS), as a
// SIP phone's would be. Set-up and tear-down CPU are also reported net of
// the idle cost of the calls held meanwhile.
// For clean RSS figures run one mode and size per fresh Asterisk
// (EIVR_CAPACITY_RUNS, README "Performance").
func TestAsteriskCapacity(t *testing.T) {
	base, dir := os.Getenv(envAstURL), os.Getenv(envAstDir)
	if base == "" || dir == "" {
		t.Skipf("%s and %s not set", envAstURL, envAstDir)
	}
	user, pass := cmp(os.Getenv(envAstUser), "eivr"), cmp(os.Getenv(envAstPass), "eivr-secret")
	pidb, err := os.ReadFile(filepath.Join(dir, "asterisk.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(pidb)))
	if err != nil {
		t.Fatal(err)
	}
	hold := 5 * time.Second
	if v := os.Getenv(envCapHold); v != "" {
		if hold, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	// Without formats a Local channel is created with every audio format
	// and picks signed linear at 192 kHz: each 20 ms frame of the silence
	// generator (native ExternalIVR and the gateway's silence alike) is then
	// resampled 8 -> 192 kHz by codec_resample, about 15 ms of CPU per call
	// and second (perf, 22.10.1), which no SIP call pays.
	formats := cmp(os.Getenv(envCapFmt), "ulaw")
	if formats == "all" {
		formats = ""
	}
	runs := cmp(os.Getenv(envCapRuns), "native:100,gateway:100,native:300,gateway:300,native:1000,gateway:1000")

	// The helper app holds the ;1 halves; its events are read and dropped.
	u, _ := url.Parse(base)
	wsURL := "ws://" + u.Host + u.Path + "/events?" + url.Values{"api_key": {user + ":" + pass}, "app": {capHelper}}.Encode()
	ws, _, err := websocket.DefaultDialer.Dial(wsURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	wsDone := make(chan struct{})
	go func() {
		defer close(wsDone)
		for {
			if _, _, err := ws.NextReader(); err != nil {
				return
			}
		}
	}()
	defer func() { ws.Close(); <-wsDone }()

	// The ivr:// server: accepts every call and holds it until told.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns := &connSet{m: map[net.Conn]struct{}{}}
	var accepted atomic.Int64
	acceptDone := make(chan struct{})
	go func() {
		defer close(acceptDone)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns.add(c)
			accepted.Add(1)
		}
	}()
	defer func() { ln.Close(); <-acceptDone; conns.closeAll() }()

	var callTimeout time.Duration
	if v := os.Getenv(envCapCT); v != "" {
		if callTimeout, err = time.ParseDuration(v); err != nil {
			t.Fatal(err)
		}
	}
	logs := &lockedBuffer{}
	gw, err := startChild(childConfig{URL: base, User: user, Password: pass, App: capApp, TCPHosts: []string{"127.0.0.1:*"},
		CallTimeout: callTimeout}, logs)
	if err != nil {
		t.Fatal(err)
	}
	defer gw.stop()

	// Keep the 8 originate workers' connections alive: with the default 2 idle
	// per host the test itself would open and close connections (a thread
	// each in Asterisk's HTTP server) during the set-up it measures.
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer hc.CloseIdleConnections()
	ari := func(method, path string, body any) (int, []byte, error) {
		var rb []byte
		if body != nil {
			rb, _ = json.Marshal(body)
		}
		req, _ := http.NewRequest(method, base+path, bytes.NewReader(rb))
		req.SetBasicAuth(user, pass)
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return resp.StatusCode, b.Bytes(), nil
	}
	channels := func() (int, error) {
		code, b, err := ari("GET", "/channels", nil)
		if err != nil || code != 200 {
			return 0, fmt.Errorf("GET /channels: %d %v", code, err)
		}
		var cs []struct{ ID string }
		err = json.Unmarshal(b, &cs)
		return len(cs), err
	}
	ctx := context.Background()
	var results []capResult
	exten := 1000
	for run := range strings.SplitSeq(runs, ",") {
		mode, ns, _ := strings.Cut(strings.TrimSpace(run), ":")
		n, err := strconv.Atoi(ns)
		if err != nil || n <= 0 || (mode != "native" && mode != "gateway") {
			t.Fatalf("%s: bad run %q", envCapRuns, run)
		}
		if c, err := channels(); err != nil || c != 0 {
			t.Fatalf("%d channels before the run (%v)", c, err)
		}
		r := capResult{Mode: mode, Calls: n}
		accepted.Store(0)
		g0, err := gw.stats()
		if err != nil {
			t.Fatal(err)
		}
		if r.Setup, err = readProc(pid); err != nil {
			t.Fatal(err)
		}
		dialplan := map[string]string{"native": "native-test", "gateway": "gateway-test"}[mode]
		target := "ivr://" + ln.Addr().String() + "(cap)"
		work := make(chan int)
		var wg sync.WaitGroup
		var origErr atomic.Pointer[string]
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for e := range work {
					q := url.Values{"endpoint": {fmt.Sprintf("Local/%d@%s/n", e, dialplan)}, "app": {capHelper}}
					if formats != "" {
						q.Set("formats", formats)
					}
					code, b, err := ari("POST", "/channels?"+q.Encode(), map[string]any{"variables": map[string]string{
						"__GW_APP": capApp, "__GW_TARGET": target}})
					if err != nil || code != 200 {
						s := fmt.Sprintf("originate: %d %s %v", code, b, err)
						origErr.CompareAndSwap(nil, &s)
					}
				}
			}()
		}
		for i := range n {
			work <- exten + i
		}
		close(work)
		wg.Wait()
		exten += n
		if e := origErr.Load(); e != nil {
			t.Fatal(*e)
		}
		if err := waitFor(ctx, 3*time.Minute, func() bool { return accepted.Load() >= int64(n) }); err != nil {
			t.Fatalf("%s %d: %d of %d calls reached the ivr server: %v\n%s", mode, n, accepted.Load(), n, err, logs)
		}
		if r.Held, err = readProc(pid); err != nil {
			t.Fatal(err)
		}
		r.SetupTime = r.Held.Taken.Sub(r.Setup.Taken)
		// Idle hold: a measurement window, nothing waits on it.
		time.Sleep(hold)
		if r.HoldEnd, err = readProc(pid); err != nil {
			t.Fatal(err)
		}
		if c, err := channels(); err != nil || c != 2*n {
			t.Errorf("%s %d: %d channels while held, want %d (%v)", mode, n, c, 2*n, err)
		}
		conns.closeAll() // every script ends: the calls hang up
		if err := waitFor(ctx, time.Minute, func() bool { c, err := channels(); return err == nil && c == 0 }); err != nil {
			t.Fatalf("%s %d: channels left: %v\ngateway logs:\n%s", mode, n, err, logs)
		}
		if r.Down, err = readProc(pid); err != nil {
			t.Fatal(err)
		}
		r.DownTime = r.Down.Taken.Sub(r.HoldEnd.Taken)
		if mode == "gateway" {
			if err := waitFor(ctx, time.Minute, func() bool { s, err := gw.stats(); return err != nil || s.Sessions == 0 }); err != nil {
				t.Fatalf("gateway sessions left: %v", err)
			}
			g1, err := gw.stats()
			if err != nil {
				t.Fatal(err)
			}
			r.GatewayCPU, r.GatewayRSSMax = int64(g1.CPU-g0.CPU), g1.MaxRSSKiB<<10
		}
		t.Log(r)
		results = append(results, r)
	}
	var b strings.Builder
	for _, r := range results {
		fmt.Fprintln(&b, r)
	}
	if la, err := os.ReadFile("/proc/loadavg"); err == nil {
		fmt.Fprintf(&b, "load average %s", la)
	}
	t.Logf("\n%s", b.String())
}

func cmp(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
