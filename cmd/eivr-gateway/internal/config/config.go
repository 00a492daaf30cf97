package config

import "time"

// Config is the whole configuration of eivr-gateway. The TOML key of each
// field is in its tag; the default is stated beside it and set by [Default].
type Config struct {
	ARI       ARI       `toml:"ari"`
	Apps      []App     `toml:"app"` // [[app]] tables; default: one app named "eivr"
	Reorder   Reorder   `toml:"reorder"`
	Session   Session   `toml:"session"`
	Limits    Limits    `toml:"limits"`
	Originate Originate `toml:"originate"`
	Admin     Admin     `toml:"admin"`
	CTI       CTI       `toml:"cti"`
	Log       Log       `toml:"log"`
	Listen    Listen    `toml:"listen"`
}

// ARI says how to reach Asterisk.
type ARI struct {
	// URLs are ARI base URLs, one per Asterisk; the gateway keeps one events
	// socket to each. https:// uses TLS (and wss:// for events).
	// Default ["http://127.0.0.1:8088/ari"].
	URLs []string `toml:"urls"`
	// Username and Password are ari.conf credentials (HTTP basic auth).
	// Default "asterisk" / "" ; the password is better given in the
	// environment variable EIVR_ARI_PASSWORD.
	Username string `toml:"username"`
	Password string `toml:"password"`
	// RESTTimeout bounds the REST calls Asterisk answers at once (play,
	// hangup, gets…). Default "5s".
	RESTTimeout Duration `toml:"rest_timeout"`
	// RESTLongTimeout bounds the calls Asterisk queues behind a playing
	// file (answer, set variable, continue). Default "60s".
	RESTLongTimeout Duration `toml:"rest_long_timeout"`
	// DialTimeout bounds the events WebSocket dial and handshake. Default "10s".
	DialTimeout Duration `toml:"dial_timeout"`
	// PingInterval is how often the gateway pings Asterisk on the events
	// socket (Asterisk never pings). Default "5s".
	PingInterval Duration `toml:"ping_interval"`
	TLS          TLS      `toml:"tls"`
}

// TLS configures https:// ARI URLs.
type TLS struct {
	CAFile     string `toml:"ca_file"`     // PEM CA bundle; "" = system roots
	CertFile   string `toml:"cert_file"`   // client certificate (PEM); "" = none
	KeyFile    string `toml:"key_file"`    // its key (PEM)
	ServerName string `toml:"server_name"` // overrides the URL host for verification; "" = the URL host
	// InsecureSkipVerify disables certificate verification. Default false.
	InsecureSkipVerify bool `toml:"insecure_skip_verify"`
}

// App is one Stasis application served by the gateway ([[app]] table). A
// channel entering Stasis(<name>,<target>(<args>),<options>) gets an
// ExternalIVR session if its target is on this app's allow-list.
type App struct {
	// Name is the Stasis application name. Default "eivr".
	Name string `toml:"name"`
	// Programs is the allow-list of programs: absolute paths or path.Match
	// globs ("/usr/local/ivr/*"). Default [] (no program may run).
	Programs []string `toml:"programs"`
	// TCPHosts is the allow-list of ivr:// servers: "host:port", "host:*"
	// (any port) or "host" (port 2949). Default [] (no server).
	TCPHosts []string `toml:"tcp_hosts"`
	// MaxSessions caps concurrent sessions of this app; further channels
	// are sent back to the dialplan. 0 = unlimited (the default).
	MaxSessions int `toml:"max_sessions"`
	// Dir is the programs' working directory. Default "" = the gateway's.
	Dir string `toml:"dir"`
	// Env adds "NAME=value" entries to the programs' environment. Default [].
	Env []string `toml:"env"`
	// InheritEnv starts the programs' environment from the gateway's own, as
	// Asterisk passes its environment to ExternalIVR programs. Default
	// false: a minimal one (PATH, HOME, USER, LOGNAME of the program's user).
	// Either way the gateway's secrets are left out ([SecretEnv], and any
	// variable whose value is the ARI password or the admin token); Validate
	// refuses them in Env.
	InheritEnv bool `toml:"inherit_env"`
	// User runs programs as this user (the gateway must run as root). Default "" = the gateway's user.
	User string `toml:"user"`
	// Grace is how long a program may run after its session ended (it has
	// seen EOF) before it gets SIGTERM, then SIGKILL 2 s later. Default "30s".
	Grace Duration `toml:"grace"`
	// SoundsDir, if set, is a local copy of Asterisk's sounds used to check
	// that a file exists (S/A commands); "" = ask ARI (GET /sounds, cached).
	SoundsDir string `toml:"sounds_dir"`
	// ConnectTimeout bounds name resolution plus TCP connect for ivr://
	// targets (native ExternalIVR waits for the kernel, ~127 s). Default "5s".
	ConnectTimeout Duration `toml:"connect_timeout"`
	// WriteBuffer bounds the bytes of events queued for a client that
	// does not read them; when full the session ends. Default 65536.
	WriteBuffer int `toml:"write_buffer"`

	// Transcripts, if set, is the directory where every session of this
	// app writes a JSONL call transcript (created 0700, files 0600; see
	// package transcript). Default "" = none.
	Transcripts string `toml:"transcripts"`
	// RedactDTMF hides the caller's digits (and those a script sends with
	// D) in transcripts and the live view. Default false.
	RedactDTMF bool `toml:"redact_dtmf"`
	// RedactVars are variable names whose values are hidden in V commands
	// and G replies (case-insensitive), in transcripts and the live view.
	// Default [].
	RedactVars []string `toml:"redact_vars"`
	// TranscriptMaxBytes bounds one transcript; records beyond it are
	// dropped (the end record says so). Default 1048576.
	TranscriptMaxBytes int `toml:"transcript_max_bytes"`
	// TranscriptKeep is how many transcripts the directory keeps, oldest
	// removed first. Default 1000.
	TranscriptKeep int `toml:"transcript_keep"`
	// TranscriptMaxAge removes transcripts older than this; "0s" = no age
	// limit. Default "720h" (30 days).
	TranscriptMaxAge Duration `toml:"transcript_max_age"`
}

// Reorder tunes how ARI events are put back in causal order per channel.
type Reorder struct {
	// Window is how long state and end events (ChannelStateChange,
	// ChannelCallerId, ChannelConnectedLine, ChannelDestroyed, StasisEnd)
	// wait for earlier-stamped events of their channel; DTMF and playback
	// events never wait. Default "20ms".
	Window Duration `toml:"window"`
	// HoldLimit bounds how long an event whose causal predecessor is
	// missing waits for it. Default "50ms".
	HoldLimit Duration `toml:"hold_limit"`
	// QueueLimit bounds the events held per channel. Default 64.
	QueueLimit int `toml:"queue_limit"`
}

// Session tunes ExternalIVR sessions.
type Session struct {
	// IdleSilence plays silence on an answered channel whose playlist is
	// empty, as native ExternalIVR does. Default true.
	IdleSilence bool `toml:"idle_silence"`
	// CallTimeout bounds each REST call of a session's start and end.
	// Default "5s".
	CallTimeout Duration `toml:"call_timeout"`
	// StopTimeout is how long a stopped playback may take to report its
	// end before the playlist moves on. Default "2s".
	StopTimeout Duration `toml:"stop_timeout"`
	// FlushTimeout bounds how long a session's end waits for its pending
	// variable sets without progress (the whole wait: 10 × it). Default "2s".
	FlushTimeout Duration `toml:"flush_timeout"`
	// SoundsTTL is how long the GET /sounds index is cached. Default "5m".
	SoundsTTL Duration `toml:"sounds_ttl"`
}

// Limits bound resources.
type Limits struct {
	// EventQueue is the per-session queue of ARI events; a session whose
	// queue is full is ended (it never stalls the events socket). Default 256.
	EventQueue int `toml:"event_queue"`
	// PendingOps bounds a session's pending channel operations (V, D, T);
	// at the bound the client's commands are not read until they drain
	// (back-pressure). Default 64.
	PendingOps int `toml:"pending_ops"`
	// ARIQueue bounds the events buffered between the socket and the
	// gateway; beyond it events are dropped and counted. Default 8192.
	ARIQueue int `toml:"ari_queue"`
	// DrainTimeout is how long SIGTERM/SIGINT waits for live sessions to
	// end on their own before ending them. Default "30s".
	DrainTimeout Duration `toml:"drain_timeout"`
	// ShutdownTimeout bounds the end sequences of the sessions ended then.
	// Default "5s".
	ShutdownTimeout Duration `toml:"shutdown_timeout"`
}

// Originate holds the defaults of click-to-call (the originate command and
// POST /v1/calls).
type Originate struct {
	// App is the Stasis app calls are placed into. Default "" = the first [[app]].
	App string `toml:"app"`
	// Timeout is how long the destination may ring. Default "30s".
	Timeout Duration `toml:"timeout"`
	// CallerID is "Name <number>" shown to the destination. Default "".
	CallerID string `toml:"caller_id"`
}

// Admin is the HTTP listener for /metrics, /healthz, /readyz, POST /v1/calls
// and (when enabled) /debug/pprof.
type Admin struct {
	// Listen is the address; "" disables the listener. Default
	// "127.0.0.1:9248" (loopback only).
	Listen string `toml:"listen"`
	// Token is the bearer token POST /v1/calls requires; "" refuses every
	// call. Better given in EIVR_ADMIN_TOKEN. Default "".
	Token string `toml:"token"`
	// Pprof serves /debug/pprof. Default false.
	Pprof bool `toml:"pprof"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error. Default "info".
	Level string `toml:"level"`
	// Format is auto (coloured text on a terminal, JSON otherwise), text or
	// json. Default "auto".
	Format string `toml:"format"`
	// Trace logs every client command, event line and ARI event of every
	// session (wire tracing, at debug level: needs Level "debug").
	// Verbose; default false.
	Trace bool `toml:"trace"`
}

// Default returns a fresh copy of the default configuration; it matches the
// repository's config.toml.
func Default() Config {
	return Config{
		ARI: ARI{
			URLs:            []string{"http://127.0.0.1:8088/ari"},
			Username:        "asterisk",
			RESTTimeout:     Dur(5 * time.Second),
			RESTLongTimeout: Dur(60 * time.Second),
			DialTimeout:     Dur(10 * time.Second),
			PingInterval:    Dur(5 * time.Second),
		},
		Apps: []App{DefaultApp()},
		Reorder: Reorder{
			Window:     Dur(20 * time.Millisecond),
			HoldLimit:  Dur(50 * time.Millisecond),
			QueueLimit: 64,
		},
		Session: Session{
			IdleSilence:  true,
			CallTimeout:  Dur(5 * time.Second),
			StopTimeout:  Dur(2 * time.Second),
			FlushTimeout: Dur(2 * time.Second),
			SoundsTTL:    Dur(5 * time.Minute),
		},
		Limits: Limits{
			EventQueue:      256,
			PendingOps:      64,
			ARIQueue:        8192,
			DrainTimeout:    Dur(30 * time.Second),
			ShutdownTimeout: Dur(5 * time.Second),
		},
		Originate: Originate{
			Timeout: Dur(30 * time.Second),
		},
		Admin: Admin{
			Listen: "127.0.0.1:9248",
		},
		CTI: DefaultCTI(),
		Log: Log{
			Level:  "info",
			Format: "auto",
		},
		Listen: Listen{Path: "/ari", RedialWindow: Dur(30 * time.Second), Asterisks: []ListenAsterisk{}},
	}
}

// DefaultApp returns the default [[app]]; keys an [[app]] table leaves out
// take these values.
func DefaultApp() App {
	return App{
		Name:           "eivr",
		Programs:       []string{},
		TCPHosts:       []string{},
		Env:            []string{},
		Grace:          Dur(30 * time.Second),
		ConnectTimeout: Dur(5 * time.Second),
		WriteBuffer:    64 << 10,

		RedactVars:         []string{},
		TranscriptMaxBytes: 1 << 20,
		TranscriptKeep:     1000,
		TranscriptMaxAge:   Dur(720 * time.Hour),
	}
}
