package config

import (
	"errors"
	"net/url"
	"strings"
)

// redacted replaces a secret in RedactURL's result.
const redacted = "xxxxx"

// RedactURL returns s with the secrets a URL can carry hidden: the password
// of its userinfo ("http://user:xxxxx@host/ari"; a userinfo without a colon,
// which may be a token, is hidden whole) and the value of an api_key query
// parameter. It works on text that does not parse as a URL too, so that it
// can be applied to whatever the user wrote before it is printed or logged.
func RedactURL(s string) string {
	rest := s
	prefix := ""
	if i := strings.Index(s, "://"); i >= 0 {
		prefix, rest = s[:i+3], s[i+3:]
	}
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
		info := rest[:at]
		if user, _, ok := strings.Cut(info, ":"); ok {
			info = user + ":" + redacted
		} else {
			info = redacted
		}
		rest = info + rest[at:]
	}
	if q := strings.IndexByte(rest, '?'); q >= 0 {
		query, frag, hasFrag := strings.Cut(rest[q+1:], "#")
		parts := strings.Split(query, "&")
		for i, p := range parts {
			if k, _, ok := strings.Cut(p, "="); ok && strings.EqualFold(strings.TrimSpace(k), "api_key") {
				parts[i] = k + "=" + redacted
			}
		}
		rest = rest[:q+1] + strings.Join(parts, "&")
		if hasFrag {
			rest += "#" + frag
		}
	}
	return prefix + rest
}

// urlParseCause is url.Parse's error without the URL it quotes (which may
// hold a password).
func urlParseCause(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
