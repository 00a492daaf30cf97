package gwharness

import (
	"net"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// TCPServer is a scripted ivr:// server: each connection the gateway makes
// is handed to the test.
type TCPServer struct {
	ln    net.Listener
	conns chan net.Conn
	wg    sync.WaitGroup
}

// NewTCPServer listens on a loopback port until the test ends; then it
// closes the connections nobody accepted.
func NewTCPServer(t testing.TB) *TCPServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &TCPServer{ln: ln, conns: make(chan net.Conn, 16)}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(s.conns)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.conns <- c
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
		for c := range s.conns {
			c.Close()
		}
	})
	return s
}

// URL is the server's ivr:// address.
func (s *TCPServer) URL() string { return "ivr://" + s.ln.Addr().String() }

// Accept returns the next connection the gateway made (closed when the test
// ends); t fails if none comes within 10 s.
func (s *TCPServer) Accept(t testing.TB) net.Conn {
	t.Helper()
	select {
	case c := <-s.conns:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(testwait.Long):
		t.Fatal("the gateway did not connect")
		return nil
	}
}

// NoConnection checks that the gateway makes no connection within d (d <= 0:
// that it has made none so far).
func (s *TCPServer) NoConnection(t testing.TB, d time.Duration) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	var c net.Conn
	select {
	case c = <-s.conns:
	case <-timer.C:
		select { // one made just now counts too
		case c = <-s.conns:
		default:
		}
	}
	if c != nil {
		c.Close()
		t.Error("the gateway connected, want no session")
	}
}

// tsRE matches an event line's timestamp field.
var tsRE = regexp.MustCompile(`(?m)^(.),[ -]?\d{1,10}(,|$)`)

// Mask replaces the timestamps of the event lines in s by "ts"
// ("F,1700000000,beep" becomes "F,ts,beep").
func Mask(s string) string { return tsRE.ReplaceAllString(s, "${1},ts${2}") }
