package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
)

// Validate checks the whole configuration and reports every problem, each
// as an *Error with its key (see [Problems]); nil if all is well. Validate
// touches no file and no network: `eivr-gateway check` does that.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, &Error{Key: key, Msg: fmt.Sprintf(format, args...)})
	}

	c.validateListen(bad)
	if len(c.ARI.URLs) == 0 && !c.Listen.Enabled() {
		bad("ari.urls", "at least one ARI URL is needed, e.g. \"http://127.0.0.1:8088/ari\"")
	}
	seen := map[string]bool{}
	for i, s := range c.ARI.URLs {
		key := fmt.Sprintf("ari.urls[%d]", i)
		shown := RedactURL(s) // never echo a password the URL carries
		u, err := url.Parse(s)
		switch {
		case err != nil:
			bad(key, "%q: not a URL: %v", shown, urlParseCause(err))
		case u.Scheme != "http" && u.Scheme != "https":
			bad(key, "%q: scheme must be http or https (the events socket follows: ws or wss)", shown)
		case u.Host == "" || u.Hostname() == "":
			bad(key, "%q: no host", shown)
		case u.User != nil:
			bad(key, "%q: put credentials in ari.username / EIVR_ARI_PASSWORD, not in the URL", shown)
		case u.Query().Has("api_key"):
			bad(key, "%q: put credentials in ari.username / EIVR_ARI_PASSWORD, not in the URL", shown)
		case seen[s]:
			bad(key, "%q is listed twice", shown)
		}
		if err == nil && u.Port() != "" {
			if n, perr := strconv.ParseUint(u.Port(), 10, 16); perr != nil || n == 0 {
				bad(key, "%q: port %s: want 1-65535", shown, u.Port())
			}
		}
		seen[s] = true
	}
	if c.ARI.Username == "" {
		bad("ari.username", "empty (ari.conf user; or set %s)", EnvARIUsername)
	}
	if (c.ARI.TLS.CertFile == "") != (c.ARI.TLS.KeyFile == "") {
		bad("ari.tls.cert_file", "cert_file and key_file go together")
	}

	if len(c.Apps) == 0 {
		bad("app", "at least one [[app]] is needed")
	}
	names := map[string]bool{}
	for i, a := range c.Apps {
		key := fmt.Sprintf("app[%d]", i)
		switch {
		case a.Name == "":
			bad(key+".name", "empty (the Stasis application name)")
		case strings.ContainsAny(a.Name, ",()\"\\ \t\r\n") || strings.Contains(a.Name, "${"):
			bad(key+".name", "%q: a Stasis app name cannot hold commas, parentheses, quotes, blanks or ${", a.Name)
		case names[a.Name]:
			bad(key+".name", "app %q is defined twice", a.Name)
		}
		names[a.Name] = true
		for j, p := range a.Programs {
			if err := CheckProgramPattern(p); err != nil {
				bad(fmt.Sprintf("%s.programs[%d]", key, j), "%v", err)
			}
		}
		for j, h := range a.TCPHosts {
			if _, _, err := SplitHostPattern(h); err != nil {
				bad(fmt.Sprintf("%s.tcp_hosts[%d]", key, j), "%v", err)
			}
		}
		if a.MaxSessions < 0 {
			bad(key+".max_sessions", "%d is negative (0 = unlimited)", a.MaxSessions)
		}
		if a.Dir != "" && !path.IsAbs(a.Dir) {
			bad(key+".dir", "%q is not an absolute path", a.Dir)
		}
		if a.SoundsDir != "" && !path.IsAbs(a.SoundsDir) {
			bad(key+".sounds_dir", "%q is not an absolute path", a.SoundsDir)
		}
		for j, e := range a.Env {
			k, v, ok := strings.Cut(e, "=")
			switch {
			case !ok || k == "" || strings.ContainsRune(e, 0):
				bad(fmt.Sprintf("%s.env[%d]", key, j), "%q: want NAME=value", e)
			case slices.Contains(SecretEnv, k):
				bad(fmt.Sprintf("%s.env[%d]", key, j), "%s is the gateway's own secret: programs never get it", k)
			case v != "" && (v == c.ARI.Password || v == c.Admin.Token):
				bad(fmt.Sprintf("%s.env[%d]", key, j), "%s: the value is the gateway's ARI password or admin token: programs never get the gateway's secrets", k)
			}
		}
		if a.WriteBuffer < 1024 {
			bad(key+".write_buffer", "%d: want at least 1024 bytes", a.WriteBuffer)
		}
		if a.ConnectTimeout.Duration == 0 {
			bad(key+".connect_timeout", "0 would never connect; give a duration such as \"5s\"")
		}
		if a.Transcripts != "" && !path.IsAbs(a.Transcripts) {
			bad(key+".transcripts", "%q is not an absolute path", a.Transcripts)
		}
		for j, v := range a.RedactVars {
			if v == "" || strings.ContainsAny(v, ",=") {
				bad(fmt.Sprintf("%s.redact_vars[%d]", key, j), "%q: want a variable name", v)
			}
		}
		if a.Transcripts != "" && a.TranscriptMaxBytes < 4096 {
			bad(key+".transcript_max_bytes", "%d: want at least 4096 bytes", a.TranscriptMaxBytes)
		}
		if a.Transcripts != "" && a.TranscriptKeep < 1 {
			bad(key+".transcript_keep", "%d: want at least 1", a.TranscriptKeep)
		}
	}

	for _, d := range []struct {
		key string
		d   Duration
	}{
		{"ari.rest_timeout", c.ARI.RESTTimeout}, {"ari.rest_long_timeout", c.ARI.RESTLongTimeout},
		{"ari.dial_timeout", c.ARI.DialTimeout}, {"ari.ping_interval", c.ARI.PingInterval},
		{"reorder.hold_limit", c.Reorder.HoldLimit},
		{"session.call_timeout", c.Session.CallTimeout}, {"session.stop_timeout", c.Session.StopTimeout},
		{"session.flush_timeout", c.Session.FlushTimeout}, {"session.sounds_ttl", c.Session.SoundsTTL},
		{"limits.shutdown_timeout", c.Limits.ShutdownTimeout},
	} {
		if d.d.Duration <= 0 {
			bad(d.key, "must be more than 0s")
		}
	}
	for _, n := range []struct {
		key string
		n   int
	}{
		{"reorder.queue_limit", c.Reorder.QueueLimit}, {"limits.event_queue", c.Limits.EventQueue}, {"limits.pending_ops", c.Limits.PendingOps}, {"limits.ari_queue", c.Limits.ARIQueue},
	} {
		if n.n < 1 {
			bad(n.key, "%d: want at least 1", n.n)
		}
	}
	if c.Originate.App != "" && !names[c.Originate.App] {
		bad("originate.app", "%q is not the name of an [[app]]", c.Originate.App)
	}
	if c.Originate.Timeout.Duration == 0 {
		bad("originate.timeout", "0 would never ring; give a duration such as \"30s\"")
	}
	if c.Admin.Listen != "" {
		if _, port, err := net.SplitHostPort(c.Admin.Listen); err != nil {
			bad("admin.listen", "%q: want host:port (\"127.0.0.1:9248\") or \"\" to disable: %v", c.Admin.Listen, err)
		} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			bad("admin.listen", "%q: bad port", c.Admin.Listen)
		}
	}
	c.validateCTI(bad, names)
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q: want debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		bad("log.format", "%q: want auto, text or json", c.Log.Format)
	}
	if c.Log.Trace && c.Log.Level != "debug" {
		bad("log.trace", "traces are logged at debug level; set log.level = \"debug\" too (log.level is %q)", c.Log.Level)
	}
	return errors.Join(errs...)
}

// App returns the [[app]] named name.
func (c *Config) App(name string) (App, bool) {
	for _, a := range c.Apps {
		if a.Name == name {
			return a, true
		}
	}
	return App{}, false
}

// CheckProgramPattern reports whether p is a usable programs entry: an
// absolute path or path.Match glob that a target (which cannot contain '(')
// could match.
func CheckProgramPattern(p string) error {
	switch {
	case p == "":
		return errors.New("empty program")
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("%q is not absolute (native ExternalIVR runs a relative path from Asterisk's working directory; write the full path)", p)
	case strings.ContainsRune(p, '('):
		return fmt.Errorf("%q: a target cannot contain '('", p)
	case path.Clean(p) != p:
		return fmt.Errorf("%q: write it as %q (targets are matched as clean paths)", p, path.Clean(p))
	}
	if _, err := path.Match(p, ""); err != nil {
		return fmt.Errorf("%q: bad glob: %w", p, err)
	}
	return nil
}

// SplitHostPattern splits a tcp_hosts entry: "host" (port "2949"),
// "host:port", "host:*" (port "*" = any), "[v6]" or "[v6]:port".
func SplitHostPattern(h string) (host, port string, err error) {
	if h == "" {
		return "", "", errors.New("empty host")
	}
	if strings.HasPrefix(h, "ivr://") {
		return "", "", fmt.Errorf("%q: write the host without ivr://", h)
	}
	host, port = h, "2949"
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 0 {
			return "", "", fmt.Errorf("%q: missing ]", h)
		}
		host = h[1:end]
		switch rest := h[end+1:]; {
		case rest == "":
		case strings.HasPrefix(rest, ":"):
			port = rest[1:]
		default:
			return "", "", fmt.Errorf("%q: junk after ]", h)
		}
	} else if strings.Count(h, ":") == 1 {
		host, port, _ = strings.Cut(h, ":")
	} else if strings.Count(h, ":") > 1 {
		return "", "", fmt.Errorf("%q: put an IPv6 address in brackets: [%s]", h, h)
	}
	if host == "" || strings.ContainsAny(host, " \t/()[],") {
		return "", "", fmt.Errorf("%q: bad host", h)
	}
	if port != "*" {
		if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 {
			return "", "", fmt.Errorf("%q: port must be 1-65535 or *", h)
		}
	}
	return host, port, nil
}
