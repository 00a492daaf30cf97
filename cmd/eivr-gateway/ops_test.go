package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
)

// run refuses to start when an [[app]] could start no program (unknown
// user, missing dir), as check reports: before, it reported ready and every
// stdio call ended START_FAILED (issue 13 item 16).
func TestRunRefusesUnusableApp(t *testing.T) {
	sim := newSim(t, 20)
	dir := t.TempDir()
	p := writeFile(t, dir, "gw.toml", runConfig(sim, "/bin/true", "user = \"no-such-user-eivr\"\ndir = \"/nonexistent/ivr\"\n"))
	r := runBin(t, dir, 30*time.Second, nil, "run", "--config", p)
	for _, want := range []string{
		"app[0].dir: dir /nonexistent/ivr is not a directory",
		"app[0].user: user no-such-user-eivr: user: unknown user no-such-user-eivr",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("run stderr lacks %q", want)
		}
	}
	if r.code != 1 || strings.Contains(r.stderr, "eivr-gateway running") {
		t.Errorf("run: exit %d, want 1 without starting", r.code)
	}
	if n := len(sim.Requests()); n != 0 || sim.Clients() != 0 {
		t.Errorf("run talked to Asterisk (%d requests, %d sockets) with a config it refuses", n, sim.Clients())
	}
	if t.Failed() {
		t.Logf("stderr:\n%s", r.stderr)
	}
	r = runBin(t, dir, 30*time.Second, nil, "check", "--config", p)
	for _, want := range []string{"✗ app eivr: dir /nonexistent/ivr is not a directory", "✗ app eivr: user no-such-user-eivr:"} {
		if !strings.Contains(r.stdout, want) || r.code != 1 {
			t.Errorf("check: exit %d, output lacks %q:\n%s", r.code, want, r.stdout)
		}
	}
}

// A password in an ARI URL is never echoed by the error refusing it:
// check, run, the --ari-url flag (issue 13 item 5).
func TestURLCredentialsRedacted(t *testing.T) {
	const pw = "hunter2pw"
	dir := t.TempDir()
	p := writeFile(t, dir, "gw.toml", fmt.Sprintf("[ari]\nurls = [%q, %q]\n", "http://eivr:"+pw+"@127.0.0.1:1/ari", "http://eivr:"+pw+"@127.0.0.1:1/%zz"))
	for _, args := range [][]string{
		{"check", "--config", p},
		{"run", "--config", p},
		{"run", "--config", writeFile(t, dir, "empty.toml", ""), "--ari-url", "http://eivr:" + pw + "@127.0.0.1:99999/ari"},
	} {
		r := runBin(t, dir, 30*time.Second, nil, args...)
		out := r.stdout + r.stderr
		if r.code == 0 || !strings.Contains(out, "eivr:xxxxx@127.0.0.1") {
			t.Errorf("%q: exit %d, the URL is not shown redacted:\n%s", args, r.code, out)
		}
		if strings.Contains(out, pw) {
			t.Errorf("%q: the password is echoed:\n%s", args, out)
		}
	}
}

// check and run refuse a config path that is a FIFO at once (it blocked
// forever, deaf to SIGTERM), and /dev/zero (read until out of memory)
// (issue 13 item 8).
func TestConfigNotRegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "gw.toml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"check", "--config", fifo}, {"run", "--config", fifo}, {"check", "--config", "/dev/zero"}} {
		r := runBin(t, dir, 30*time.Second, nil, args...)
		if r.code != 1 || !strings.Contains(r.stdout+r.stderr, "not a regular file") {
			t.Errorf("%q: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

// A program started by the gateway gets only descriptors 0, 1 and 2, even
// those the gateway inherited without close-on-exec (issue 13 item 13), and
// none of the gateway's secrets, even with inherit_env (item 4).
func TestProgramGetsNoInheritedFDNorSecret(t *testing.T) {
	sim := newSim(t, 20)
	dir := t.TempDir()
	prog := writeFile(t, dir, "report.sh", `#!/bin/sh
# Writes the descriptors a program it runs inherits (ls lists its own) and
# its environment to "$1", then exits.
{ ls -l /proc/self/fd/; env; } > "$1.tmp"
mv "$1.tmp" "$1"
echo "E,reported"
`)
	if err := os.Chmod(prog, 0o755); err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, dir, "gw.toml", strings.Replace(runConfig(sim, prog, "inherit_env = true\n"), `password = "asterisk"`, "", 1))
	// Descriptors 3..10 of the gateway: the marker file, without close-on-exec.
	marker, err := os.Create(filepath.Join(dir, "inherited-marker"))
	if err != nil {
		t.Fatal(err)
	}
	defer marker.Close()
	cmd := exec.Command(binary(t), "run", "--config", p)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "EIVR_ARI_PASSWORD=asterisk", "EIVR_ADMIN_TOKEN=admin-tok-9", "EIVR_COPY=admin-tok-9", "EIVR_MARK=visible")
	for range 8 {
		cmd.ExtraFiles = append(cmd.ExtraFiles, marker)
	}
	g := startCmd(t, cmd)
	g.waitLog("ARI connected", nil)
	out := filepath.Join(dir, "report.txt")
	ch, err := sim.StartCall("eivr", []string{prog + "(" + out + ")"}, aritest.CallOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if end := waitEnd(t, sim, ch); !end.Continued {
		t.Fatalf("call did not continue after E: %+v", end)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	report := string(data)
	if !strings.Contains(report, "EIVR_MARK=visible") {
		t.Errorf("inherit_env: the gateway's environment is not inherited:\n%s", report)
	}
	for _, l := range strings.Split(report, "\n") {
		if strings.Contains(l, "inherited-marker") {
			t.Errorf("the program inherited a descriptor of the gateway: %s", l)
		}
		if strings.Contains(l, "asterisk") && strings.HasPrefix(l, "EIVR_") || strings.Contains(l, "admin-tok-9") {
			t.Errorf("a secret of the gateway reaches the program: %s", l)
		}
	}
	// ls has 0, 1 (the report), 2, and the directory it lists.
	var fds []string
	for _, l := range strings.Split(report, "\n") {
		if f := strings.Fields(l); len(f) >= 3 && f[len(f)-2] == "->" {
			fds = append(fds, f[len(f)-3])
			if n, _ := strconv.Atoi(f[len(f)-3]); n > 2 && !strings.HasPrefix(f[len(f)-1], "/proc/") {
				t.Errorf("descriptor %d reached the program: %s", n, l)
			}
		}
	}
	for _, want := range []string{"0", "1", "2"} {
		if !slices.Contains(fds, want) {
			t.Errorf("descriptors of ls %q lack %s", fds, want)
		}
	}
	if t.Failed() {
		t.Logf("report:\n%s", report)
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	if code := g.exit(10 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
}

// originate gives up on a gateway that accepts and never answers (it hung
// forever), after --wait (issue 13 item 11).
func TestOriginateClientTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Go(func() { // accepts, reads nothing, answers nothing
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})
	dir := t.TempDir()
	p := writeFile(t, dir, "gw.toml", "")
	start := time.Now()
	r := runBin(t, dir, 60*time.Second, []string{"EIVR_ADMIN_TOKEN=tok"}, "originate", "--config", p, "--admin", ln.Addr().String(),
		"--endpoint", "PJSIP/1000", "--run", "/bin/true", "--timeout", "2s", "--wait", "1s")
	if r.code != 1 || !strings.Contains(r.stderr, "no answer from the gateway at "+ln.Addr().String()+" within 1s") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("gave up after %v, before --wait 1s", d)
	}
	mu.Lock()
	n := len(conns)
	mu.Unlock()
	if n == 0 {
		t.Error("originate never connected")
	}
}

// check reports every problem at once: a negative duration no longer hides
// the rest, validation problems and flags included (issue 13 item 6).
func TestCheckReportsAllProblems(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "gw.toml", `[ari]
urls = ["http://127.0.0.1:0/ari"]
rest_timeout = "-1s"

[[app]]
name = "eivr"
grace = 2
programs = ["menu.pl"]

[limits]
event_queue = "256"
ari_queue = 0
`)
	r := runBin(t, dir, 30*time.Second, nil, "check", "--config", p, "--log-level", "loud")
	for _, want := range []string{
		p + `:3:16: ari.rest_timeout: duration "-1s" is negative`,
		p + `:7:9: app.grace: wrong type: got a TOML integer, want a string such as "2s"`,
		p + `:11:15: limits.event_queue: wrong type: got a TOML string, want an integer`,
		p + `:2:1: ari.urls[0]: "http://127.0.0.1:0/ari": port 0: want 1-65535`,
		p + `:8:1: app[0].programs[0]: "menu.pl" is not absolute`,
		p + `:12:1: limits.ari_queue: 0: want at least 1`,
		`--log-level: log.level: "loud": want debug, info, warn or error`,
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("check output lacks %q", want)
		}
	}
	if r.code != 1 || t.Failed() {
		t.Errorf("exit %d:\n%s", r.code, r.stdout)
	}
}

// SIGHUP with a file that run would refuse keeps the running configuration
// and says why: an app dir that is missing, a URL with a password (shown
// redacted) (issue 13 items 16 and 5).
func TestReloadRefusesUnusableApp(t *testing.T) {
	sim := newSim(t, 20)
	dir := t.TempDir()
	good := runConfig(sim, "/bin/true", "")
	p := writeFile(t, dir, "gw.toml", good)
	g := startGateway(t, dir, p)
	g.waitLog("ARI connected", nil)
	const pw = "reload-pw-77"
	for i, bad := range []struct{ config, want string }{
		{runConfig(sim, "/bin/true", "dir = \"/nonexistent/ivr\"\n"), "app[0].dir: dir /nonexistent/ivr is not a directory"},
		{strings.Replace(good, "urls = [", fmt.Sprintf("urls = [%q, ", "http://eivr:"+pw+"@127.0.0.1:1/ari"), 1), "eivr:xxxxx@127.0.0.1:1"},
	} {
		writeFile(t, dir, "gw.toml", bad.config)
		if err := g.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		// The i-th refusal: records are kept, so wait for one naming this problem.
		rec := g.waitLogMatch("reload failed", func(rec map[string]any) bool {
			return strings.Contains(fmt.Sprint(rec["err"]), bad.want)
		})
		if strings.Contains(fmt.Sprint(rec), pw) {
			t.Errorf("reload %d: the password is logged: %v", i, rec)
		}
	}
	g.cmd.Process.Signal(syscall.SIGTERM)
	if code := g.exit(10 * time.Second); code != 0 {
		t.Errorf("exit %d", code)
	}
	for _, rec := range g.seen {
		if strings.Contains(fmt.Sprint(rec), pw) {
			t.Errorf("the password is logged: %v", rec)
		}
	}
}
