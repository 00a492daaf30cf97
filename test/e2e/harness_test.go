package e2e

import (
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/eivr/eivrtest"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
	"github.com/eivr-gateway/eivr-gateway/reorder"
	"github.com/eivr-gateway/eivr-gateway/test/internal/gwharness"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	// The transcript replays run in real time and mostly sleep: run them all
	// at once unless -parallel was given.
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		flag.Set("test.parallel", "32")
	}
	goleak.VerifyTestMain(m)
}

const app = "eivr"

// ivrDir is the absolute path of internal/ivr (the bundled legacy
// programs, run in place from the source tree).
func ivrDir(t testing.TB) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "internal", "ivr")
}

// world is one fake Asterisk, one ARI client and one gateway.
type world struct {
	*gwharness.World
	t testing.TB
}

type worldOpts struct {
	speed  float64
	apps   []gateway.AppConfig
	tweak  func(*gateway.Config)
	order  reorder.Config // the pipeline's event ordering
	sounds map[string]time.Duration
}

func newWorld(t testing.TB, o worldOpts) *world {
	t.Helper()
	if o.speed == 0 {
		o.speed = 20
	}
	if o.apps == nil {
		o.apps = []gateway.AppConfig{{
			Name:     app,
			Programs: []string{filepath.Join(ivrDir(t), "*")},
			TCPHosts: []string{"127.0.0.1:*"},
			Grace:    time.Second,
		}}
	}
	cfg := gateway.Config{Apps: o.apps, NoIdleSilence: true, Trace: true}
	if o.tweak != nil {
		o.tweak(&cfg)
	}
	w := gwharness.Start(t, gwharness.Options{
		App:     app,
		Server:  aritest.Options{Speed: o.speed, Sounds: o.sounds},
		ARI:     ari.Config{BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond},
		Gateway: cfg,
		Reorder: o.order,
		Connect: testwait.Long,
	})
	return &world{World: w, t: t}
}

// call starts a call running Stasis(eivr, args...).
func (w *world) call(args []string, opt aritest.CallOptions) string {
	w.t.Helper()
	id, err := w.Srv.StartCall(app, args, opt)
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

func (w *world) waitEnd(id string) aritest.End {
	w.t.Helper()
	return w.WaitEnd(id, testwait.Long)
}

// waitSessions waits until the gateway has n live sessions.
func (w *world) waitSessions(n int) {
	w.t.Helper()
	w.Until(fmt.Sprintf("%d sessions are live", n), testwait.Long, func() bool { return w.GW.Sessions() == n })
}

// calls returns the REST requests made for channel id, as "METHOD /path?k=v"
// with the channel id written {ch} and playback ids {pb}.
func (w *world) calls(id string) []string {
	var out []string
	for _, r := range w.Srv.Requests() {
		if !strings.Contains(r.Path, id) && !strings.HasPrefix(r.Path, "/playbacks/") {
			continue
		}
		p := strings.ReplaceAll(r.Path, id, "{ch}")
		p = pbRE.ReplaceAllString(p, "{pb}")
		var keys []string
		for k, v := range r.Params {
			if k == "playbackId" {
				v = "{pb}"
			}
			keys = append(keys, k+"="+v)
		}
		sortStrings(keys)
		if len(keys) > 0 {
			p += "?" + strings.Join(keys, "&")
		}
		out = append(out, r.Method+" "+p)
	}
	return out
}

var pbRE = regexp.MustCompile(`eivr-[0-9a-f]+-[0-9]+`)

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// mask replaces the timestamps of event lines by "ts".
func mask(lines string) string { return gwharness.Mask(lines) }

// readLog waits until the transcript file at path satisfies done, and
// returns it masked.
func readLog(t testing.TB, path string, done func(string) bool) string {
	t.Helper()
	var s string
	if !testwait.For(testwait.Long, func() bool {
		b, _ := os.ReadFile(path)
		s = mask(string(b))
		return done(s)
	}) {
		t.Fatalf("transcript %s incomplete:\n%s", path, s)
	}
	return s
}

func hasLine(prefix string) func(string) bool {
	return func(s string) bool {
		for _, l := range strings.Split(s, "\n") {
			if strings.HasPrefix(l, prefix) {
				return true
			}
		}
		return false
	}
}

// tcpServer is a scripted ivr:// server: each accepted connection is handed
// to the test.
type tcpServer struct{ *eivrtest.Server }

func newTCPServer(t testing.TB) *tcpServer {
	t.Helper()
	return &tcpServer{eivrtest.NewServer(t)}
}

func (s *tcpServer) url() string { return s.URL() }

func (s *tcpServer) accept(t testing.TB) net.Conn {
	t.Helper()
	return gwharness.Accept(t, s.Server).Conn()
}

// noConnection checks that the gateway made no connection not accepted.
func (s *tcpServer) noConnection(t testing.TB) {
	t.Helper()
	gwharness.NoConnection(t, s.Server)
}

func fatalf(t testing.TB, format string, a ...any) {
	t.Helper()
	t.Fatal(fmt.Sprintf(format, a...))
}

func listen(t testing.TB) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
