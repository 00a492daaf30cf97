package eivr

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// Tests of the event writer shared by the transports (conn.go), with a
// fake event stream whose writes the test holds and releases.

// gateWriter records every Write as it starts and announces it on entered,
// then waits for a token on release (when release is not nil).
type gateWriter struct {
	entered chan int      // the length of each Write, as it starts
	release chan struct{} // nil: writes do not wait
	err     error         // returned by every Write

	mu     sync.Mutex
	writes []string
}

func newGateWriter(gated bool) *gateWriter {
	w := &gateWriter{entered: make(chan int, 1000)}
	if gated {
		w.release = make(chan struct{})
	}
	return w
}

func (w *gateWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	w.writes = append(w.writes, string(p))
	w.mu.Unlock()
	w.entered <- len(p)
	if w.release != nil {
		<-w.release
	}
	if w.err != nil {
		return 0, w.err
	}
	return len(p), nil
}

func (w *gateWriter) Writes() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.writes...)
}

func (w *gateWriter) waitEntered(t *testing.T) int {
	t.Helper()
	select {
	case n := <-w.entered:
		return n
	case <-time.After(testWait):
		t.Fatal("no Write started")
	}
	return 0
}

// newTestStream returns a stream writing to w, closed at the end of the
// test (which unblocks a gated writer).
func newTestStream(t *testing.T, w *gateWriter, limit int) *stream {
	t.Helper()
	var s stream
	s.init(strings.NewReader(""), w, limit)
	t.Cleanup(func() {
		s.closeEvents(context.Background(), time.Millisecond, func() error {
			if w.release != nil {
				close(w.release)
			}
			return nil
		})
	})
	return &s
}

// §4.1: lines queued while a write is under way go out together in the next
// single Write, whole and in order.
func TestStream_4_1_WholeLinesCoalesced(t *testing.T) {
	w := newGateWriter(true)
	s := newTestStream(t, w, 0)
	lines := []string{"1,1795457122\n", "F,1795457122,beep\n", "2,1795457122\n", "T,1795457122,hello-world\n"}
	if err := s.Send([]byte(lines[0])); err != nil {
		t.Fatal(err)
	}
	w.waitEntered(t) // the first write is under way and held
	for _, l := range lines[1:] {
		if err := s.Send([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	w.release <- struct{}{}
	if n, want := w.waitEntered(t), len(strings.Join(lines[1:], "")); n != want {
		t.Errorf("second Write of %d bytes, want the %d bytes of the three queued lines", n, want)
	}
	if got := w.Writes(); len(got) != 2 || got[0] != lines[0] || got[1] != strings.Join(lines[1:], "") {
		t.Errorf("writes %q", got)
	}
}

// Send copies the line: the caller may reuse its buffer at once.
func TestStream_SendCopies(t *testing.T) {
	w := newGateWriter(true)
	s := newTestStream(t, w, 0)
	buf := []byte("1,1795457122\n")
	s.Send(buf)
	w.waitEntered(t)
	copy(buf, "2,1795457123\n")
	s.Send(buf)
	copy(buf, "XXXXXXXXXXXX\n")
	w.release <- struct{}{}
	w.waitEntered(t)
	if got := strings.Join(w.Writes(), ""); got != "1,1795457122\n2,1795457123\n" {
		t.Errorf("written %q", got)
	}
}

// §10 Q27: the bound counts the bytes queued and the bytes being written;
// beyond it Send fails with ErrSlowClient, Done closes, and the stream stays
// broken with that same error.
func TestStream_Q27_Bound(t *testing.T) {
	w := newGateWriter(true)
	s := newTestStream(t, w, 100)
	inflight := bytes.Repeat([]byte("a"), 59)
	inflight = append(inflight, '\n')
	if err := s.Send(inflight); err != nil { // 60 bytes being written
		t.Fatal(err)
	}
	w.waitEntered(t)
	if err := s.Send([]byte(strings.Repeat("b", 39) + "\n")); err != nil { // 100: at the limit
		t.Fatalf("Send up to the limit: %v", err)
	}
	select {
	case <-s.Done():
		t.Fatal("Done closed below the limit")
	default:
	}
	err := s.Send([]byte("c\n"))
	if !errors.Is(err, ErrSlowClient) {
		t.Fatalf("Send beyond the limit = %v, want ErrSlowClient", err)
	}
	if err := waitDone(t, s); !errors.Is(err, ErrSlowClient) {
		t.Errorf("Err() = %v, want ErrSlowClient", err)
	}
	if err2 := s.Send([]byte("d\n")); err2 != err {
		t.Errorf("Send on a broken stream = %v, want the first error %v", err2, err)
	}
}

// A write error breaks the stream: Done closes with it and every later Send
// returns it.
func TestStream_WriteErrorSticky(t *testing.T) {
	w := newGateWriter(false)
	w.err = io.ErrClosedPipe
	s := newTestStream(t, w, 0)
	if err := s.Send([]byte("1,1795457122\n")); err != nil {
		t.Fatal(err)
	}
	if err := waitDone(t, s); !errors.Is(err, io.ErrClosedPipe) {
		t.Fatalf("Err() = %v, want the write error", err)
	}
	for range 3 {
		if err := s.Send([]byte("2,1795457122\n")); !errors.Is(err, io.ErrClosedPipe) {
			t.Errorf("Send after a write error = %v, want it again", err)
		}
	}
}

// Closing writes what is queued before the event stream is closed, then
// refuses Send.
func TestStream_CloseFlushes(t *testing.T) {
	w := newGateWriter(false)
	var s stream
	s.init(strings.NewReader(""), w, 0)
	for _, l := range []string{"E,1795457122\n", "x\n"} {
		s.Send([]byte(l))
	}
	var atClose []string
	s.closeEvents(context.Background(), testWait, func() error {
		atClose = w.Writes()
		return nil
	})
	if got := strings.Join(atClose, ""); got != "E,1795457122\nx\n" {
		t.Errorf("written before the stream was closed: %q", got)
	}
	if err := s.Send([]byte("H,1\n")); !errors.Is(err, ErrConnClosed) {
		t.Errorf("Send after close = %v, want ErrConnClosed", err)
	}
	if !errors.Is(s.Err(), ErrConnClosed) {
		t.Errorf("Err() = %v, want ErrConnClosed", s.Err())
	}
}

// After a burst, an idle stream keeps only small buffers (10k sessions must
// fit in 32 KiB each).
func TestStream_BurstBuffersReleased(t *testing.T) {
	w := newGateWriter(true)
	s := newTestStream(t, w, 1<<20)
	line := []byte(strings.Repeat("x", 99) + "\n")
	s.Send(line)
	w.waitEntered(t)
	for range 500 { // 50 KB queued behind the held write
		s.Send(line)
	}
	w.release <- struct{}{}
	w.waitEntered(t)
	w.release <- struct{}{}
	s.Send(line) // one more round trip so the burst buffer was handed back
	w.waitEntered(t)
	w.release <- struct{}{}
	var held int
	if !testwait.For(testWait, func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		held = cap(s.queue) + cap(s.spare)
		return s.inflight == 0 && len(s.queue) == 0 && held <= 2*maxKeptBuffer
	}) {
		t.Fatalf("idle stream holds %d bytes of buffers", held)
	}
}

// Commands reports the end of the command stream through Done and Err.
func TestStream_CommandsEOF(t *testing.T) {
	var s stream
	s.init(strings.NewReader("S,beep\n"), io.Discard, 0)
	defer s.closeEvents(context.Background(), time.Second, func() error { return nil })
	b, err := io.ReadAll(s.Commands())
	if err != nil || string(b) != "S,beep\n" {
		t.Fatalf("ReadAll = %q, %v", b, err)
	}
	if err := waitDone(t, &s); !errors.Is(err, ErrClientEOF) {
		t.Errorf("Err() = %v, want ErrClientEOF", err)
	}
}

// BenchmarkSend measures queueing one event line (the writer drains to
// io.Discard concurrently).
func BenchmarkSend(b *testing.B) {
	var s stream
	s.init(strings.NewReader(""), io.Discard, 1<<30)
	line := []byte("F,1795457122,hello-world\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		if err := s.Send(line); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	s.closeEvents(context.Background(), time.Minute, func() error { return nil })
}

// BenchmarkSendProgram measures events to a real program (cat >/dev/null)
// through a pipe, end to end: each iteration waits until the queue has room.
func BenchmarkSendProgram(b *testing.B) {
	c, err := StartProgram(context.Background(), []string{"/bin/sh", "-c", "exec cat >/dev/null"},
		ProgramConfig{Grace: 100 * time.Millisecond, KillWait: 100 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	p := c.(*program)
	line := []byte("F,1795457122,hello-world\n")
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		for {
			p.mu.Lock()
			room := len(p.queue)+p.inflight+len(line) <= p.limit
			p.mu.Unlock()
			if room {
				break
			}
			time.Sleep(10 * time.Microsecond)
		}
		if err := p.Send(line); err != nil {
			b.Fatal(err)
		}
	}
}

// Send refuses what is not one line: it would break the framing of the
// next event. The stream stays usable.
func TestStream_4_1_SendNeedsLine(t *testing.T) {
	w := newGateWriter(false)
	s := newTestStream(t, w, 0)
	for _, bad := range []string{"", "F,1795457122,beep"} {
		if err := s.Send([]byte(bad)); err == nil {
			t.Errorf("Send(%q) accepted", bad)
		}
	}
	if err := s.Send([]byte("F,1795457122,beep\n")); err != nil {
		t.Errorf("Send of a line after refused ones: %v", err)
	}
	if n := w.waitEntered(t); n != len("F,1795457122,beep\n") {
		t.Errorf("wrote %d bytes, want only the line", n)
	}
}
