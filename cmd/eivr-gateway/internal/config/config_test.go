package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

const repoConfig = "../../../../config.toml"

// The repository's config.toml documents every key with its default.
func TestRepoConfigIsDefault(t *testing.T) {
	data, err := os.ReadFile(repoConfig)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Parse(repoConfig, data)
	if err != nil {
		t.Fatalf("config.toml does not decode: %v", err)
	}
	if want := Default(); !reflect.DeepEqual(got, want) {
		t.Errorf("config.toml differs from Default():\n got %+v\nwant %+v", got, want)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("the default configuration does not validate: %v", err)
	}
	// Every field of Config is written in config.toml.
	ix := positions(data)
	for _, k := range allKeys(reflect.TypeOf(Config{}), "") {
		if _, ok := ix[k]; ok {
			continue
		}
		// Array tables without a default entry are documented as a
		// commented-out example: "# [[listen.asterisk]]" then "# key = ".
		if tbl, leaf, ok := strings.Cut(k, "[0]."); ok && slices.Contains(exampleTables, tbl) {
			_, example, found := strings.Cut(string(data), "# [["+tbl+"]]\n")
			if found && strings.Contains(example, "# "+leaf+" = ") {
				continue
			}
		}
		t.Errorf("config.toml does not document key %s", k)
	}
}

// exampleTables are the array tables empty by default, documented in
// config.toml by a commented-out example.
var exampleTables = []string{"listen.asterisk"}

// allKeys lists the leaf keys of a config struct type as positions() names
// them ("app[0].name").
func allKeys(t reflect.Type, prefix string) []string {
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		k := prefix + strings.Split(f.Tag.Get("toml"), ",")[0]
		switch {
		case f.Type == reflect.TypeOf(Duration{}):
			keys = append(keys, k)
		case f.Type.Kind() == reflect.Struct:
			keys = append(keys, allKeys(f.Type, k+".")...)
		case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
			keys = append(keys, allKeys(f.Type.Elem(), k+"[0].")...)
		default:
			keys = append(keys, k)
		}
	}
	return keys
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want []string // each *Error's text, in order
	}{
		{
			name: "unknown key",
			doc:  "[ari]\nusername = \"gw\"\npasword = \"x\"\n",
			want: []string{"c.toml:3:1: ari.pasword: unknown key"},
		},
		{
			name: "every unknown key",
			doc:  "[ari]\nurl = \"http://x/ari\"\n[[app]]\nname = \"a\"\nprogram = \"/bin/x\"\n[loggin]\nlevel = \"info\"\n",
			want: []string{
				"c.toml:2:1: ari.url: unknown key",
				"c.toml:5:1: app.program: unknown key",
				"c.toml:6:2: loggin: unknown key",
			},
		},
		{
			name: "wrong type",
			doc:  "# comment\n\n[limits]\nevent_queue = \"256\"\n",
			want: []string{"c.toml:4:15: limits.event_queue: wrong type: got a TOML string, want an integer"},
		},
		{
			name: "duration as a number",
			doc:  "[[app]]\nname = \"a\"\ngrace = 2\n",
			want: []string{`c.toml:3:9: app.grace: wrong type: got a TOML integer, want a string such as "2s"`},
		},
		{
			name: "bad duration",
			doc:  "[limits]\ndrain_timeout = \"30 s\"\n",
			want: []string{`c.toml:2:17: limits.drain_timeout: want a duration such as "2s" or "150ms": time: unknown unit " s" in duration "30 s"`},
		},
		{
			name: "unknown key and wrong type",
			doc:  "[ari]\nusername = \"gw\"\npasword = \"x\"\n\n[limits]\nevent_queue = \"256\"\n",
			want: []string{
				"c.toml:3:1: ari.pasword: unknown key",
				"c.toml:6:15: limits.event_queue: wrong type: got a TOML string, want an integer",
			},
		},
		{
			name: "bool as string",
			doc:  "[admin]\npprof = \"yes\"\n",
			want: []string{"c.toml:2:9: admin.pprof: wrong type: got a TOML string, want a boolean (true or false)"},
		},
		{
			name: "not TOML",
			doc:  "[ari\n",
			want: []string{"c.toml:1:5: expected ']' to close table name"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.toml", []byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse(%q) = nil error, want %q", tt.doc, tt.want)
			}
			var got []string
			for _, p := range Problems(err) {
				got = append(got, p.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Parse(%q) errors:\n got %q\nwant %q", tt.doc, got, tt.want)
			}
		})
	}
}

func TestAppDefaults(t *testing.T) {
	doc := `
[[app]]
name = "sales"
programs = ["/opt/ivr/*"]

[[app]]
name = "support"
grace = "0s"
max_sessions = 10
`
	cfg, err := Parse("c.toml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	want0 := DefaultApp()
	want0.Name, want0.Programs = "sales", []string{"/opt/ivr/*"}
	want1 := DefaultApp()
	want1.Name, want1.Grace, want1.MaxSessions = "support", Dur(0), 10
	if !reflect.DeepEqual(cfg.Apps, []App{want0, want1}) {
		t.Errorf("apps:\n got %+v\nwant %+v", cfg.Apps, []App{want0, want1})
	}
	// Tables the file leaves out keep their defaults.
	if cfg.Limits != Default().Limits || cfg.ARI.Username != "asterisk" {
		t.Errorf("defaults of other tables lost: %+v", cfg)
	}
}

func TestApplyEnv(t *testing.T) {
	cfg := Default()
	cfg.ARI.Password = "from-file"
	env := map[string]string{EnvARIPassword: "s3cret", EnvAdminToken: "tok"}
	ApplyEnv(&cfg, func(k string) string { return env[k] })
	if cfg.ARI.Password != "s3cret" || cfg.Admin.Token != "tok" || cfg.ARI.Username != "asterisk" {
		t.Errorf("after ApplyEnv: %+v / %+v", cfg.ARI, cfg.Admin)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		keys   []string
	}{
		{"default", func(*Config) {}, nil},
		{"no url", func(c *Config) { c.ARI.URLs = nil }, []string{"ari.urls"}},
		{"bad urls", func(c *Config) {
			c.ARI.URLs = []string{"ws://x/ari", "http:///ari", "http://u:p@x/ari", "https://a/ari", "https://a/ari"}
		}, []string{"ari.urls[0]", "ari.urls[1]", "ari.urls[2]", "ari.urls[4]"}},
		{"bad ports", func(c *Config) {
			c.ARI.URLs = []string{"http://a:0/ari", "http://b:99999/ari", "http://c:65535/ari", "http://d:1/ari", "http://e:/ari", "http://:8088/ari"}
		}, []string{"ari.urls[0]", "ari.urls[1]", "ari.urls[5]"}},
		{"no user", func(c *Config) { c.ARI.Username = "" }, []string{"ari.username"}},
		{"secret in env", func(c *Config) {
			c.ARI.Password = "pw"
			c.Apps[0].Env = []string{"EIVR_ADMIN_TOKEN=x", "P=pw", "Q=ok", "EIVR_ARI_PASSWORD="}
		}, []string{"app[0].env[0]", "app[0].env[1]", "app[0].env[3]"}},
		{"cert without key", func(c *Config) { c.ARI.TLS.CertFile = "/c.pem" }, []string{"ari.tls.cert_file"}},
		{"no app", func(c *Config) { c.Apps = nil }, []string{"app"}},
		{"app problems", func(c *Config) {
			a := DefaultApp()
			a.Name = "eivr"
			a.Programs = []string{"/ok/*", "relative/prog", "/bad/[glob", "/x(y)", "/usr//bin/../ivr"}
			a.TCPHosts = []string{"ivr.example", "ivr.example:*", "[::1]:3000", "::1", "h:99999", "ivr://h"}
			a.MaxSessions = -1
			a.Dir = "tmp"
			a.SoundsDir = "sounds"
			a.Env = []string{"LANG=C", "NOEQUALS", "=x"}
			a.ConnectTimeout = Dur(0)
			c.Apps = append(c.Apps, a, App{Name: "a b", ConnectTimeout: Dur(1), WriteBuffer: 4096})
		}, []string{
			"app[1].name", "app[1].programs[1]", "app[1].programs[2]", "app[1].programs[3]", "app[1].programs[4]",
			"app[1].tcp_hosts[3]", "app[1].tcp_hosts[4]", "app[1].tcp_hosts[5]",
			"app[1].max_sessions", "app[1].dir", "app[1].sounds_dir", "app[1].env[1]", "app[1].env[2]",
			"app[1].connect_timeout", "app[2].name",
		}},
		{"transcripts", func(c *Config) {
			c.Apps[0].Transcripts = "relative/dir"
			c.Apps[0].RedactVars = []string{"PIN", "", "A=B"}
			c.Apps[0].TranscriptMaxBytes = 100
			c.Apps[0].TranscriptKeep = 0
		}, []string{"app[0].transcripts", "app[0].redact_vars[1]", "app[0].redact_vars[2]", "app[0].transcript_max_bytes", "app[0].transcript_keep"}},
		{"transcripts ok", func(c *Config) {
			c.Apps[0].Transcripts = "/var/lib/eivr-gateway/transcripts"
			c.Apps[0].RedactDTMF = true
			c.Apps[0].RedactVars = []string{"PIN", "CARD"}
		}, nil},
		{"zero durations", func(c *Config) { c.ARI.RESTTimeout = Dur(0); c.Session.SoundsTTL = Dur(0) }, []string{"ari.rest_timeout", "session.sounds_ttl"}},
		{"queue", func(c *Config) { c.Limits.EventQueue = 0 }, []string{"limits.event_queue"}},
		{"originate", func(c *Config) { c.Originate.App = "nope"; c.Originate.Timeout = Dur(0) }, []string{"originate.app", "originate.timeout"}},
		{"admin", func(c *Config) { c.Admin.Listen = "localhost" }, []string{"admin.listen"}},
		{"admin off", func(c *Config) { c.Admin.Listen = "" }, nil},
		{"cti sources", func(c *Config) {
			c.CTI.Endpoints = []string{"PJSIP/1000", "PJSIP"}
			c.CTI.Channels = []string{"a1"}
			c.CTI.Bridges = []string{"br1"}
		}, nil},
		{"cti app is an [[app]]", func(c *Config) { c.CTI.App = "eivr" }, []string{"cti.app"}},
		{"cti bad", func(c *Config) {
			c.CTI.Endpoints = []string{"/1000", "Local/100@ctx"}
			c.CTI.Channels = []string{"a,b"}
			c.CTI.Window = Dur(0)
			c.CTI.Queue = 0
		}, []string{"cti.endpoints[0]", "cti.endpoints[1]", "cti.channels[0]", "cti.window", "cti.queue"}},
		{"log", func(c *Config) { c.Log.Level = "verbose"; c.Log.Format = "xml" }, []string{"log.level", "log.format"}},
		{"trace without debug", func(c *Config) { c.Log.Trace = true }, []string{"log.trace"}},
		{"trace", func(c *Config) { c.Log.Trace = true; c.Log.Level = "debug" }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := Default()
			tt.change(&cfg)
			var got []string
			for _, p := range Problems(cfg.Validate()) {
				got = append(got, p.Key)
				if p.Msg == "" {
					t.Errorf("%s: empty message", p.Key)
				}
			}
			if !reflect.DeepEqual(got, tt.keys) {
				t.Errorf("Validate() problem keys:\n got %q\nwant %q\n(%v)", got, tt.keys, cfg.Validate())
			}
		})
	}
}

// A URL refused for the credentials it carries is never echoed with them,
// whichever check refuses it (issue 13 item 5).
func TestValidateRedactsURLCredentials(t *testing.T) {
	const pw = "s3cretPW"
	urls := []string{
		"http://gw:" + pw + "@x/ari",
		"http://" + pw + "@x/ari",
		"ftp://gw:" + pw + "@x/ari",
		"http://gw:" + pw + "@x/%zz",
		"http://gw:" + pw + "@:8088/ari",
		"http://gw:" + pw + "@x:0/ari",
		"http://x/ari?api_key=gw:" + pw,
		"http://gw:" + pw + "@x/ari",
	}
	cfg := Default()
	cfg.ARI.URLs = urls
	probs := Problems(cfg.Validate())
	if len(probs) < len(urls) {
		t.Errorf("%d problems for %d URLs with credentials: %v", len(probs), len(urls), probs)
	}
	for _, p := range probs {
		if strings.Contains(p.Error(), pw) {
			t.Errorf("%s: the password is echoed: %s", p.Key, p.Error())
		}
		if !strings.Contains(p.Error(), redacted) {
			t.Errorf("%s: does not show the URL redacted: %s", p.Key, p.Error())
		}
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8088/ari", "http://127.0.0.1:8088/ari"},
		{"http://u:p@h/ari", "http://u:xxxxx@h/ari"},
		{"http://tok@h", "http://xxxxx@h"},
		{"http://u:p@w@h:1/a@b", "http://u:xxxxx@h:1/a@b"},
		{"u:p@h/ari", "u:xxxxx@h/ari"},
		{"https://h/ari?x=1&api_key=u:p#f", "https://h/ari?x=1&api_key=xxxxx#f"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestParseAndValidateLocates(t *testing.T) {
	doc := "[ari]\nurls = [\"ftp://x\"]\n\n[[app]]\nname = \"a\"\n\n[[app]]\nname = \"b\"\nprograms = [\"ivr.pl\"]\n"
	_, err := ParseAndValidate("c.toml", []byte(doc), func(string) string { return "" })
	var got []string
	for _, p := range Problems(err) {
		got = append(got, p.Error())
	}
	want := []string{
		`c.toml:2:1: ari.urls[0]: "ftp://x": scheme must be http or https (the events socket follows: ws or wss)`,
		`c.toml:9:1: app[1].programs[0]: "ivr.pl" is not absolute (native ExternalIVR runs a relative path from Asterisk's working directory; write the full path)`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors:\n got %q\nwant %q", got, want)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Errorf("errors.As(%v, *Error) = false", err)
	}
}

func TestLoad(t *testing.T) {
	p := filepath.Join(t.TempDir(), "gw.toml")
	if err := os.WriteFile(p, []byte("[log]\nlevel = \"debug\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(p)
	if err != nil || cfg.Log.Level != "debug" {
		t.Errorf("Load = %+v, %v", cfg.Log, err)
	}
	if _, err := Load(p + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want os.ErrNotExist", err)
	}
}

func TestSplitHostPattern(t *testing.T) {
	tests := []struct{ in, host, port string }{
		{"ivr.example", "ivr.example", "2949"},
		{"ivr.example:3000", "ivr.example", "3000"},
		{"10.0.0.1:*", "10.0.0.1", "*"},
		{"[::1]", "::1", "2949"},
		{"[::1]:3000", "::1", "3000"},
	}
	for _, tt := range tests {
		h, p, err := SplitHostPattern(tt.in)
		if err != nil || h != tt.host || p != tt.port {
			t.Errorf("SplitHostPattern(%q) = %q, %q, %v; want %q, %q", tt.in, h, p, err, tt.host, tt.port)
		}
	}
}

func FuzzConfig(f *testing.F) {
	if data, err := os.ReadFile(repoConfig); err == nil {
		f.Add(data)
	}
	f.Add([]byte("[[app]]\nname = \"a\"\ngrace = \"1s\"\n[[app]]\n"))
	f.Add([]byte("[ari]\nurls = [1, \"x\"]\n[ari.tls]\nca_file = {a = 1}\n"))
	f.Add([]byte("app = 3\n[limits]\nevent_queue = 1e400\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseAndValidate("f.toml", data, func(string) string { return "" })
		if err != nil {
			for _, p := range Problems(err) {
				if p.Msg == "" {
					t.Errorf("problem without message: %#v", p)
				}
			}
			return
		}
		_ = cfg
	})
}

// A config path that is a FIFO, a device or a directory is refused at once
// (a FIFO used to block open(2) forever, /dev/zero to be read until memory
// ran out); a file over MaxFileSize is refused unread (issue 13 item 8).
func TestReadFileRefusesNonRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo.toml")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	big := filepath.Join(dir, "big.toml")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxFileSize+1); err != nil {
		t.Fatal(err)
	}
	atCap := filepath.Join(dir, "cap.toml")
	if err := os.WriteFile(atCap, []byte("# "+strings.Repeat("x", MaxFileSize-3)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.toml")
	if err := os.Symlink(atCap, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want error // nil: read
	}{
		{fifo, ErrNotRegular},
		{"/dev/zero", ErrNotRegular},
		{dir, ErrNotRegular},
		{big, ErrTooLarge},
		{atCap, nil},
		{link, nil},
		{filepath.Join(dir, "missing.toml"), os.ErrNotExist},
	}
	for _, tt := range tests {
		done := make(chan error, 1)
		go func() {
			_, err := Load(tt.path)
			done <- err
		}()
		select {
		case err := <-done:
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Load(%s) = %v, want %v", tt.path, err, tt.want)
			}
		case <-time.After(20 * time.Second):
			// The goroutine stays blocked in open(2); the test binary is failing anyway.
			t.Fatalf("Load(%s) still blocked after 20s", tt.path)
		}
	}
}

// Every problem is reported at once: a wrong type, a bad or negative
// duration no longer hide the others, validation problems included (issue
// 13 item 6: a negative duration hid 8 other errors).
func TestParseAndValidateReportsAll(t *testing.T) {
	doc := `[ari]
urls = ["ftp://x/ari", "http://a:0/ari"]
rest_timeout = "-5s"
dial_timeout = "10 s"
ping_interval = 5
username = ""

[[app]]
name = "a"
grace = "-1s"
max_sessions = "3"
programs = ["ivr.pl", 7]
pasword = "x"

[[app]]
name = "a"
dir = "rel"

[limits]
event_queue = 0
ari_queue = true

[log]
level = "loud"
`
	_, err := ParseAndValidate("c.toml", []byte(doc), func(string) string { return "" })
	var got []string
	for _, p := range Problems(err) {
		got = append(got, p.Error())
	}
	want := []string{
		`c.toml:3:16: ari.rest_timeout: duration "-5s" is negative`,
		`c.toml:4:16: ari.dial_timeout: want a duration such as "2s" or "150ms": time: unknown unit " s" in duration "10 s"`,
		`c.toml:5:17: ari.ping_interval: wrong type: got a TOML integer, want a string such as "2s"`,
		`c.toml:10:9: app.grace: duration "-1s" is negative`,
		`c.toml:11:16: app.max_sessions: wrong type: got a TOML string, want an integer`,
		`c.toml:12:1: app.programs: wrong type: got a TOML integer in the array, want a string`,
		`c.toml:13:1: app.pasword: unknown key`,
		`c.toml:21:13: limits.ari_queue: wrong type: got a TOML boolean, want an integer`,
		`c.toml:2:1: ari.urls[0]: "ftp://x/ari": scheme must be http or https (the events socket follows: ws or wss)`,
		`c.toml:2:1: ari.urls[1]: "http://a:0/ari": port 0: want 1-65535`,
		`c.toml:6:1: ari.username: empty (ari.conf user; or set EIVR_ARI_USERNAME)`,
		`c.toml:16:1: app[1].name: app "a" is defined twice`,
		`c.toml:17:1: app[1].dir: "rel" is not an absolute path`,
		`c.toml:20:1: limits.event_queue: 0: want at least 1`,
		`c.toml:24:1: log.level: "loud": want debug, info, warn or error`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("problems:\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	// Parse alone reports the key and type problems, and no Config.
	cfg, err := Parse("c.toml", []byte(doc))
	if n := len(Problems(err)); n != 8 || !reflect.DeepEqual(cfg, Config{}) {
		t.Errorf("Parse: %d problems (want 8), config %+v", n, cfg)
	}
}
