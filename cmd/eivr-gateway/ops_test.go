package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
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
