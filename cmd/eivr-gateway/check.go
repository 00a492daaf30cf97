package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
)

// checker prints ✓/✗ lines and remembers whether any failed.
type checker struct {
	w      io.Writer
	failed bool
}

func (c *checker) ok(format string, args ...any) {
	fmt.Fprintf(c.w, "✓ "+format+"\n", args...)
}

func (c *checker) fail(format string, args ...any) {
	c.failed = true
	fmt.Fprintf(c.w, "✗ "+format+"\n", args...)
}

func cmdCheck(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("check", e, "[--config FILE] [flags]")
	var cf configFlags
	cf.register(fs)
	timeout := fs.Duration("timeout", 5*time.Second, "time allowed for each network probe")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	c := &checker{w: e.stdout}
	cfg, name, err := cf.load(fs, e.getenv)
	shown := name
	if shown == "" {
		shown = "(built-in defaults)"
	}
	if err != nil {
		c.fail("config %s:", shown)
		for _, l := range problemLines(err) {
			fmt.Fprintf(e.stdout, "    %s\n", l)
		}
		return errSilent
	}
	c.ok("config %s: valid (%d app(s))", shown, len(cfg.Apps))
	checkFiles(c, cfg)
	if cfg.Listen.Enabled() {
		checkListen(ctx, c, cfg, *timeout) // listener mode: ari.urls are not used
	} else {
		checkARI(ctx, c, cfg, *timeout)
	}
	if c.failed {
		return errSilent
	}
	return nil
}

// checkFiles checks what the gateway will need from the local machine.
func checkFiles(c *checker, cfg config.Config) {
	for _, f := range []struct{ key, path string }{
		{"ari.tls.ca_file", cfg.ARI.TLS.CAFile},
		{"ari.tls.cert_file", cfg.ARI.TLS.CertFile},
		{"ari.tls.key_file", cfg.ARI.TLS.KeyFile},
	} {
		if f.path == "" {
			continue
		}
		if _, err := os.ReadFile(f.path); err != nil {
			c.fail("%s: %v", f.key, err)
		} else {
			c.ok("%s: %s readable", f.key, f.path)
		}
	}
	for _, a := range cfg.Apps {
		pre := "app " + a.Name
		if len(a.Programs) == 0 && len(a.TCPHosts) == 0 {
			c.ok("%s: allows no program and no ivr:// host (every call will be refused)", pre)
		}
		for _, p := range a.Programs {
			checkProgram(c, pre, p)
		}
		for _, h := range a.TCPHosts {
			host, port, _ := config.SplitHostPattern(h)
			rctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			addrs, err := net.DefaultResolver.LookupHost(rctx, host)
			cancel()
			if err != nil {
				c.fail("%s: ivr://%s does not resolve: %v", pre, host, err)
				continue
			}
			c.ok("%s: ivr://%s resolves to %s (port %s)", pre, host, strings.Join(addrs, ", "), port)
		}
		probs := appHostProblems(a)
		for _, p := range probs {
			c.fail("%s: %v", pre, p)
		}
		if a.Dir != "" && !slices.ContainsFunc(probs, isKey("dir")) {
			c.ok("%s: dir %s exists", pre, a.Dir)
		}
		if a.SoundsDir != "" && !slices.ContainsFunc(probs, isKey("sounds_dir")) {
			c.ok("%s: sounds_dir %s exists", pre, a.SoundsDir)
		}
		if a.User != "" && !slices.ContainsFunc(probs, isKey("user")) {
			c.ok("%s: user %s exists", pre, a.User)
		}
	}
}

// hostProblem is a key of an [[app]] that cannot work on this machine.
type hostProblem struct {
	key string // "dir", "sounds_dir", "user"
	err error
}

func (p *hostProblem) Error() string { return p.err.Error() }
func (p *hostProblem) Unwrap() error { return p.err }

func isKey(key string) func(error) bool {
	return func(err error) bool {
		var p *hostProblem
		return errors.As(err, &p) && p.key == key
	}
}

// appHostProblems reports what of an [[app]] cannot work on this machine,
// so that every call would fail to start (START_FAILED): a dir or
// sounds_dir that is not a directory, an unknown user, a user to switch to
// while the gateway is not root. check reports them; run and SIGHUP refuse
// the configuration.
func appHostProblems(a config.App) []error {
	var out []error
	dirs := []struct{ key, path string }{{"dir", a.Dir}, {"sounds_dir", a.SoundsDir}}
	for _, d := range dirs {
		if d.path == "" {
			continue
		}
		fi, err := os.Stat(d.path)
		if err == nil && !fi.IsDir() {
			err = errors.New("not a directory")
		}
		if err != nil {
			out = append(out, &hostProblem{d.key, fmt.Errorf("%s %s is not a directory: %w", d.key, d.path, err)})
		}
	}
	if a.User != "" {
		_, err := user.Lookup(a.User)
		if err != nil {
			if _, nerr := strconv.ParseUint(a.User, 10, 32); nerr == nil {
				_, err = user.LookupId(a.User) // eivr takes a numeric uid too
			}
		}
		switch {
		case err != nil:
			out = append(out, &hostProblem{"user", fmt.Errorf("user %s: %w", a.User, err)})
		case os.Geteuid() != 0:
			out = append(out, &hostProblem{"user", fmt.Errorf("user %s: the gateway must run as root to switch user", a.User)})
		}
	}
	return out
}

// hostError lists the appHostProblems of every [[app]] of cfg; nil if none.
func hostError(cfg config.Config) error {
	var errs []error
	for i, a := range cfg.Apps {
		for _, p := range appHostProblems(a) {
			var hp *hostProblem
			errors.As(p, &hp)
			errs = append(errs, &config.Error{Key: fmt.Sprintf("app[%d].%s", i, hp.key), Msg: p.Error()})
		}
	}
	return errors.Join(errs...)
}

// checkProgram checks that a programs entry names executable files.
func checkProgram(c *checker, pre, pattern string) {
	matches, err := filepath.Glob(pattern)
	if err != nil || len(matches) == 0 {
		c.fail("%s: program %s: no such file", pre, pattern)
		return
	}
	var bad []string
	for _, m := range matches {
		fi, err := os.Stat(m)
		switch {
		case err != nil:
			bad = append(bad, err.Error())
		case !fi.Mode().IsRegular():
			bad = append(bad, m+" is not a regular file")
		case fi.Mode().Perm()&0o111 == 0:
			bad = append(bad, m+" is not executable")
		}
	}
	switch {
	case len(bad) > 0:
		c.fail("%s: program %s: %s", pre, pattern, strings.Join(bad, "; "))
	case len(matches) == 1 && matches[0] == pattern:
		c.ok("%s: program %s is executable", pre, pattern)
	default:
		c.ok("%s: programs %s: %d executable file(s)", pre, pattern, len(matches))
	}
}

// checkARI probes each Asterisk with GET /asterisk/info and GET
// /applications/{app}: REST only, so a running gateway is not disturbed
// (a second events socket would take its apps over).
func checkARI(ctx context.Context, c *checker, cfg config.Config, timeout time.Duration) {
	for _, url := range cfg.ARI.URLs {
		u := config.RedactURL(url) // as shown; Validate refuses credentials in a URL anyway
		ac, err := ariConfig(cfg, url, slog.New(slog.DiscardHandler))
		if err != nil {
			c.fail("ARI %s: %v", u, err)
			continue
		}
		client, err := ari.NewClient(ac)
		if err != nil {
			c.fail("ARI %s: %v", u, err)
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, timeout)
		info, err := client.AsteriskInfo(pctx)
		cancel()
		var ae *ari.Error
		switch {
		case errors.As(err, &ae) && ae.Status == 401:
			c.fail("ARI %s: credentials refused (user %q; ari.conf, EIVR_ARI_PASSWORD)", u, cfg.ARI.Username)
			client.Close()
			continue
		case err != nil:
			c.fail("ARI %s: unreachable: %v", u, err)
			client.Close()
			continue
		}
		c.ok("ARI %s: Asterisk %s (%s), user %q accepted", u, info.System.Version, info.System.EntityID, cfg.ARI.Username)
		for _, a := range cfg.Apps {
			pctx, cancel := context.WithTimeout(ctx, timeout)
			app, err := client.GetApplication(pctx, a.Name)
			cancel()
			switch {
			case errors.Is(err, ari.ErrNotFound):
				c.ok("ARI %s: app %s not registered yet (it is when the gateway connects; until then Stasis(%s) fails and the dialplan continues)", u, a.Name, a.Name)
			case err != nil:
				c.fail("ARI %s: app %s: %v", u, a.Name, err)
			default:
				c.ok("ARI %s: app %s registered by a running gateway (%d channel(s) in it)", u, a.Name, len(app.ChannelIDs))
			}
		}
		client.Close()
	}
}
