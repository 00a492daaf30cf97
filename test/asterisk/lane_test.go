package asterisk

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"
)

// Environment of the lane (README, "The real-Asterisk lane").
const (
	envURL      = "EIVR_ASTERISK_URL"      // ARI base URL, e.g. http://127.0.0.1:8088/ari
	envUser     = "EIVR_ASTERISK_USER"     // default eivr
	envPassword = "EIVR_ASTERISK_PASSWORD" // default eivr-secret
	envRequire  = "EIVR_REQUIRE_ASTERISK"  // 1: a skipped lane test fails
	envCases    = "EIVR_LANE_CASES"        // generated sequences (default 6 under -short, 20 without)
	envSeed     = "EIVR_LANE_SEED"         // first seed of the generated sequences (default 1)
	envParallel = "EIVR_LANE_PARALLEL"     // scenarios run at once (default 6)
	envListen   = "EIVR_LISTEN_PORT"       // the outbound gateway's listen port (websocket_client.conf's uri)
)

const (
	helperApp = "lanehelper" // our own app: the ;1 halves and subscribeAll
	gwApp     = "lanegw"     // the gateway's app
	outApp    = "lanegwout"  // the outbound gateway's app (ari.conf [lane-out], per call)
	persApp   = "lanegwpers" // its app on a persistent connection (ari.conf [lane-pers])
	// websocket_client.conf [lane-percall]'s credentials.
	outUser, outPassword = "lane", "lane-outbound-secret"
)

// lane is the shared set-up: one Asterisk, one gateway process, one helper
// ARI connection. nil (with skipReason) when no Asterisk is configured.
var lane *Lane

var skipReason string

// Lane holds what every scenario run shares.
type Lane struct {
	base, user, pass string
	relay            string // absolute path of this test binary (stdio relay)
	sounds           string // Asterisk's sounds directory (${ASTDATADIR}/sounds)
	http             *http.Client
	ws               *websocket.Conn
	gw               *exec.Cmd
	gwLog            string
	gwDone           chan struct{}
	bin              string // the built eivr-gateway
	exten            atomic.Int64

	// The gateway in listener mode (outbound side), when EIVR_LISTEN_PORT
	// is set; nil with outSkip saying why.
	outPort string
	outConf string
	outLog  string
	out     *gwProc
	outSkip string

	mu   sync.Mutex
	runs map[string]*callEvents // by extension
	done chan struct{}
}

func TestMain(m *testing.M) {
	if len(os.Args) >= 3 && os.Args[1] == relayArg {
		os.Exit(relay(os.Args[2]))
	}
	code := func() int {
		if fuzzing() {
			// A fuzz run needs no Asterisk, and its worker processes run
			// TestMain too: a second outbound gateway on the lane's fixed
			// listen port would fail and kill the worker.
			skipReason = "fuzzing: the lane is not set up"
			return m.Run()
		}
		l, err := setUp()
		if err != nil {
			fmt.Fprintln(os.Stderr, "test/asterisk:", err)
			return 1
		}
		lane = l
		if l != nil {
			defer l.close()
		}
		return m.Run()
	}()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// fuzzing reports whether this process is a fuzz coordinator or worker.
func fuzzing() bool {
	for _, a := range os.Args[1:] {
		if strings.HasPrefix(a, "-test.fuzz") {
			return true
		}
	}
	return false
}

// need returns the lane or skips t (fails it under EIVR_REQUIRE_ASTERISK=1).
func need(t *testing.T) *Lane {
	t.Helper()
	if lane == nil {
		if os.Getenv(envRequire) == "1" {
			t.Fatalf("%s=1 but no Asterisk: %s", envRequire, skipReason)
		}
		t.Skip(skipReason)
	}
	return lane
}

func setUp() (*Lane, error) {
	base := os.Getenv(envURL)
	if base == "" {
		skipReason = "no real Asterisk: set " + envURL + "=http://HOST:PORT/ari (README: The real-Asterisk lane)"
		return nil, nil
	}
	l := &Lane{
		base: strings.TrimRight(base, "/"),
		user: envOr(envUser, "eivr"), pass: envOr(envPassword, "eivr-secret"),
		http: &http.Client{Timeout: 10 * time.Second},
		runs: map[string]*callEvents{}, done: make(chan struct{}),
	}
	l.exten.Store(int64(time.Now().UnixNano()/1e6%1e6) * 1000)
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("relay path: %w", err)
	}
	if l.relay, err = filepath.EvalSymlinks(exe); err != nil {
		return nil, fmt.Errorf("relay path: %w", err)
	}
	if err := l.connect(); err != nil {
		return nil, err
	}
	b, err := l.rest(context.Background(), "GET", "/asterisk/variable", url.Values{"variable": {"ASTDATADIR"}}, nil)
	if err != nil {
		l.close()
		return nil, err
	}
	var v struct{ Value string }
	if err := json.Unmarshal(b, &v); err != nil || v.Value == "" {
		l.close()
		return nil, fmt.Errorf("ASTDATADIR from ARI: %q %v", b, err)
	}
	l.sounds = v.Value + "/sounds"
	if err := l.startGateway(); err != nil {
		l.close()
		return nil, err
	}
	if l.outPort = os.Getenv(envListen); l.outPort == "" {
		l.outSkip = "no outbound gateway: set " + envListen + " to the port of websocket_client.conf's uri (test/asterisk/conf; .ci/run does)"
	} else if err := l.startOutbound(); err != nil {
		l.close()
		return nil, err
	}
	return l, nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// connect opens the helper's events socket with subscribeAll, so that the
// dialplan (ChannelDialplan), variables (ChannelVarset), DTMF and ends of
// every channel of every run reach us, native and gateway alike.
func (l *Lane) connect() error {
	u, err := url.Parse(l.base + "/events")
	if err != nil {
		return fmt.Errorf("%s: %w", envURL, err)
	}
	u.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	u.RawQuery = url.Values{"api_key": {l.user + ":" + l.pass}, "app": {helperApp}, "subscribeAll": {"true"}}.Encode()
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.Dial(u.String(), nil)
	if resp != nil && resp.Body != nil {
		resp.Body.Close()
	}
	if err != nil {
		return fmt.Errorf("ARI events %s: %w", l.base, err)
	}
	l.ws = ws
	go l.readEvents()
	return nil
}

// event is the part of an ARI event the lane looks at.
type event struct {
	Type       string   `json:"type"`
	Channel    *channel `json:"channel"`
	Peer       *channel `json:"peer"`
	Variable   string   `json:"variable"`
	Value      string   `json:"value"`
	Cause      int      `json:"cause"`
	Digit      string   `json:"digit"`
	App        string   `json:"dialplan_app"`
	AppData    string   `json:"dialplan_app_data"`
	DialStatus string   `json:"dialstatus"`
	Args       []string `json:"args"`
	Recv       time.Time
}

type channel struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	State string `json:"state"`
}

var extenOf = regexp.MustCompile(`^Local/(\d+)@([a-z-]+)-[0-9a-f]+;([12])$`)

func (l *Lane) readEvents() {
	defer close(l.done)
	for {
		_, data, err := l.ws.ReadMessage()
		if err != nil {
			return
		}
		now := time.Now()
		var e event
		if json.Unmarshal(data, &e) != nil {
			continue
		}
		e.Recv = now
		for _, c := range []*channel{e.Channel, e.Peer} {
			if c == nil {
				continue
			}
			m := extenOf.FindStringSubmatch(c.Name)
			if m == nil {
				continue
			}
			l.mu.Lock()
			r := l.runs[m[1]]
			l.mu.Unlock()
			if r != nil {
				r.add(e)
			}
			break
		}
	}
}

func (l *Lane) close() {
	if l.out != nil {
		l.out.stop()
	}
	if l.gw != nil {
		l.gw.Process.Signal(syscall.SIGTERM)
		select {
		case <-l.gwDone:
		case <-time.After(40 * time.Second):
			l.gw.Process.Kill()
			<-l.gwDone
		}
	}
	if l.ws != nil {
		l.ws.Close()
		<-l.done
	}
	l.http.CloseIdleConnections()
}

// rest calls ARI and returns the body; a status >= 300 is an error.
func (l *Lane) rest(ctx context.Context, method, path string, query url.Values, body any) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	u := l.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(l.user, l.pass)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := l.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("ARI %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return b, fmt.Errorf("ARI %s %s: %w: %d %s", method, path, errStatus, resp.StatusCode, bytes.TrimSpace(b))
	}
	return b, nil
}

var errStatus = errors.New("HTTP status")

// startGateway builds cmd/eivr-gateway and runs it as a user would:
// `eivr-gateway run --config <generated toml>` against the same ARI, its
// app allowing this test binary (the stdio relay) and ivr://127.0.0.1:*.
func (l *Lane) startGateway() error {
	dir, err := os.MkdirTemp("", "eivr-lane-gw-")
	if err != nil {
		return err
	}
	bin := filepath.Join(dir, "eivr-gateway")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("building eivr-gateway: %w\n%s", err, out)
	}
	conf := fmt.Sprintf(`[ari]
urls = [%q]
username = %q

[[app]]
name = %q
programs = [%q]
tcp_hosts = ["127.0.0.1:*"]
grace = "5s"

[admin]
listen = ""

[log]
level = "debug"
format = "json"
`, l.base, l.user, gwApp, l.relay)
	cf := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cf, []byte(conf), 0o600); err != nil {
		return err
	}
	l.bin = bin
	l.gwLog = filepath.Join(dir, "gateway.log")
	p, err := l.spawn(cf, l.gwLog)
	if err != nil {
		return err
	}
	l.gw, l.gwDone = p.cmd, p.done
	// Ready when Asterisk knows the app (the gateway subscribed to it).
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := l.rest(ctx, "GET", "/applications/"+gwApp, nil, nil); err == nil {
			return nil
		}
		select {
		case <-l.gwDone:
			return fmt.Errorf("eivr-gateway exited at start-up; log %s:\n%s", l.gwLog, tail(l.gwLog, 20))
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("eivr-gateway did not subscribe %s within 30 s; log:\n%s", gwApp, tail(l.gwLog, 20))
		}
	}
}

// gwProc is one eivr-gateway process.
type gwProc struct {
	cmd  *exec.Cmd
	done chan struct{} // closed when it exited
}

// spawn runs `eivr-gateway run --config conf`, its output appended to
// logPath.
func (l *Lane) spawn(conf, logPath string) (*gwProc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(l.bin, "run", "--config", conf)
	cmd.Env = append(os.Environ(), "EIVR_ARI_PASSWORD="+l.pass)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("starting eivr-gateway: %w", err)
	}
	p := &gwProc{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// stop ends the process as an operator does (SIGTERM: drain, exit).
func (p *gwProc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(40 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// startOutbound runs the second gateway, in listener mode on
// 127.0.0.1:EIVR_LISTEN_PORT, the address Asterisk's per-call WebSockets
// of app lanegwout dial (test/asterisk/conf). REST that Asterisk holds
// goes over HTTP (rest = "split"), as the README recommends.
func (l *Lane) startOutbound() error {
	dir := filepath.Dir(l.gwLog)
	conf := fmt.Sprintf(`[listen]
address = "127.0.0.1:%s"
path = "/ari"

[[listen.asterisk]]
name = "lane"
username = %q
password = %q
rest = "split"
ari_url = %q

[ari]
username = %q

[[app]]
name = %q
programs = [%q]
tcp_hosts = ["127.0.0.1:*"]
grace = "5s"

[[app]]
name = %q
programs = [%q]
tcp_hosts = ["127.0.0.1:*"]
grace = "5s"

[admin]
listen = ""

[log]
level = "debug"
format = "json"
`, l.outPort, outUser, outPassword, l.base, l.user, outApp, l.relay, persApp, l.relay)
	l.outConf = filepath.Join(dir, "config-out.toml")
	if err := os.WriteFile(l.outConf, []byte(conf), 0o600); err != nil {
		return err
	}
	l.outLog = filepath.Join(dir, "gateway-out.log")
	return l.runOutbound()
}

// runOutbound starts the listener gateway and waits until Asterisk's
// persistent connection (lane-persistent, redialled every second) reached
// it: the new instance logs its ApplicationRegistered for lanegwpers.
// (Per-call sockets Asterisk still held for ended calls may reach it
// first: Asterisk redials them too.)
func (l *Lane) runOutbound() error {
	var from int64
	if fi, err := os.Stat(l.outLog); err == nil {
		from = fi.Size()
	}
	p, err := l.spawn(l.outConf, l.outLog)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(l.outLog); err == nil && int64(len(b)) >= from && persRegistered(b[from:]) {
			l.out = p
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("eivr-gateway (listener mode) exited at start-up; log %s:\n%s", l.outLog, tail(l.outLog, 20))
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			p.stop()
			return fmt.Errorf("eivr-gateway (listener mode) on port %s: no persistent connection from Asterisk within 30 s (websocket_client.conf [lane-persistent]); log:\n%s", l.outPort, tail(l.outLog, 20))
		}
	}
}

// persRegistered reports whether a gateway log shows Asterisk's
// persistent connection registered (app lanegwpers).
func persRegistered(log []byte) bool {
	for _, line := range bytes.Split(log, []byte("\n")) {
		var e struct{ Msg, App string }
		if json.Unmarshal(line, &e) == nil && e.Msg == "ari listener: application registered" && e.App == persApp {
			return true
		}
	}
	return false
}

// restartOutbound stops the listener gateway (SIGTERM) and starts a new
// one on the same port.
func (l *Lane) restartOutbound() error {
	l.out.stop()
	l.out = nil
	return l.runOutbound()
}

// needOut returns the lane with its outbound gateway, or skips t (fails
// it under EIVR_REQUIRE_ASTERISK=1).
func needOut(t *testing.T) *Lane {
	t.Helper()
	l := need(t)
	if l.out == nil {
		if os.Getenv(envRequire) == "1" {
			t.Fatalf("%s=1 but %s", envRequire, l.outSkip)
		}
		t.Skip(l.outSkip)
	}
	return l
}

// tail returns the last n lines of a file.
func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// gwLogFor returns the gateway's log lines naming a channel id.
func (l *Lane) gwLogFor(id string) string {
	if id == "" {
		return ""
	}
	b, _ := os.ReadFile(l.gwLog)
	if l.outLog != "" {
		ob, _ := os.ReadFile(l.outLog)
		b = append(b, ob...)
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, id) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
