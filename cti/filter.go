package cti

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ErrFilter is wrapped by ParseFilter's errors.
var ErrFilter = errors.New("bad filter")

// MaxFilterValues bounds the values of one filter list.
const MaxFilterValues = 256

// ParseFilter reads a Filter from the query of GET /v1/events: endpoint=,
// channel= and type=, each repeated or comma-separated; last_event_id= is
// allowed (the handler reads it); any other parameter is an error.
func ParseFilter(q url.Values) (Filter, error) {
	var f Filter
	for k, vs := range q {
		var dst *[]string
		var check func(string) error
		switch k {
		case "endpoint":
			dst, check = &f.Endpoints, checkEndpoint
		case "channel":
			dst, check = &f.Channels, checkToken("channel")
		case "type":
			dst, check = &f.Types, checkToken("type")
		case "last_event_id":
			continue
		default:
			return Filter{}, fmt.Errorf("%w: unknown parameter %q (want endpoint, channel, type, last_event_id)", ErrFilter, k)
		}
		for _, v := range vs {
			for _, p := range strings.Split(v, ",") {
				p = strings.TrimSpace(p)
				if p == "" {
					continue
				}
				if err := check(p); err != nil {
					return Filter{}, err
				}
				if len(*dst) >= MaxFilterValues {
					return Filter{}, fmt.Errorf("%w: more than %d values for %s", ErrFilter, MaxFilterValues, k)
				}
				*dst = append(*dst, p)
			}
		}
	}
	return f, nil
}

// checkEndpoint accepts "Tech" or "Tech/resource" (ARI's endpoint
// syntax; the resource may contain '/', e.g. Local's "100@ctx/n").
func checkEndpoint(s string) error {
	tech, res, hasRes := strings.Cut(s, "/")
	if tech == "" || hasRes && res == "" || strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("%w: endpoint %q: want Tech or Tech/resource (PJSIP, PJSIP/1000)", ErrFilter, s)
	}
	return nil
}

func checkToken(what string) func(string) error {
	return func(s string) error {
		if len(s) > 256 || strings.ContainsAny(s, " \t\r\n\"") {
			return fmt.Errorf("%w: %s %q", ErrFilter, what, s)
		}
		return nil
	}
}
