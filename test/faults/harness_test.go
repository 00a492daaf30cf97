package faults

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
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
	// Create the runtime's netpoller descriptors before any test counts
	// descriptors.
	if ln, err := net.Listen("tcp", "127.0.0.1:0"); err == nil {
		ln.Close()
	}
	goleak.VerifyTestMain(m)
}

const app = "eivr"

// repoDir is the module root.
func repoDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// script returns the path of a bundled legacy program.
func script(rel string) string { return filepath.Join(repoDir(), "test", rel) }

// noLeaks records descriptors, goroutines and children now and checks, when
// the test ends (after every other cleanup), that none is left over.
func noLeaks(t *testing.T) {
	t.Helper()
	fds := gwharness.CountFDs()
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		if err := goleak.Find(ignore); err != nil {
			t.Errorf("goroutine leak: %v", err)
		}
		if testwait.For(testwait.Long, func() bool { return gwharness.CountFDs() <= fds && len(children()) == 0 }) {
			return
		}
		if n := gwharness.CountFDs(); n > fds {
			t.Errorf("descriptors: %d before, %d after: %s", fds, n, listFDs())
		}
		if c := children(); len(c) > 0 {
			t.Errorf("child processes left: %v", c)
		}
	})
}

func listFDs() string {
	ents, _ := os.ReadDir("/proc/self/fd")
	var out []string
	for _, e := range ents {
		l, _ := os.Readlink("/proc/self/fd/" + e.Name())
		out = append(out, e.Name()+"->"+l)
	}
	return strings.Join(out, " ")
}

// children lists the processes whose parent is this one (zombies included).
func children() []string {
	me := strconv.Itoa(os.Getpid())
	var out []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:]) // state ppid ...
		if len(f) > 1 && f[1] == me {
			out = append(out, e.Name()+" "+s[:i+1]+" "+f[0])
		}
	}
	return out
}

// world is one fake Asterisk, one ARI client and one gateway.
type world struct {
	*gwharness.World
	t *testing.T
}

type opts struct {
	apps  []gateway.AppConfig
	ariCf func(*ari.Config)
	gwCf  func(*gateway.Config)
	srv   *aritest.Server // run on this fake Asterisk (default: a new one)
	speed float64         // aritest's media speed; 0: 20
	sinks []reorder.Sink  // more sinks of the event pipeline
}

func defaultApp() gateway.AppConfig {
	return gateway.AppConfig{
		Name:        app,
		Programs:    []string{script("scripts/transport/*"), script("ivr/*"), script("faults/testdata/*")},
		TCPHosts:    []string{"127.0.0.1:*"},
		Grace:       200 * time.Millisecond,
		WriteBuffer: 4096,
	}
}

// newWorld starts a world; the leak check is registered first so that it
// runs after the world is closed.
func newWorld(t *testing.T, o opts) *world {
	t.Helper()
	noLeaks(t)
	acfg := ari.Config{
		BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond,
		// Margins for a busy 2-core machine under -race: a test of the
		// timeouts themselves sets its own (TestRESTTimeouts).
		RESTTimeout: 2 * time.Second, RESTLongTimeout: 5 * time.Second,
	}
	if o.ariCf != nil {
		o.ariCf(&acfg)
	}
	if o.apps == nil {
		o.apps = []gateway.AppConfig{defaultApp()}
	}
	if o.speed == 0 {
		o.speed = 20
	}
	gcfg := gateway.Config{
		Apps: o.apps, NoIdleSilence: true,
		CallTimeout: time.Second, ShutdownTimeout: 2 * time.Second,
		StopTimeout: 200 * time.Millisecond, FlushTimeout: 500 * time.Millisecond,
	}
	if o.gwCf != nil {
		o.gwCf(&gcfg)
	}
	w := gwharness.Start(t, gwharness.Options{
		App:     app,
		Server:  aritest.Options{Speed: o.speed},
		Srv:     o.srv,
		ARI:     acfg,
		Gateway: gcfg,
		Sinks:   o.sinks,
		Connect: testwait.Long,
		Ready:   true,
	})
	return &world{World: w, t: t}
}

func (w *world) waitConnected() {
	w.t.Helper()
	w.until("the gateway connects to the fake Asterisk", func() bool { return w.Srv.AppConnected(app) && w.GW.Ready() })
}

// until polls cond for up to testwait.Long.
func (w *world) until(what string, cond func() bool) {
	w.t.Helper()
	w.Until(what, testwait.Long, cond)
}

// requested reports whether the fake Asterisk got a method request on a
// path with prefix.
func (w *world) requested(method, prefix string) func() bool {
	return func() bool {
		for _, r := range w.Srv.Requests() {
			if r.Method == method && strings.HasPrefix(r.Path, prefix) {
				return true
			}
		}
		return false
	}
}

func (w *world) call(args ...string) string {
	w.t.Helper()
	id, err := w.Srv.StartCall(app, args, aritest.CallOptions{})
	if err != nil {
		w.t.Fatal(err)
	}
	return id
}

func (w *world) waitEnd(id string) aritest.End {
	w.t.Helper()
	return w.WaitEnd(id, testwait.Long)
}

func (w *world) press(id string, digit rune) {
	w.t.Helper()
	if err := w.Srv.PressDTMF(id, digit, 100*time.Millisecond); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) farHangup(id string) {
	w.t.Helper()
	if err := w.Srv.FarHangup(id, 16); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) waitSessions(n int) {
	w.t.Helper()
	w.until(fmt.Sprintf("%d sessions are live", n), func() bool { return w.GW.Sessions() == n })
}

// wantHungUp checks that the channel was hung up with status ("" = the
// gateway set no EIVRGW_STATUS).
func wantHungUp(t *testing.T, end aritest.End, status string) {
	t.Helper()
	if !end.HungUp || end.Vars[gateway.StatusVariable] != status {
		t.Errorf("end %+v, want hung up with %s=%q", end, gateway.StatusVariable, status)
	}
}

func wantContinued(t *testing.T, end aritest.End, status string) {
	t.Helper()
	if !end.Continued || end.Vars[gateway.StatusVariable] != status {
		t.Errorf("end %+v, want continued with %s=%q", end, gateway.StatusVariable, status)
	}
}

// ---- ivr:// servers ----

type tcpServer struct{ *eivrtest.Server }

func newTCPServer(t *testing.T) *tcpServer {
	t.Helper()
	return &tcpServer{eivrtest.NewServer(t)}
}

func (s *tcpServer) url() string { return s.URL() }

// client is the script's end of one connection the gateway made.
type client struct {
	t  *testing.T
	c  net.Conn
	br *bufio.Reader
}

func (s *tcpServer) accept(t *testing.T) *client {
	t.Helper()
	c := gwharness.Accept(t, s.Server).Conn()
	return &client{t: t, c: c, br: bufio.NewReader(c)}
}

// noConnection checks that the gateway made no connection not accepted.
func (s *tcpServer) noConnection(t *testing.T) {
	t.Helper()
	gwharness.NoConnection(t, s.Server)
}

func (w *world) tcpCall(s *tcpServer, opts string) (string, *client) {
	w.t.Helper()
	id := w.call(s.url()+"(x)", opts)
	return id, s.accept(w.t)
}

func (c *client) send(lines ...string) {
	c.t.Helper()
	for _, l := range lines {
		if _, err := io.WriteString(c.c, l+"\n"); err != nil {
			c.t.Fatalf("send %q: %v", l, err)
		}
	}
}

// next reads one line, timestamp masked ("F,ts,beep").
func (c *client) next() (string, error) {
	c.c.SetReadDeadline(time.Now().Add(testwait.Long))
	l, err := c.br.ReadString('\n')
	return gwharness.Mask(strings.TrimSuffix(l, "\n")), err
}

func (c *client) expect(want ...string) {
	c.t.Helper()
	for _, w := range want {
		l, err := c.next()
		if err != nil {
			c.t.Fatalf("reading, want %q: %v", w, err)
		}
		if l != w {
			c.t.Fatalf("script received %q, want %q", l, w)
		}
	}
}

// params sends P and expects the parameters of a tcpCall: its URL and "x".
func (c *client) params(url string) {
	c.t.Helper()
	c.send("P,x")
	c.expect("P,ts," + url + ",x")
}

// expectEOF waits for the gateway to close the connection.
func (c *client) expectEOF() {
	c.t.Helper()
	l, err := c.next()
	if !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		c.t.Fatalf("want EOF, got %q, %v", l, err)
	}
}

// round runs a short exchange that proves a call works: P, a digit, E.
func (w *world) round(id string, c *client, url string) {
	w.t.Helper()
	c.params(url)
	w.press(id, '7')
	c.expect("7,ts")
	c.send("E,done")
	c.expect("E,ts")
	c.expectEOF()
	wantContinued(w.t, w.waitEnd(id), "")
}
