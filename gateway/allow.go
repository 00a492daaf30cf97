package gateway

import (
	"fmt"
	"net"
	"path"
	"strings"

	"github.com/eivr-gateway/eivr-gateway/eivr"
)

// allowList decides which application strings an app may run. Anyone with
// ARI originate rights chooses StasisStart args, so this is a security
// boundary: everything not listed is denied.
type allowList struct {
	programs []string // absolute paths or path.Match globs
	hosts    []hostRule
}

type hostRule struct {
	host string // lower case, without brackets
	port string // "*" = any
}

// defaultPort is ExternalIVR's default TCP port (eivr-protocol.md §3.2).
const defaultPort = "2949"

func newAllowList(programs, hosts []string) (allowList, error) {
	var a allowList
	for _, p := range programs {
		if !strings.HasPrefix(p, "/") {
			return allowList{}, fmt.Errorf("program %q: must be an absolute path or glob", p)
		}
		if _, err := path.Match(p, "/"); err != nil {
			return allowList{}, fmt.Errorf("program %q: %w", p, err)
		}
		a.programs = append(a.programs, p)
	}
	for _, h := range hosts {
		r, err := parseHostRule(h)
		if err != nil {
			return allowList{}, err
		}
		a.hosts = append(a.hosts, r)
	}
	return a, nil
}

// parseHostRule reads "host:port", "host:*", "[v6]:port" or "host" (port 2949).
func parseHostRule(s string) (hostRule, error) {
	if s == "" {
		return hostRule{}, fmt.Errorf("tcp host %q: empty", s)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// No port: a plain name, an IPv4 address, or [v6] / bare v6.
		host, port = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]"), defaultPort
	}
	if host == "" || port == "" {
		return hostRule{}, fmt.Errorf("tcp host %q: want host, host:port or host:*", s)
	}
	return hostRule{host: strings.ToLower(host), port: port}, nil
}

// allows reports whether app may run, and why not.
func (a allowList) allows(app eivr.App) (bool, string) {
	target := app.Argv[0]
	if app.IsTCP() {
		host, port, err := app.HostPort()
		if err != nil {
			return false, "bad ivr:// target: " + err.Error()
		}
		if port == "" || port == "0" {
			port = defaultPort
		}
		host = strings.ToLower(host)
		for _, r := range a.hosts {
			if r.host == host && (r.port == "*" || r.port == port) {
				return true, ""
			}
		}
		return false, "TCP server " + net.JoinHostPort(host, port) + " is not in tcp_hosts"
	}
	if !strings.HasPrefix(target, "/") || path.Clean(target) != target {
		return false, "program path " + target + " is not a clean absolute path"
	}
	for _, p := range a.programs {
		if ok, _ := path.Match(p, target); ok {
			return true, ""
		}
	}
	return false, "program " + target + " is not in programs"
}
