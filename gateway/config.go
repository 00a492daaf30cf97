package gateway

import (
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Config configures a Gateway. The zero value of every field means the
// default named beside it; Apps must name at least one app.
type Config struct {
	// Apps are the Stasis applications served, each with its allow-list.
	Apps []AppConfig
	// EventQueue bounds each session's queue of ARI events. A session
	// whose queue overflows is ended (EIVRGW_STATUS=OVERLOAD, continue).
	// Default 256.
	EventQueue int
	// ShutdownTimeout bounds Run's shutdown: when its ctx ends, live sessions
	// are ended (EIVRGW_STATUS=SHUTDOWN, continue) and their end sequences
	// get this long before their REST calls are cut short. Default 5 s.
	// It is config limits.shutdown_timeout; Drain itself is bounded by its
	// ctx (limits.drain_timeout).
	ShutdownTimeout time.Duration
	// NoIdleSilence turns off the silence an answered channel plays
	// (POST /channels/{id}/silence) whenever its playlist is empty, as
	// native plays silence/10 (ari-mapping.md §3.5). Default false (silence
	// on): peers that need media (RTP keep-alive, NAT) keep getting it.
	NoIdleSilence bool
	// StopTimeout is how long a stopped playback may take to report
	// PlaybackFinished before the playlist moves on. Default 2 s.
	StopTimeout time.Duration
	// FlushTimeout bounds how long the end of a session waits for its
	// pending variable sets without any of them completing before it
	// continues or hangs up the channel; the whole wait is bounded by 10 ×
	// FlushTimeout. Sets still pending then are counted
	// (LifecycleStats.VarsLost) and logged. Default 2 s.
	FlushTimeout time.Duration
	// PendingOps bounds a session's pending channel operations (V
	// sets, D, T) queued or running; at the bound the client's command
	// reader stops until they drain (back-pressure). Sets of one name
	// still queued are coalesced. Default 64.
	PendingOps int
	// CallTimeout bounds each REST call of a session's start (answer) and
	// end (stop, set status, continue/hangup). Default 5 s.
	CallTimeout time.Duration
	// ReleaseRetry is how long the gateway keeps trying to continue or
	// hang up a channel whose release failed after its quick retries
	// (retry.go), a few at a time with a growing pause. Default 10 min;
	// negative: no such retries (a reconnect's reconcile releases it).
	ReleaseRetry time.Duration
	// AdoptWindow: after a reconnect, a channel in the app whose
	// StasisStart was lost with the socket gets its session late (from
	// dialplan.app_data) when the outage lasted at most this long; after
	// a longer outage it is sent back to the dialplan with
	// EIVRGW_STATUS=LATE. Default 10 s.
	AdoptWindow time.Duration
	// SoundsTTL is how long the GET /sounds index is kept. Default 5 min.
	SoundsTTL time.Duration
	// Sounds, if set, is the GET /sounds index this Gateway shares with
	// the other Gateways of its Asterisk (SoundsTTL is then the index's);
	// nil: a cache of its own.
	Sounds *SoundsIndex
	// Trace logs every client command, event line and ARI event of every
	// session at Debug (wire tracing; off by default).
	Trace bool
	// Observer, if set, is told about every session: its start, each
	// line exchanged with its client, its playbacks and how it ended
	// (observe.go). The cmd assembles its metrics, the demo's transcript
	// and other observers with Observers.
	Observer Observer
	// Logger receives everything; nil discards. Lines about a session
	// carry app, channel, session and target (the program path or
	// ivr:// URL, argv[0]; absent when the application string did not
	// parse).
	Logger *slog.Logger
	// Now is the clock of event timestamps. Default time.Now.
	Now func() time.Time
}

// AppConfig is one Stasis application served by the gateway.
type AppConfig struct {
	// Name is the Stasis application name.
	Name string
	// Programs is the allow-list of programs: absolute paths or
	// path.Match globs, matched against argv[0] (which must be a clean
	// absolute path). Empty: no program may run.
	Programs []string
	// TCPHosts is the allow-list of ivr:// servers: "host:port",
	// "host:*" or "host" (port 2949). Empty: no server.
	TCPHosts []string
	// MaxSessions caps concurrent sessions; more calls go straight back
	// to the dialplan with EIVRGW_STATUS=LIMIT. 0 = unlimited.
	MaxSessions int
	// Dir, Env, User and Grace configure programs (eivr.ProgramConfig).
	Dir   string
	Env   []string
	User  string
	Grace time.Duration
	// SoundsDir, if set, is a local copy of Asterisk's sounds directory
	// (e.g. /var/lib/asterisk/sounds) for the existence check of S/A;
	// "" = a cached GET /sounds.
	SoundsDir string
	// ConnectTimeout bounds resolution plus connect of ivr:// targets.
	// 0 = eivr's default (10 s).
	ConnectTimeout time.Duration
	// WriteBuffer bounds the bytes of events queued for a client that
	// does not read (Q27). 0 = eivr's default (64 KiB).
	WriteBuffer int
}

func (c *Config) withDefaults() Config {
	out := *c
	if out.EventQueue <= 0 {
		out.EventQueue = 256
	}
	if out.ShutdownTimeout <= 0 {
		out.ShutdownTimeout = 5 * time.Second
	}
	if out.StopTimeout <= 0 {
		out.StopTimeout = 2 * time.Second
	}
	if out.FlushTimeout <= 0 {
		out.FlushTimeout = 2 * time.Second
	}
	if out.PendingOps <= 0 {
		out.PendingOps = 64
	}
	if out.CallTimeout <= 0 {
		out.CallTimeout = 5 * time.Second
	}
	if out.ReleaseRetry == 0 {
		out.ReleaseRetry = 10 * time.Minute
	}
	if out.AdoptWindow <= 0 {
		out.AdoptWindow = 10 * time.Second
	}
	if out.SoundsTTL <= 0 {
		out.SoundsTTL = 5 * time.Minute
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	if out.Now == nil {
		out.Now = time.Now
	}
	return out
}

func validateApps(apps []AppConfig) (map[string]allowList, error) {
	if len(apps) == 0 {
		return nil, errors.New("gateway: no app configured")
	}
	out := make(map[string]allowList, len(apps))
	var errs []error
	for i, a := range apps {
		if a.Name == "" {
			errs = append(errs, fmt.Errorf("app %d: empty name", i))
			continue
		}
		if _, dup := out[a.Name]; dup {
			errs = append(errs, fmt.Errorf("app %q: configured twice", a.Name))
			continue
		}
		if a.MaxSessions < 0 {
			errs = append(errs, fmt.Errorf("app %q: max_sessions %d < 0", a.Name, a.MaxSessions))
		}
		al, err := newAllowList(a.Programs, a.TCPHosts)
		if err != nil {
			errs = append(errs, fmt.Errorf("app %q: %w", a.Name, err))
			continue
		}
		out[a.Name] = al
	}
	return out, errors.Join(errs...)
}
