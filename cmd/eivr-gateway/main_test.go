package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if binDir != "" {
			os.RemoveAll(binDir)
		}
	}))
}

const repoRoot = "../.."

var (
	buildOnce sync.Once
	binDir    string
	binErr    error
)

// binary builds eivr-gateway once per test run, as a user would
// (CGO_ENABLED=0, one static binary).
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "eivr-gateway-test-")
		if binErr != nil {
			return
		}
		// Twice at most: a build cache shared with concurrent builds can
		// fail one attempt with "could not import ... (open : no such file)".
		for range 2 {
			cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, "eivr-gateway"), ".")
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
			out, err := cmd.CombinedOutput()
			if err == nil {
				binErr = nil
				break
			}
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "eivr-gateway")
}

type result struct {
	stdout, stderr string
	code           int
}

// runBin runs the binary in dir with args and returns its output and exit
// status; it fails the test if it runs longer than timeout.
func runBin(t *testing.T, dir string, timeout time.Duration, env []string, args ...string) result {
	t.Helper()
	bin := binary(t) // the build (slow on a busy machine) is not part of the run's time
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("eivr-gateway %q did not finish within %v\nstdout:\n%s\nstderr:\n%s", args, timeout, out.String(), errb.String())
	}
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{out.String(), errb.String(), code}
}

func TestVersion(t *testing.T) {
	r := runBin(t, t.TempDir(), 30*time.Second, nil, "version")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "eivr-gateway ") || !strings.Contains(r.stdout, "github.com/eivr-gateway/eivr-gateway") ||
		!strings.Contains(r.stdout, "CGO_ENABLED=0") {
		t.Errorf("version: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestUnknownCommand(t *testing.T) {
	r := runBin(t, t.TempDir(), 30*time.Second, nil, "frobnicate")
	if r.code != 2 || !strings.Contains(r.stderr, `unknown command "frobnicate"`) || !strings.Contains(r.stderr, "migrate") {
		t.Errorf("exit %d, stderr:\n%s", r.code, r.stderr)
	}
}

// The demo, as the README runs it: it finishes, exits 0, and its transcript
// shows the menu flow.
// The built binary runs the demo from a directory outside the repository
// (the scripts are embedded), shows both directions of each script's wire,
// and leaves nothing behind in its temporary directory.
func TestDemo(t *testing.T) {
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("perl is not installed (TestDemoWithoutPerl covers that)")
	}
	speed := "5"
	if testing.Short() {
		speed = "50"
	}
	tmp := t.TempDir()
	r := runBin(t, t.TempDir(), time.Minute, []string{"TMPDIR=" + tmp}, "demo", "--speed", speed)
	if r.code != 0 {
		t.Fatalf("demo: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		`allowed    programs ["` + tmp + "/eivr-demo-",
		"── call 1: the Perl menu over stdio",
		"gateway   answer",
		"script    → O,autoclear",
		"script    → S,hello-world",
		"gateway   play sound:hello-world",
		"caller    presses 1",
		"script    ← 1,",
		"script    → V,MENU_CHOICE=1",
		"script    → G,MENU_CHOICE",
		"gateway   set MENU_CHOICE=1",
		"script    ← G,",
		",MENU_CHOICE=1",
		"gateway   play sound:beep",
		"script    → E,menu-exit",
		"gateway   continue in the dialplan",
		"── call 2: the TCP menu (ivr://)",
		"script    → P,args",
		"script    ← P,",
		"script    → S,tt-monkeys",
		"script    → A,digits/4",
		"gateway   play sound:digits/4",
		"script    → H,menu-hangup",
		"session   application denied by the allow-list",
		"summary: 4 calls",
		"✓ call 1: the dialplan continues after Stasis()",
		"✓ call 2: hung up",
		"✓ call 3: hung up",
		"✓ call 4: hung up",
		`eivr_sessions_started_total{app="eivr"} 3`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Error("colour codes in a transcript that is not on a terminal")
	}
	if left, err := os.ReadDir(tmp); err != nil || len(left) != 0 {
		t.Errorf("the demo left %v in its temporary directory (%v)", left, err)
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}

// Without perl on PATH the demo says so once, skips the menu.pl calls and
// runs the others.
func TestDemoWithoutPerl(t *testing.T) {
	noPerl := t.TempDir() // an empty PATH directory
	r := runBin(t, t.TempDir(), time.Minute, []string{"PATH=" + noPerl}, "demo", "--speed", "50")
	if r.code != 0 {
		t.Fatalf("demo: exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	if n := strings.Count(r.stdout, "perl is not installed"); n != 1 {
		t.Errorf("%d lines say perl is not installed, want 1", n)
	}
	for _, want := range []string{"── call 2: the TCP menu", "script    → P,args", "summary: 2 calls", "✓ call 2: hung up", "✓ call 4: hung up"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("transcript lacks %q", want)
		}
	}
	for _, unwanted := range []string{"── call 1", "── call 3", "menu.pl("} {
		if strings.Contains(r.stdout, unwanted) {
			t.Errorf("transcript has %q without perl", unwanted)
		}
	}
	if t.Failed() {
		t.Logf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// check catches a bad key and a wrong type, with their line numbers.
func TestCheckBadConfig(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "gw.toml", `# a config with two mistakes
[ari]
urls = ["http://127.0.0.1:1/ari"]
pasword = "secret"

[limits]
event_queue = "256"
`)
	r := runBin(t, dir, 30*time.Second, nil, "check", "--config", p)
	if r.code == 0 {
		t.Fatalf("check passed a bad config:\n%s", r.stdout)
	}
	for _, want := range []string{
		"✗ config " + p,
		p + ":4:1: ari.pasword: unknown key",
		p + ":7:15: limits.event_queue: wrong type: got a TOML string, want an integer",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check output lacks %q:\n%s", want, r.stdout)
		}
	}
}

func TestCheckValidation(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "gw.toml", "[[app]]\nname = \"ivr\"\nprograms = [\"menu.pl\"]\n")
	r := runBin(t, dir, 30*time.Second, nil, "check", "--config", p, "--log-level", "loud")
	if r.code != 1 || !strings.Contains(r.stdout, p+":3:1: app[0].programs[0]: \"menu.pl\" is not absolute") ||
		!strings.Contains(r.stdout, `--log-level: log.level: "loud": want debug, info, warn or error`) {
		t.Errorf("exit %d:\n%s", r.code, r.stdout)
	}
}

func newSim(t *testing.T, speed float64) *aritest.Server {
	t.Helper()
	sim, err := aritest.NewServer(aritest.Options{Speed: speed})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(sim.Close)
	return sim
}

func menuPath(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join(repoRoot, "internal", "ivr", "menu.pl"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("perl is not installed")
	}
	return p
}

// check probes a reachable Asterisk over REST only and checks the programs.
func TestCheckProbes(t *testing.T) {
	sim := newSim(t, 20)
	dir := t.TempDir()
	cfg := fmt.Sprintf("[ari]\nurls = [%q]\npassword = \"asterisk\"\n[[app]]\nname = \"eivr\"\nprograms = [%q, \"/nonexistent/ivr.pl\"]\ntcp_hosts = [\"localhost:2949\"]\n", sim.URL(), menuPath(t))
	p := writeFile(t, dir, "gw.toml", cfg)
	r := runBin(t, dir, 30*time.Second, nil, "check", "--config", p)
	for _, want := range []string{
		"✓ config " + p + ": valid",
		"✓ app eivr: program " + menuPath(t) + " is executable",
		"✗ app eivr: program /nonexistent/ivr.pl: no such file",
		"✓ app eivr: ivr://localhost resolves",
		"✓ ARI " + sim.URL() + ": Asterisk",
		"✓ ARI " + sim.URL() + ": app eivr not registered yet",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check output lacks %q", want)
		}
	}
	if r.code != 1 {
		t.Errorf("exit %d, want 1 (one ✗)", r.code)
	}
	for _, req := range sim.Requests() {
		if req.Method != "GET" || req.Path == "/events" {
			t.Errorf("check made %s %s; it must only GET /asterisk/info and /applications", req.Method, req.Path)
		}
	}
	if sim.Clients() != 0 {
		t.Error("check opened the events socket")
	}
	if t.Failed() {
		t.Logf("stdout:\n%s", r.stdout)
	}

	// Wrong password.
	r = runBin(t, dir, 30*time.Second, []string{"EIVR_ARI_PASSWORD=wrong"}, "check", "--config", p)
	if !strings.Contains(r.stdout, "✗ ARI "+sim.URL()+": credentials refused") || r.code != 1 {
		t.Errorf("wrong password: exit %d\n%s", r.code, r.stdout)
	}
}

// migrate on the sample dialplan prints the reviewed diff (the golden file
// of internal/migrate) and lists what it cannot convert.
func TestMigrate(t *testing.T) {
	root, _ := filepath.Abs(repoRoot)
	r := runBin(t, root, 30*time.Second, nil, "migrate", "test/migrate/extensions.conf")
	golden, err := os.ReadFile(filepath.Join(root, "test", "migrate", "golden.txt"))
	if err != nil {
		t.Fatal(err)
	}
	wantOut, wantProblems, _ := strings.Cut(string(golden), "== not converted (stderr) ==\n")
	if r.stdout != wantOut {
		t.Errorf("migrate stdout differs from test/migrate/golden.txt:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, wantProblems) || r.code != 1 {
		t.Errorf("exit %d (want 1: some calls are not converted), stderr:\n%s", r.code, r.stderr)
	}

	// --write on a copy: the files are rewritten, the originals kept as .bak.
	dir := t.TempDir()
	for _, f := range []string{"extensions.conf", "ivr-menus.conf", "ivr-more.conf"} {
		data, err := os.ReadFile(filepath.Join(root, "test", "migrate", f))
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, dir, f, string(data))
	}
	r = runBin(t, dir, 30*time.Second, nil, "migrate", "--app", "ivrgw", "--write", "extensions.conf")
	if !strings.Contains(r.stderr, "wrote extensions.conf (original in extensions.conf.bak)") {
		t.Errorf("--write: stderr:\n%s", r.stderr)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "ivr-menus.conf"))
	if !strings.Contains(string(got), "exten => s,1,Stasis(ivrgw,ivr://[2001:db8::10]:4000(menu),n)") {
		t.Errorf("ivr-menus.conf after --write:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(dir, "ivr-menus.conf.bak")); err != nil {
		t.Error(err)
	}
	r = runBin(t, dir, 30*time.Second, nil, "migrate", "extensions.conf")
	if !strings.HasPrefix(r.stdout, "# no ExternalIVR() call to convert") {
		t.Errorf("second run:\n%s", r.stdout)
	}
	r = runBin(t, dir, 30*time.Second, nil, "migrate", "--app", "a,b", "extensions.conf")
	if r.code != 2 || !strings.Contains(r.stderr, `--app "a,b"`) {
		t.Errorf("bad --app: exit %d\n%s", r.code, r.stderr)
	}
}

// gatewayProc is `eivr-gateway run` started by a test, with its JSON log.
type gatewayProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	logs chan map[string]any
	seen []map[string]any // every record read so far
	done chan error
}

func startGateway(t *testing.T, dir, config string, env ...string) *gatewayProc {
	t.Helper()
	cmd := exec.Command(binary(t), "run", "--config", config)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	return startCmd(t, cmd)
}

// startCmd starts cmd, an `eivr-gateway run` logging JSON on stderr.
func startCmd(t *testing.T, cmd *exec.Cmd) *gatewayProc {
	t.Helper()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &gatewayProc{t: t, cmd: cmd, logs: make(chan map[string]any, 1024), done: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) != nil {
				rec = map[string]any{"msg": "(not JSON) " + sc.Text()}
			}
			select {
			case g.logs <- rec:
			default:
			}
		}
		close(g.logs)
		io.Copy(io.Discard, stderr)
		g.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			for range g.logs {
			}
			<-g.done
		}
	})
	return g
}

// waitLog waits for a log record (logged at any time since the start)
// whose msg starts with msg and whose fields match.
func (g *gatewayProc) waitLog(msg string, fields map[string]string) map[string]any {
	g.t.Helper()
	return g.waitLogMatch(msg, func(rec map[string]any) bool {
		for k, v := range fields {
			if fmt.Sprint(rec[k]) != v {
				return false
			}
		}
		return true
	})
}

// waitLogMatch waits for a log record (logged at any time since the start)
// whose msg starts with msg and for which ok is true.
func (g *gatewayProc) waitLogMatch(msg string, ok func(map[string]any) bool) map[string]any {
	g.t.Helper()
	matches := func(rec map[string]any) bool {
		m, _ := rec["msg"].(string)
		return strings.HasPrefix(m, msg) && ok(rec)
	}
	for _, rec := range g.seen {
		if matches(rec) {
			return rec
		}
	}
	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	for {
		select {
		case rec, ok := <-g.logs:
			if !ok {
				g.t.Fatalf("the gateway exited before logging %q", msg)
			}
			g.seen = append(g.seen, rec)
			if matches(rec) {
				return rec
			}
		case <-timer.C:
			g.t.Fatalf("no log %q (matching) within 15s", msg)
		}
	}
}

// exit waits for the process to end and returns its exit code.
func (g *gatewayProc) exit(timeout time.Duration) int {
	g.t.Helper()
	go func() {
		for range g.logs {
		}
	}()
	select {
	case err := <-g.done:
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			g.t.Fatal(err)
		}
		return 0
	case <-time.After(timeout):
		g.t.Fatalf("the gateway did not exit within %v", timeout)
		return -1
	}
}

func runConfig(sim *aritest.Server, menu string, extra string) string {
	return fmt.Sprintf(`[ari]
urls = [%q]
password = "asterisk"

[[app]]
name = "eivr"
programs = [%q]
%s
[admin]
listen = "127.0.0.1:0"

[log]
format = "json"
level = "info"
`, sim.URL(), menu, extra)
}

func get(t *testing.T, addr, path string) (int, string) {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 10 * time.Second}
	resp, err := c.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func waitEnd(t *testing.T, sim *aritest.Server, ch string) aritest.End {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	end, err := sim.WaitEnd(ctx, ch)
	if err != nil {
		t.Fatalf("channel %s: %v", ch, err)
	}
	return end
}

// SIGHUP reloads the allow-lists without touching a live call; SIGTERM
// drains: new calls go back to the dialplan, the live call finishes, then
// the process exits 0.
func TestRunSignals(t *testing.T) {
	sim := newSim(t, 20)
	menu := menuPath(t)
	dir := t.TempDir()
	p := writeFile(t, dir, "gw.toml", runConfig(sim, menu, ""))
	g := startGateway(t, dir, p)
	admin := fmt.Sprint(g.waitLog("admin listener", nil)["addr"])
	g.waitLog("eivr-gateway running", nil)
	g.waitLog("ARI connected", nil)

	a, err := sim.StartCall("eivr", []string{menu + "(hello-world)"}, aritest.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g.waitLog("session started", map[string]string{"channel": a})

	// The admin listener.
	if code, body := get(t, admin, "/healthz"); code != 200 || body != "ok\n" {
		t.Errorf("/healthz: %d %q", code, body)
	}
	if code, body := get(t, admin, "/readyz"); code != 200 {
		t.Errorf("/readyz: %d %q", code, body)
	}
	// The session answers its channel (just after "session started"):
	// REST latency by route, ids replaced.
	answered := `eivr_ari_rest_duration_seconds_count{ari="` + sim.URL() + `",method="POST",route="/channels/{id}/answer",status="204"} 1`
	if !testwait.For(testwait.Long, func() bool {
		_, metrics := get(t, admin, "/metrics")
		return strings.Contains(metrics, answered)
	}) {
		t.Errorf("/metrics lacks %q", answered)
	}
	_, metrics := get(t, admin, "/metrics")
	for _, want := range []string{
		`eivr_sessions_active{app="eivr"} 1`,
		`eivr_sessions_started_total{app="eivr"} 1`,
		`eivr_ari_connected{ari="` + sim.URL() + `"} 1`,
		`eivr_ari_events_total{ari="` + sim.URL() + `"}`,
		`eivr_ari_reconnects_total{ari="` + sim.URL() + `"} 0`,
		`eivr_gateway_ready 1`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if code, _ := get(t, admin, "/debug/pprof/"); code != 404 {
		t.Errorf("/debug/pprof/ answered %d with pprof off, want 404", code)
	}

	// An ivr:// host that is not allowed yet.
	tcpTarget := []string{"ivr://127.0.0.1:1(x)"}
	x, err := sim.StartCall("eivr", tcpTarget, aritest.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if end := waitEnd(t, sim, x); !end.HungUp || end.Vars["EIVRGW_STATUS"] != "DENIED" {
		t.Errorf("call to a host not allowed: %+v, want hung up with EIVRGW_STATUS=DENIED", end)
	}

	// SIGHUP with a file that does not validate: logged, nothing changes.
	writeFile(t, dir, "gw.toml", runConfig(sim, menu, "max_sessions = -1\n"))
	if err := g.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if rec := g.waitLog("reload failed", nil); !strings.Contains(fmt.Sprint(rec["err"]), "app[0].max_sessions") {
		t.Errorf("reload failure log: %v", rec)
	}

	// SIGHUP with a new allow-list: it applies to new calls, the live call
	// carries on.
	writeFile(t, dir, "gw.toml", runConfig(sim, menu, "tcp_hosts = [\"127.0.0.1:1\"]\nmax_sessions = 5\n"))
	if err := g.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	g.waitLog("reloaded", nil)
	y, err := sim.StartCall("eivr", tcpTarget, aritest.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if end := waitEnd(t, sim, y); end.Vars["EIVRGW_STATUS"] != "START_FAILED" {
		t.Errorf("call to the newly allowed host (nothing listens): %+v, want EIVRGW_STATUS=START_FAILED", end)
	}

	// SIGTERM: drain.
	if err := g.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	g.waitLog("draining", nil)
	if code, body := get(t, admin, "/readyz"); code != 503 {
		t.Errorf("/readyz while draining: %d %q, want 503", code, body)
	}
	b, err := sim.StartCall("eivr", []string{menu + "(hello-world)"}, aritest.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	endB := waitEnd(t, sim, b)
	if !endB.Continued || endB.Vars["EIVRGW_STATUS"] != "DRAINING" {
		t.Errorf("call during drain: %+v, want back to the dialplan with EIVRGW_STATUS=DRAINING", endB)
	}
	// The live call still works: 2 makes menu.pl exit to the dialplan.
	if err := sim.PressDTMF(a, '2', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	endA := waitEnd(t, sim, a)
	if !endA.Continued {
		t.Errorf("live call: %+v, want it to continue in the dialplan after E", endA)
	}
	g.waitLog("drained", nil)
	if code := g.exit(10 * time.Second); code != 0 {
		t.Errorf("exit status %d after SIGTERM, want 0", code)
	}
}

// originate places a call through the running gateway: the program runs
// when the destination answers; busy and no-answer are reported; a second
// call to a destination already being called is refused.
func TestOriginate(t *testing.T) {
	sim := newSim(t, 20)
	menu := menuPath(t)
	dir := t.TempDir()
	p := writeFile(t, dir, "gw.toml", runConfig(sim, menu, ""))
	token := []string{"EIVR_ADMIN_TOKEN=tok"}
	g := startGateway(t, dir, p, token...)
	admin := fmt.Sprint(g.waitLog("admin listener", nil)["addr"])
	g.waitLog("ARI connected", nil)
	sim.SetEndpoint("PJSIP/1000", aritest.Endpoint{Outcome: aritest.Answer, Ring: time.Second})
	sim.SetEndpoint("PJSIP/busy", aritest.Endpoint{Outcome: aritest.Busy})
	sim.SetEndpoint("PJSIP/away", aritest.Endpoint{Outcome: aritest.NoAnswer})

	originate := func(env []string, args ...string) result {
		return runBin(t, dir, 30*time.Second, env, append([]string{"originate", "--config", p, "--admin", admin}, args...)...)
	}

	// Answered: the program runs on the call, with its arguments as
	// written (Asterisk splits Stasis' "app,appArgs" with the standard
	// splitter: the comma inside the parentheses stays).
	logf := filepath.Join(dir, "menu.log")
	r := originate(token, "--endpoint", "PJSIP/1000", "--run", menu+"(hello-world,"+logf+")", "--callerid", "IVR <100>")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "answered: ") {
		t.Fatalf("originate: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	ch := strings.TrimSpace(r.stdout[strings.LastIndex(r.stdout, " ")+1:])
	if argv := fmt.Sprint(g.waitLog("session started", map[string]string{"channel": ch})["argv"]); argv != fmt.Sprint([]any{menu, "hello-world", logf}) {
		t.Errorf("argv %s, want [%s hello-world %s]", argv, menu, logf)
	}
	if err := sim.PressDTMF(ch, '2', 100*time.Millisecond); err != nil { // menu.pl: E
		t.Fatal(err)
	}
	g.waitLog("session ended", map[string]string{"channel": ch})

	// Busy.
	r = originate(token, "--endpoint", "PJSIP/busy", "--run", menu)
	if r.code != 1 || !strings.Contains(r.stdout, "PJSIP/busy: busy (cause 17)") {
		t.Errorf("busy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// No answer, and the duplicate-destination guard while it rings
	// (100 s of simulated ringing: 5 s at speed 20, the margin for the
	// second originate process to start on a busy machine).
	first := make(chan result, 1)
	go func() {
		first <- originate(token, "--endpoint", "PJSIP/away", "--run", menu, "--timeout", "100s")
	}()
	testwait.Until(t, testwait.Long, "PJSIP/away rings", func() bool { return ringing(sim, "PJSIP/away") })
	r = originate(token, "--endpoint", "PJSIP/away", "--run", menu)
	if r.code == 0 || !strings.Contains(r.stderr, "a call to this destination is already in progress") {
		t.Errorf("second call to a ringing destination: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = <-first
	if r.code != 1 || !strings.Contains(r.stdout, "PJSIP/away: no answer") {
		t.Errorf("no answer: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// Refusals: a program not on the allow-list, a wrong token.
	r = originate(token, "--endpoint", "PJSIP/1000", "--run", "/bin/sh(-c,id)")
	if r.code != 1 || !strings.Contains(r.stderr, "refused") || !strings.Contains(r.stderr, "/bin/sh") {
		t.Errorf("program not allowed: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = originate([]string{"EIVR_ADMIN_TOKEN=wrong"}, "--endpoint", "PJSIP/1000", "--run", menu)
	if r.code != 1 || !strings.Contains(r.stderr, "wrong bearer token") {
		t.Errorf("wrong token: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	if code := g.exit(10 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// ringing reports whether the gateway asked the simulator to call endpoint.
func ringing(sim *aritest.Server, endpoint string) bool {
	for _, r := range sim.Requests() {
		if r.Method == "POST" && strings.HasPrefix(r.Path, "/channels") && r.Params["endpoint"] == endpoint {
			return true
		}
	}
	return false
}

// A session still live when limits.drain_timeout expires is ended
// (EIVRGW_STATUS=SHUTDOWN, back to the dialplan) and the process exits 0.
func TestRunDrainTimeout(t *testing.T) {
	sim := newSim(t, 20)
	menu := menuPath(t)
	dir := t.TempDir()
	cfg := strings.Replace(runConfig(sim, menu, ""), `listen = "127.0.0.1:0"`, "listen = \"127.0.0.1:0\"\npprof = true", 1)
	p := writeFile(t, dir, "gw.toml", cfg+"\n[limits]\ndrain_timeout = \"300ms\"\n")
	g := startGateway(t, dir, p)
	admin := fmt.Sprint(g.waitLog("admin listener", nil)["addr"])
	g.waitLog("ARI connected", nil)
	if code, body := get(t, admin, "/debug/pprof/"); code != 200 || !strings.Contains(body, "goroutine") {
		t.Errorf("/debug/pprof/ with pprof on: %d", code)
	}
	a, err := sim.StartCall("eivr", []string{menu + "(hello-world)"}, aritest.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	g.waitLog("session started", map[string]string{"channel": a})
	start := time.Now()
	if err := g.cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	end := waitEnd(t, sim, a)
	if !end.Continued || end.Vars["EIVRGW_STATUS"] != "SHUTDOWN" {
		t.Errorf("call live at the drain timeout: %+v, want back to the dialplan with EIVRGW_STATUS=SHUTDOWN", end)
	}
	g.waitLog("drain timeout: ending the sessions left", nil)
	if code := g.exit(10 * time.Second); code != 0 {
		t.Errorf("exit status %d, want 0", code)
	}
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("exited %v after SIGINT, before the drain timeout", d)
	}
}

// The demo in process, under the race detector and the leak check.
func TestDemoInProcess(t *testing.T) {
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("perl is not installed")
	}
	t.Chdir(t.TempDir()) // anywhere: nothing is read from the repository
	var out, errb bytes.Buffer
	code := dispatch(context.Background(), []string{"demo", "--speed", "50"}, env{stdout: &out, stderr: &errb, getenv: os.Getenv})
	if code != 0 || !strings.Contains(out.String(), "✓ call 4") {
		t.Errorf("demo: exit %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errb.String())
	}
}
