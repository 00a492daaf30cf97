package eivrtest

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/eivr-gateway/eivr-gateway/eivr"
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
