package config

import (
	"fmt"
	"strings"
	"time"
)

// CTI configures the ordered CTI event stream (GET /v1/events on the admin
// listener): what Asterisk sources to watch on an application of its own.
// The stream also carries the gateway's own EIVRSession events, so it is
// served whenever the admin listener and token are set, watched sources or
// not.
type CTI struct {
	// App is the Stasis application the CTI subscriptions are made on, its
	// own events socket (never one of the [[app]] names: CTI volume never
	// reaches the sessions' socket). Default "eivr-cti".
	App string `toml:"app"`
	// Endpoints to watch: "PJSIP/1000" (one endpoint) or "PJSIP" (every
	// endpoint of a technology), subscribed as eventSource=endpoint:...
	// Local channels have no endpoints (Asterisk refuses endpoint:Local):
	// watch them through Channels or Bridges. Default [].
	Endpoints []string `toml:"endpoints"`
	// Channels (ids, e.g. chosen by the originator with channelId) and
	// Bridges (ids) to watch: channel:<id>, bridge:<id>. A source that does
	// not exist yet is logged and tried again at the next reconnect.
	// Default [].
	Channels []string `toml:"channels"`
	Bridges  []string `toml:"bridges"`
	// Window is how long an event waits so that events of the other legs
	// of its call stamped earlier go first. Default "50ms".
	Window Duration `toml:"window"`
	// ReorderWindow is the per-channel timestamp window of the CTI
	// stream, for every event kind (the sessions' [reorder] leaves DTMF and
	// playbacks at 0; a CTI consumer prefers order). Default "20ms".
	ReorderWindow Duration `toml:"reorder_window"`
	// Ring is how many events are kept for Last-Event-ID resumes. Default
	// 10000.
	Ring int `toml:"ring"`
	// Queue bounds each consumer's queue; a consumer that falls this far
	// behind is cut off. Default 1024.
	Queue int `toml:"queue"`
}

// Watching reports whether any Asterisk source is configured (the CTI
// application connects only then).
func (c CTI) Watching() bool {
	return len(c.Endpoints)+len(c.Channels)+len(c.Bridges) > 0
}

// Sources are the eventSource values of the subscriptions.
func (c CTI) Sources() []string {
	var out []string
	for _, e := range c.Endpoints {
		out = append(out, "endpoint:"+e)
	}
	for _, ch := range c.Channels {
		out = append(out, "channel:"+ch)
	}
	for _, b := range c.Bridges {
		out = append(out, "bridge:"+b)
	}
	return out
}

// DefaultCTI returns the defaults of [cti].
func DefaultCTI() CTI {
	return CTI{
		App: "eivr-cti", Endpoints: []string{}, Channels: []string{}, Bridges: []string{},
		Window: Dur(50 * time.Millisecond), ReorderWindow: Dur(20 * time.Millisecond),
		Ring: 10000, Queue: 1024,
	}
}

func (c *Config) validateCTI(bad func(key, format string, args ...any), apps map[string]bool) {
	t := c.CTI
	switch {
	case t.App == "":
		bad("cti.app", "empty (the Stasis application of the CTI subscriptions)")
	case strings.ContainsAny(t.App, ",()\"\\ \t\r\n") || strings.Contains(t.App, "${"):
		bad("cti.app", "%q: a Stasis app name cannot hold commas, parentheses, quotes, blanks or ${", t.App)
	case apps[t.App]:
		bad("cti.app", "%q is an [[app]]: the CTI stream needs an application of its own", t.App)
	}
	for i, e := range t.Endpoints {
		tech, res, hasRes := strings.Cut(e, "/")
		switch {
		case tech == "" || hasRes && res == "" || strings.ContainsAny(e, ", \t\r\n"):
			bad(fmt.Sprintf("cti.endpoints[%d]", i), "%q: want Tech or Tech/resource (\"PJSIP\", \"PJSIP/1000\")", e)
		case strings.EqualFold(tech, "Local"):
			bad(fmt.Sprintf("cti.endpoints[%d]", i), "%q: Local channels have no endpoints (Asterisk refuses endpoint:Local); watch them with cti.channels or cti.bridges", e)
		}
	}
	for _, l := range []struct {
		key string
		ids []string
	}{{"cti.channels", t.Channels}, {"cti.bridges", t.Bridges}} {
		for i, id := range l.ids {
			if id == "" || strings.ContainsAny(id, ", \t\r\n") {
				bad(fmt.Sprintf("%s[%d]", l.key, i), "%q: want an id without commas or blanks", id)
			}
		}
	}
	if t.Window.Duration <= 0 {
		bad("cti.window", "must be more than 0s")
	}
	if t.ReorderWindow.Duration < 0 {
		bad("cti.reorder_window", "must not be negative")
	}
	if t.Ring < 1 {
		bad("cti.ring", "%d: want at least 1", t.Ring)
	}
	if t.Queue < 1 {
		bad("cti.queue", "%d: want at least 1", t.Queue)
	}
}
