package config

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// Listen is the listener mode: the gateway accepts Asterisk's outbound ARI
// WebSockets (websocket_client.conf + ari.conf type = outbound_websocket)
// instead of connecting to ari.urls. Off while Address is "".
type Listen struct {
	// Address is host:port to listen on, e.g. ":8089"; "" = off (default).
	Address string `toml:"address"`
	// Path is the path of websocket_client.conf's uri. Default "/ari".
	Path string `toml:"path"`
	// CertFile and KeyFile (PEM) serve wss:// (TLS); both or neither.
	// They are re-read on SIGHUP (a bad pair keeps the old one).
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// RedialWindow is how long the sessions of a persistent connection
	// that dropped wait for its Asterisk to dial it again (the same
	// [[listen.asterisk]] credentials and app): within it the calls go on
	// and are reconciled over the new socket, after it they end as at
	// shutdown. Asterisk keeps the channels in Stasis meanwhile and
	// redials every reconnect_interval. Per-call connections are not
	// redialled: their session ends with the socket. Default 30s.
	RedialWindow Duration `toml:"redial_window"`
	// Asterisks are the Asterisks allowed to connect.
	Asterisks []ListenAsterisk `toml:"asterisk"`
}

// ListenAsterisk is one [[listen.asterisk]]: an Asterisk allowed to
// connect, by the credentials of its websocket_client.conf.
type ListenAsterisk struct {
	// Name labels it in logs and metrics.
	Name string `toml:"name"`
	// Username and Password are websocket_client.conf's username and
	// password (HTTP Basic); usernames are unique.
	Username string `toml:"username"`
	Password string `toml:"password"`
	// REST is how the REST calls of its connections travel: "auto" (split
	// with ari_url, else socket), "socket", "split" (the calls Asterisk
	// holds behind a playing file over HTTP, the rest over the socket) or
	// "http". Default "auto".
	REST string `toml:"rest"`
	// ARIURL is this Asterisk's ARI over HTTP (ari.username / ari.password,
	// ari.tls), needed by rest = "split" and "http". Default "".
	ARIURL string `toml:"ari_url"`
}

// Enabled reports whether the listener mode is on.
func (l Listen) Enabled() bool { return l.Address != "" }

// validateListen checks the [listen] table.
func (c *Config) validateListen(bad func(key, format string, args ...any)) {
	l := c.Listen
	if !l.Enabled() {
		if len(l.Asterisks) > 0 {
			bad("listen.address", "empty, but [[listen.asterisk]] tables are given: set an address such as \":8089\"")
		}
		return
	}
	if _, port, err := net.SplitHostPort(l.Address); err != nil {
		bad("listen.address", "%q: want host:port (\":8089\"): %v", l.Address, err)
	} else if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		bad("listen.address", "%q: bad port", l.Address)
	}
	if !strings.HasPrefix(l.Path, "/") {
		bad("listen.path", "%q: want an absolute path such as \"/ari\"", l.Path)
	}
	if l.RedialWindow.Duration <= 0 {
		bad("listen.redial_window", "%v: want a positive duration such as \"30s\"", l.RedialWindow.Duration)
	}
	if (l.CertFile == "") != (l.KeyFile == "") {
		bad("listen.cert_file", "cert_file and key_file go together")
	}
	if len(l.Asterisks) == 0 {
		bad("listen.asterisk", "at least one [[listen.asterisk]] is needed: nobody could connect")
	}
	names, users := map[string]bool{}, map[string]bool{}
	for i, a := range l.Asterisks {
		key := fmt.Sprintf("listen.asterisk[%d]", i)
		switch {
		case a.Name == "":
			bad(key+".name", "empty")
		case names[a.Name]:
			bad(key+".name", "%q is defined twice", a.Name)
		}
		names[a.Name] = true
		switch {
		case a.Username == "":
			bad(key+".username", "empty (websocket_client.conf username)")
		case users[a.Username]:
			bad(key+".username", "%q is used twice: the username tells the Asterisks apart", a.Username)
		}
		users[a.Username] = true
		if a.Password == "" {
			bad(key+".password", "empty (websocket_client.conf password)")
		}
		switch a.REST {
		case "", "auto", "socket":
		case "split", "http":
			if a.ARIURL == "" {
				bad(key+".ari_url", "rest = %q needs this Asterisk's ARI URL", a.REST)
			}
		default:
			bad(key+".rest", "%q: want auto, socket, split or http", a.REST)
		}
		if a.ARIURL != "" {
			u, err := url.Parse(a.ARIURL)
			switch {
			case err != nil:
				bad(key+".ari_url", "%q: not a URL: %v", RedactURL(a.ARIURL), urlParseCause(err))
			case u.Scheme != "http" && u.Scheme != "https":
				bad(key+".ari_url", "%q: scheme must be http or https", RedactURL(a.ARIURL))
			case u.Host == "":
				bad(key+".ari_url", "%q: no host", RedactURL(a.ARIURL))
			case u.User != nil:
				bad(key+".ari_url", "%q: put credentials in ari.username / EIVR_ARI_PASSWORD, not in the URL", RedactURL(a.ARIURL))
			}
		}
	}
}
