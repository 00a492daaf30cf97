package browser

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/cti"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/internal/ivr/tcpivr"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
	"github.com/eivr-gateway/eivr-gateway/liveview"
	"github.com/eivr-gateway/eivr-gateway/reorder"
	"github.com/eivr-gateway/eivr-gateway/test/internal/gwharness"
	"github.com/eivr-gateway/eivr-gateway/transcript"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	app   = "eivr"
	token = "live-view-s3cret"
)

// chromium returns the browser to run: $EIVR_CHROMIUM, else the first of
// Debian's and Google's names on PATH. Without one the test skips, unless
// EIVR_REQUIRE_BROWSER=1 (CI, which installs Debian's chromium): then it
// fails.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("EIVR_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("EIVR_REQUIRE_BROWSER") == "1" {
		t.Fatal("no Chromium on PATH (chromium, chromium-browser, google-chrome) and EIVR_REQUIRE_BROWSER=1: install Debian's chromium (.ci/run does) or set EIVR_CHROMIUM")
	}
	t.Skip("no Chromium on PATH (chromium, chromium-browser, google-chrome): the live view's browser test skips (CI installs it and sets EIVR_REQUIRE_BROWSER=1)")
	return ""
}

// hubFeed hands the gateway's sessions to the CTI hub, as the cmd's
// ctiObserver does (package main cannot be imported).
type hubFeed struct{ hub *cti.Hub }

func (f hubFeed) SessionStarted(s gateway.SessionInfo) {
	f.hub.Publish(cti.SessionEvent{Phase: cti.PhaseStarted, At: s.Started, App: s.App, Session: s.Session,
		Channel: s.Channel, ChannelName: s.ChannelName, CallerNumber: s.CallerNum, CallerName: s.CallerName,
		Target: s.Target, Argv: s.Argv, Options: s.Options})
}

func (f hubFeed) SessionLine(l gateway.WireLine) {
	f.hub.Publish(cti.SessionEvent{Phase: cti.PhaseLine, At: l.At, Session: l.Session, Channel: l.Channel, Sent: l.Sent, Line: l.Line})
}

func (f hubFeed) SessionPlayback(p gateway.PlaybackNote) {
	f.hub.Publish(cti.SessionEvent{Phase: cti.PhasePlayback, At: p.At, Session: p.Session, Channel: p.Channel,
		File: p.File, Started: p.Started, Interrupted: p.Interrupted})
}

func (f hubFeed) SessionEnded(r gateway.Report) {
	cause := ""
	if r.Cause != nil {
		cause = r.Cause.Error()
	}
	f.hub.Publish(cti.SessionEvent{Phase: cti.PhaseEnded, At: r.Started.Add(r.Duration), App: r.App, Session: r.Session,
		Channel: r.Channel, Served: r.Served, Status: r.Status, Cause: cause, Duration: r.Duration})
}

// TestLiveViewInBrowser: headless Chromium loads the live view, the token
// is typed into its form. A phone call's ARI events (as the CTI app gets
// them) show its caller, state and hold, then its end. A simulated call runs the bundled TCP menu
// (tcpivr), the caller presses 1 (the menu sets and reads MENU_CHOICE, a
// redacted variable), 4 (the menu appends digits/4) then 2 (the menu
// exits); between 1 and 4 the stream breaks and the page resumes with
// Last-Event-ID. The DOM shows the call with its caller, the digit lines
// of the exchange (each once), then the call ended; once the linger is
// over the call goes. Past MaxCalls the oldest ended call goes first, then
// the oldest live one. A screenshot of the ended call is written; its path is logged.
func TestLiveViewInBrowser(t *testing.T) {
	browser := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	// The CTI hub and the admin routes the live view needs: the page at /
	// and the stream at /v1/events, as on the admin listener.
	hub := cti.New(cti.Config{})
	hubCtx, stopHub := context.WithCancel(ctx)
	hubDone := make(chan struct{})
	go func() { defer close(hubDone); hub.Run(hubCtx) }()
	defer func() { stopHub(); <-hubDone }()
	var reqMu sync.Mutex
	var requests []string // an access log: the token must never be in it
	var resumes []string  // the Last-Event-ID of each stream request
	mux := http.NewServeMux()
	mux.Handle("GET /v1/events", &cti.Handler{Hub: hub, Token: func() string { return token }})
	const linger = 4 * time.Second
	const maxCalls = 3
	mux.Handle("/", liveview.Handler(liveview.Options{Linger: linger, MaxCalls: maxCalls}))
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqMu.Lock()
		requests = append(requests, r.Method+" "+r.URL.String())
		if r.URL.Path == "/v1/events" {
			resumes = append(resumes, r.Header.Get("Last-Event-ID"))
		}
		reqMu.Unlock()
		mux.ServeHTTP(w, r)
	}))
	defer admin.Close()
	defer admin.CloseClientConnections() // the browser's stream, if still open

	// The bundled TCP menu, in process.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ivrCtx, stopIVR := context.WithCancel(ctx)
	ivrDone := make(chan error, 1)
	go func() { ivrDone <- (&tcpivr.Server{}).Serve(ivrCtx, ln) }()
	defer func() { stopIVR(); <-ivrDone }()

	w := gwharness.Start(t, gwharness.Options{
		App:    app,
		Server: aritest.Options{Speed: 10},
		ARI:    ari.Config{BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond},
		Gateway: gateway.Config{
			Apps:          []gateway.AppConfig{{Name: app, TCPHosts: []string{"127.0.0.1:*"}, Grace: time.Second}},
			NoIdleSilence: true,
			// The transcripts' redaction, on the live view too.
			Observer: liveview.Redact(hubFeed{hub}, func(string) transcript.Redaction {
				return transcript.Redaction{Vars: []string{"MENU_CHOICE"}}
			}),
		},
		Connect: testwait.Long,
	})
	defer w.Close()

	// The browser.
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browser),
		chromedp.DisableGPU,
		chromedp.WindowSize(1100, 700),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	allocCtx, stopAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer stopAlloc()
	bctx, stopBrowser := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	defer stopBrowser()
	// run runs steps, bounded: each step of this test waits for the DOM.
	run := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, testwait.Long)
		defer cancel()
		if err := chromedp.Do(sctx, steps...); err != nil {
			t.Fatalf("browser: %s: %v\nlogs:\n%s", what, err, w.Logs.String())
		}
	}
	// The first Run starts the browser: on the context that lives as long
	// as the browser, not on a bounded one.
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", browser, err)
	}
	until := func(what, expr string) {
		t.Helper()
		sctx, cancel := context.WithTimeout(bctx, testwait.Long)
		defer cancel()
		if _, err := chromedp.Run(sctx, chromedp.Poll[bool](expr, chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(testwait.Long))); err != nil {
			dctx, cancel := context.WithTimeout(bctx, 5*time.Second)
			defer cancel()
			page, _ := chromedp.Run(dctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("browser: waiting until %s: %v\nthe page shows:\n%s\nlogs:\n%s", what, err, page, w.Logs.String())
		}
	}

	run("load the page and log in",
		chromedp.Navigate(admin.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("token")),
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.CSS(`#login button[type="submit"]`)),
	)
	until("the stream is live", `document.getElementById('status').textContent === 'live'`)

	// A phone call the CTI app watches (ARI events, no ExternalIVR): its
	// caller and channel state, hold, then its end.
	phone := "1764770000.7"
	chanEvent := func(ch, typ, state, extra string) {
		t.Helper()
		frame := fmt.Sprintf(`{"type":%q,"timestamp":%q,"application":"cti","asterisk_id":"aa:bb",`+
			`"channel":{"id":%q,"name":"PJSIP/2000-00000007","state":%q,"caller":{"name":"Bob","number":"2000"},"linkedid":%q}%s}`,
			typ, time.Now().Format("2006-01-02T15:04:05.000-0700"), ch, state, ch, extra)
		var ev ari.Event
		if err := ari.Decode([]byte(frame), &ev); err != nil {
			t.Fatalf("%s: %v", frame, err)
		}
		key := reorder.Key{AsteriskID: ev.AsteriskID, App: ev.Application}
		if ev.Kind != ari.KindOther {
			key.ChannelID = ev.Channel.ID
		}
		hub.Deliver(key, &ev)
	}
	ariEvent := func(typ, state, extra string) { t.Helper(); chanEvent(phone, typ, state, extra) }
	prow := fmt.Sprintf(`document.querySelector('article.call[data-channel="%s"]')`, phone)
	ariEvent("ChannelCreated", "Ring", "")
	ariEvent("ChannelStateChange", "Up", "")
	ariEvent("ChannelHold", "Up", "")
	until("the phone call shows its caller, state and hold", prow+` !== null && `+prow+`.querySelector('.caller').textContent === '"Bob" <2000>' && `+
		prow+`.querySelector('.name').textContent === 'PJSIP/2000-00000007' && `+prow+`.querySelector('.state').textContent === 'Up · on hold'`)
	ariEvent("ChannelUnhold", "Up", "")
	ariEvent("ChannelDestroyed", "Up", `,"cause":16,"cause_txt":"Normal Clearing"`)
	until("the phone call ends", prow+`.dataset.state === 'ended' && `+prow+`.querySelector('.cause').textContent === 'Normal Clearing'`)

	id := "1764770000.42"
	if _, err := w.Srv.StartCall(app, []string{"ivr://" + ln.Addr().String() + "(beep)"},
		aritest.CallOptions{ID: id, Name: "PJSIP/1000-0000002a", Caller: &aritest.CallerID{Name: "Alice", Number: "1000"}}); err != nil {
		t.Fatal(err)
	}
	row := fmt.Sprintf(`document.querySelector('article.call[data-channel="%s"]')`, id)
	until("the call appears with its caller", row+` !== null && `+row+`.querySelector('.caller').textContent === '"Alice" <1000>' && `+row+`.querySelector('.name').textContent === 'PJSIP/1000-0000002a'`)
	lines := `[...` + row + `.querySelectorAll('.lines li')].map(li => li.dataset.dir + ' ' + li.querySelector('code').textContent)`
	until("the menu's greeting played", lines+`.some(l => /^to F,\d+,beep$/.test(l))`)

	if err := w.Srv.PressDTMF(id, '1', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	until("the digit 1 and the menu's variable appear, its value redacted", lines+`.some(l => /^to 1,\d+$/.test(l)) && `+
		lines+`.some(l => l === 'from V,MENU_CHOICE=[redacted]') && `+lines+`.some(l => /^to G,\d+,MENU_CHOICE=\[redacted\]$/.test(l)) && `+
		lines+`.some(l => l === 'from S,beep')`)
	// The stream breaks: the page comes back with Last-Event-ID and
	// resumes where it was, nothing shown twice.
	admin.CloseClientConnections()
	w.Until("the page reconnects with Last-Event-ID", testwait.Long, func() bool {
		reqMu.Lock()
		defer reqMu.Unlock()
		return len(resumes) >= 2 && strings.HasPrefix(resumes[len(resumes)-1], hub.Epoch()+"-")
	})
	until("the page is live again", `document.getElementById('status').textContent === 'live'`)
	if err := w.Srv.PressDTMF(id, '4', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	until("the digit 4 and the menu's answer appear", lines+`.some(l => /^to 4,\d+$/.test(l)) && `+lines+`.some(l => l === 'from A,digits/4')`)
	if err := w.Srv.PressDTMF(id, '2', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	until("the digit 2 appears and the call ends, no variable's value shown, no line twice", lines+`.filter(l => /^to 1,\d+$/.test(l)).length === 1 && `+
		lines+`.filter(l => l === 'from V,MENU_CHOICE=[redacted]').length === 1 && `+`!`+row+`.textContent.includes('MENU_CHOICE=1') && `+lines+`.some(l => /^to 2,\d+$/.test(l)) && `+row+`.dataset.state === 'ended' && `+row+`.querySelector('.state').textContent === 'ended'`)
	if end := w.WaitEnd(id, testwait.Long); !end.Continued {
		t.Errorf("call end %+v: want it continued in the dialplan (E)", end)
	}

	sctx, cancelShot := context.WithTimeout(bctx, testwait.Long)
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	cancelShot()
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	dir, err := os.MkdirTemp("", "eivr-liveview-")
	if err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "live-view.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot of the live view: %s", shot)

	until("the ended call goes after its linger", row+` === null && !document.getElementById('empty').hidden`)

	// At most maxCalls calls: past it the oldest ended one goes first,
	// then the oldest live one.
	calls := `[...document.querySelectorAll('article.call')].map(a => a.dataset.channel + ':' + a.dataset.state).join(' ')`
	for _, ch := range []string{"p1", "p2", "p3"} {
		chanEvent(ch, "ChannelCreated", "Ring", "")
	}
	until("three calls", calls+` === 'p1:live p2:live p3:live'`)
	chanEvent("p2", "ChannelDestroyed", "Up", "")
	until("p2 ended", calls+` === 'p1:live p2:ended p3:live'`)
	chanEvent("p4", "ChannelCreated", "Ring", "")
	until("the ended p2 made room for p4", calls+` === 'p1:live p3:live p4:live'`)
	chanEvent("p5", "ChannelCreated", "Ring", "")
	until("the oldest live p1 made room for p5", calls+` === 'p3:live p4:live p5:live'`)

	sctx, cancelLoc := context.WithTimeout(bctx, testwait.Long)
	loc, err := chromedp.Run(sctx, chromedp.Location())
	cancelLoc()
	if err != nil {
		t.Fatal(err)
	}
	stopBrowser()
	admin.CloseClientConnections()
	if strings.Contains(loc, token) {
		t.Errorf("the token is in the page's URL %q", loc)
	}
	reqMu.Lock()
	seen := strings.Join(requests, "\n")
	reqMu.Unlock()
	if strings.Contains(seen, token) || strings.Contains(w.Logs.String(), token) {
		t.Errorf("the token reached a URL or the log:\n%s", seen)
	}
	if !strings.Contains(seen, "GET /v1/events") {
		t.Errorf("the page never read the stream:\n%s", seen)
	}
}
