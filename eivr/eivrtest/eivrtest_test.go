package eivrtest

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/eivr-gateway/eivr-gateway/eivr"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// The pair carries events to the client and commands to the gateway; the
// gateway's Close reaches the client as its last event, then EOF.
func TestPipe(t *testing.T) {
	conn, c := Pipe(t, eivr.TCPConfig{})
	ctx := ctxT(t)
	if err := conn.Send([]byte("1,1795457122\n")); err != nil {
		t.Fatal(err)
	}
	ev, err := c.Event(ctx)
	if err != nil || ev.Tag != '1' || ev.Unix != 1795457122 {
		t.Fatalf("Event = %+v, %v", ev, err)
	}
	if err := c.Command("S,beep"); err != nil {
		t.Fatal(err)
	}
	r := eivr.NewReader(conn.Commands())
	cmd, err := r.Next()
	if err != nil || cmd.Letter != 'S' || string(cmd.Param) != "beep" {
		t.Fatalf("Next = %c %q, %v", cmd.Letter, cmd.Param, err)
	}
	conn.Send([]byte("E,1795457122\n"))
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if line, err := c.ReadEvent(ctx); line != "E,1795457122\n" || err != nil {
		t.Fatalf("last event %q, %v", line, err)
	}
	if err := c.ExpectEOF(ctx); err != nil {
		t.Error(err)
	}
}

// The client exiting is EOF on the gateway's command stream.
func TestClientClose(t *testing.T) {
	conn, c := Pipe(t, eivr.TCPConfig{})
	c.Command("E,bye")
	c.CloseWrite()
	b, err := io.ReadAll(conn.Commands())
	if string(b) != "E,bye\n" || err != nil {
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
	<-conn.Done()
	if !errors.Is(conn.Err(), eivr.ErrClientEOF) {
		t.Errorf("Err() = %v, want ErrClientEOF", conn.Err())
	}
}

// Waits end with their ctx, and the next read works normally.
func TestTimeouts(t *testing.T) {
	s := NewServer(t)
	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Accept(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Accept = %v, want DeadlineExceeded", err)
	}
	conn, c := Pipe(t, eivr.TCPConfig{})
	if _, err := c.ReadEvent(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ReadEvent = %v, want DeadlineExceeded", err)
	}
	conn.Send([]byte("2,1795457122\n"))
	if line, err := c.ReadEvent(ctxT(t)); line != "2,1795457122\n" || err != nil {
		t.Errorf("ReadEvent after a timeout = %q, %v", line, err)
	}
	if s.URL() != "ivr://127.0.0.1:"+s.Port {
		t.Errorf("URL() = %q", s.URL())
	}
}

// Waiting counts the connections nobody took yet; Conn is the raw socket.
func TestWaitingAndConn(t *testing.T) {
	s := NewServer(t)
	if n := s.Waiting(); n != 0 {
		t.Fatalf("Waiting = %d before any dial", n)
	}
	d, err := net.Dial("tcp", net.JoinHostPort(s.Host, s.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	testwait.Until(t, testwait.Long, "the connection is accepted", func() bool { return s.Waiting() == 1 })
	c, err := s.Accept(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	if n := s.Waiting(); n != 0 {
		t.Errorf("Waiting = %d after Accept", n)
	}
	if _, err := io.WriteString(c.Conn(), "S,beep\n"); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 7)
	if _, err := io.ReadFull(d, b); err != nil || string(b) != "S,beep\n" {
		t.Errorf("read %q, %v through Conn", b, err)
	}
}
