// Package eivrtest plays the ExternalIVR client in tests, the way httptest
// plays an HTTP server: [NewServer] is a fake ivr:// server on the loopback
// interface, [Pipe] a connected pair of an [eivr.Conn] (the gateway's side,
// the real TCP transport) and a [Client] (the script's side).
//
// A Client writes raw command bytes ([Client.Command], [Client.Write]) and
// reads the events the gateway sent, one whole line at a time
// ([Client.ReadEvent], [Client.Event]), with a context bounding every wait.
// For local programs, use eivr.StartProgram with the scripts of
// test/scripts/ instead.
//
// Concurrency: a Server is safe for concurrent use. A Client has one reader
// (ReadEvent, Event, ExpectEOF) and one writer (Command, Write) that may run
// in two goroutines; Close may be called from any.
package eivrtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/eivr"
)

// Server is a fake ivr:// server listening on 127.0.0.1. It accepts every
// connection and hands it to the test through Accept.
type Server struct {
	// Host and Port to give eivr.DialTCP; URL is "ivr://Host:Port".
	Host, Port string

	ln    net.Listener
	conns chan *Client  // accepted, not yet taken by Accept
	done  chan struct{} // the accept loop returned

	mu      sync.Mutex
	clients []*Client // every accepted connection, closed by Close
}

// NewServer starts a Server and registers its Close with tb.Cleanup.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("eivrtest: listen: %v", err)
	}
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	s := &Server{Host: host, Port: port, ln: ln, conns: make(chan *Client, 64), done: make(chan struct{})}
	go s.acceptLoop()
	tb.Cleanup(s.Close)
	return s
}

// URL is the server as an application string target: "ivr://127.0.0.1:PORT".
func (s *Server) URL() string { return "ivr://" + net.JoinHostPort(s.Host, s.Port) }

func (s *Server) acceptLoop() {
	defer close(s.done)
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return // Close
		}
		cl := newClient(c)
		s.mu.Lock()
		s.clients = append(s.clients, cl)
		s.mu.Unlock()
		select {
		case s.conns <- cl:
		default: // 64 connections nobody asked for: refuse the rest
			cl.Close()
		}
	}
}

// Accept returns the next connection the server accepted, waiting for it
// until ctx ends.
func (s *Server) Accept(ctx context.Context) (*Client, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("eivrtest: no connection: %w", ctx.Err())
	}
}

// Waiting is the number of connections accepted and not yet taken by
// Accept: with Accept's callers done, the connections nobody expected.
func (s *Server) Waiting() int { return len(s.conns) }

// Close stops listening, closes every accepted connection and waits for the
// accept loop. It is idempotent.
func (s *Server) Close() {
	s.ln.Close()
	<-s.done
	s.mu.Lock()
	clients := s.clients
	s.clients = nil
	s.mu.Unlock()
	for _, c := range clients {
		c.Close()
	}
}

// Pipe returns a connected pair: the gateway's eivr.Conn, dialled with
// eivr.DialTCP and cfg to a fresh Server, and the Client at the server's
// end. Both are closed at the end of the test.
func Pipe(tb testing.TB, cfg eivr.TCPConfig) (eivr.Conn, *Client) {
	tb.Helper()
	s := NewServer(tb)
	conn, err := eivr.DialTCP(context.Background(), s.Host, s.Port, cfg)
	if err != nil {
		tb.Fatalf("eivrtest: %v", err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	c, err := s.Accept(context.Background()) // DialTCP returned: it was accepted
	if err != nil {
		tb.Fatalf("eivrtest: %v", err)
	}
	return conn, c
}

// Client is the client's end of one connection: what a legacy script sees.
type Client struct {
	c  net.Conn
	br *bufio.Reader

	closeOnce sync.Once
}

func newClient(c net.Conn) *Client {
	return &Client{c: c, br: bufio.NewReader(c)}
}

// Command writes line followed by "\n" (one write), as a script prints a
// command.
func (c *Client) Command(line string) error {
	_, err := io.WriteString(c.c, line+"\n")
	return err
}

// Write writes raw bytes: partial lines, several lines at once, NULs, CRs...
func (c *Client) Write(p []byte) (int, error) { return c.c.Write(p) }

// ReadEvent returns the next event line as sent, its "\n" included, waiting
// until ctx ends. At the end of the stream it returns io.EOF (with the bytes
// of an unterminated last line, if any); when ctx ends first, the bytes of
// a partial line read so far are returned with ctx's error.
func (c *Client) ReadEvent(ctx context.Context) (string, error) {
	fired := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		c.c.SetReadDeadline(time.Unix(1, 0)) // unblock the read now
		close(fired)
	})
	defer func() {
		if !stop() { // the deadline was set: clear it for the next read
			<-fired
			c.c.SetReadDeadline(time.Time{})
		}
	}()
	line, err := c.br.ReadString('\n')
	if err != nil && ctx.Err() != nil && !errors.Is(err, io.EOF) {
		return line, fmt.Errorf("eivrtest: no event: %w", ctx.Err())
	}
	return line, err
}

// Event reads the next event and parses it with eivr.ParseEvent.
func (c *Client) Event(ctx context.Context) (eivr.Event, error) {
	line, err := c.ReadEvent(ctx)
	if err != nil {
		return eivr.Event{}, err
	}
	return eivr.ParseEvent([]byte(line))
}

// ExpectEOF reads until the gateway closes the connection and returns an
// error naming any events that arrived meanwhile, or ctx's error.
func (c *Client) ExpectEOF(ctx context.Context) error {
	var extra []string
	for {
		line, err := c.ReadEvent(ctx)
		if line != "" {
			extra = append(extra, line)
		}
		if errors.Is(err, io.EOF) {
			if len(extra) > 0 {
				return fmt.Errorf("eivrtest: events before EOF: %q", extra)
			}
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// CloseWrite ends the command stream only (the script closes its stdout):
// the gateway reads EOF while the client can still read events.
func (c *Client) CloseWrite() error {
	if tc, ok := c.c.(*net.TCPConn); ok {
		return tc.CloseWrite()
	}
	return errors.New("eivrtest: not a TCP connection")
}

// Conn is the connection itself, for a test that reads and writes it
// directly (then it does not use ReadEvent, Event or ExpectEOF).
func (c *Client) Conn() net.Conn { return c.c }

// Close closes the connection (the script exits). It is idempotent.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() { err = c.c.Close() })
	return err
}
