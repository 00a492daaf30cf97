// Transports (this comment is the transport half of the package
// documentation; eivr/doc.go owns the package comment).
//
// A [Conn] is one ExternalIVR client: a local program started with
// [StartProgram] (eivr-protocol.md §3.1) or an ivr:// server reached with
// [DialTCP] (§3.2). Both carry the same two streams: events to the client
// ([Conn.Send]) and commands from it ([Conn.Commands]).
//
// Concurrency. A Conn has one writer goroutine fed by a bounded queue of whole
// lines, so Send never blocks its caller on a slow client: each line reaches
// the client whole, in Send order, never interleaved with another (§4.1). When
// the client stops reading and the queue reaches its byte limit (64 KiB by
// default), Send returns [ErrSlowClient] and the Conn is broken: native
// Asterisk would block the channel forever instead (§10 Q27). A broken Conn
// stays broken: every later Send returns the first error.
//
// Commands has no goroutine of its own: the stream is read only when the
// caller reads it, so a client that floods commands blocks in its own write
// (the pipe or socket buffer fills) as on Asterisk, and one session's flood
// costs no other session anything (§10 Q34). Commands is meant for one
// reader goroutine (the session's [Reader]); Send, Done, Err and Close may be
// called from any goroutine.
//
// Done is closed when the client is gone or the Conn is closed; Err then says
// why: [ErrClientEOF] (end of the command stream: "Child process went away"),
// [ErrStderrEOF] (a program closed its stderr, §10 Q25), [ErrSlowClient], a
// write error (wrapping e.g. [syscall.EPIPE]) or [ErrConnClosed]. The first
// cause wins. Complete lines read from Commands before its io.EOF are still
// the client's commands: read Commands to its end before acting on Done when
// the cause is ErrClientEOF.
//
// Close flushes the queued events (at most FlushTimeout, 1 s by default),
// closes the streams as native does (§8.3: the client reads its last event,
// then EOF; a program writing afterwards gets SIGPIPE), and, for programs,
// waits for the process group to exit during a grace period, then sends
// SIGTERM, then SIGKILL (§10 Q28). It always reaps the child, joins every
// goroutine the Conn started, and is idempotent.
//
// Nothing is sent to the client when it is started or connected: native
// Asterisk sends no greeting (§1); the client asks for its arguments with P.

package eivr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"
)

// A Conn is one client connection: a local program or a TCP server.
type Conn interface {
	// Commands is the command stream: the program's stdout or the socket's
	// read side. It is read only as fast as the caller reads it. After the
	// client closed it, Read returns io.EOF; after Close, an error wrapping
	// ErrConnClosed.
	Commands() io.Reader

	// Send queues one whole event line (its '\n' included) for the client and
	// returns at once; line may be reused when Send returns. A line that does
	// not end in '\n' is refused (an error; nothing queued). It returns
	// ErrSlowClient when the client does not read and the queue is full, the
	// first write error once the connection is broken, and ErrConnClosed
	// after Close.
	Send(line []byte) error

	// Done is closed when the client is gone (end of the command stream,
	// end of a program's stderr, a broken event stream) or Close was called.
	Done() <-chan struct{}

	// Err returns nil while Done is open, then why it was closed.
	Err() error

	// Close ends the connection: flush the queued events, close the streams,
	// and for programs wait, terminate and reap the child. It blocks at most
	// FlushTimeout (TCP), or FlushTimeout + Grace + 2*KillWait (programs);
	// an ended ctx cuts the polite waits short (no more flushing, SIGTERM at
	// once, then SIGKILL after KillWait). Its error is nil unless a program
	// could not be reaped. Calling Close again waits for the first call and
	// returns its result (or ctx's error if ctx ends first).
	Close(ctx context.Context) error
}

// Defaults shared by both transports.
const (
	// DefaultQueueBytes is the default bound of a Conn's event queue.
	DefaultQueueBytes = 64 << 10
	// DefaultFlushTimeout is how long Close waits for queued events to be
	// written before it closes the event stream anyway.
	DefaultFlushTimeout = time.Second

	// maxKeptBuffer: a queue buffer that grew past this during a burst is
	// dropped once written, so idle sessions keep only small buffers.
	maxKeptBuffer = 4 << 10
)

// stream is the part shared by every transport: the bounded event writer,
// the command reader wrapper and the Done/Err state.
type stream struct {
	rd    io.Reader // command stream
	wr    io.Writer // event stream; written by writeLoop only
	limit int       // bytes queued plus being written

	done       chan struct{}
	wake       chan struct{} // capacity 1: queue non-empty or closing
	writerDone chan struct{} // closed when writeLoop returns

	mu       sync.Mutex
	cause    error  // why done was closed; nil while open
	werr     error  // first Send/write failure: the stream is broken
	closing  bool   // Close started: Send refuses, writeLoop drains and exits
	queue    []byte // whole lines not yet handed to wr
	spare    []byte // the other buffer, reused when a batch is written
	inflight int    // bytes writeLoop is writing now
}

// init prepares s and starts its writer goroutine, which runs until the
// stream is closed (closeEvents) or broken.
func (s *stream) init(rd io.Reader, wr io.Writer, limit int) {
	if limit <= 0 {
		limit = DefaultQueueBytes
	}
	s.rd, s.wr, s.limit = rd, wr, limit
	s.done = make(chan struct{})
	s.wake = make(chan struct{}, 1)
	s.writerDone = make(chan struct{})
	go s.writeLoop()
}

// Commands implements Conn.
func (s *stream) Commands() io.Reader { return commandReader{s} }

// Done implements Conn.
func (s *stream) Done() <-chan struct{} { return s.done }

// Err implements Conn.
func (s *stream) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cause
}

// Send implements Conn.
func (s *stream) Send(line []byte) error {
	if len(line) == 0 || line[len(line)-1] != '\n' {
		// Queued as is, it would glue the next event to it (§4.1).
		return fmt.Errorf("send %.40q: not a line ending in \\n", line)
	}
	s.mu.Lock()
	if s.werr != nil {
		err := s.werr
		s.mu.Unlock()
		return err
	}
	if s.closing {
		s.mu.Unlock()
		return ErrConnClosed
	}
	pending := len(s.queue) + s.inflight
	if pending+len(line) > s.limit {
		err := fmt.Errorf("%w: %d bytes pending, limit %d", ErrSlowClient, pending, s.limit)
		s.werr = err
		s.queue = nil // never written now: free it
		s.endLocked(err)
		s.mu.Unlock()
		return err
	}
	wasEmpty := len(s.queue) == 0
	s.queue = append(s.queue, line...)
	s.mu.Unlock()
	if wasEmpty {
		s.signal()
	}
	return nil
}

func (s *stream) signal() {
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

// endLocked closes done with cause unless it is closed already. s.mu is held.
func (s *stream) endLocked(cause error) {
	if s.cause == nil {
		s.cause = cause
		close(s.done)
	}
}

func (s *stream) end(cause error) {
	s.mu.Lock()
	s.endLocked(cause)
	s.mu.Unlock()
}

// writeLoop hands the queued lines to wr, all that is queued in one Write
// (whole lines only), until the stream is closed and drained or broken.
func (s *stream) writeLoop() {
	defer close(s.writerDone)
	for range s.wake {
		for {
			s.mu.Lock()
			if s.werr != nil {
				s.mu.Unlock()
				return
			}
			batch := s.queue
			if len(batch) == 0 {
				closing := s.closing
				s.mu.Unlock()
				if closing {
					return
				}
				break // wait for the next wake-up
			}
			s.queue, s.spare = s.spare[:0], nil
			s.inflight = len(batch)
			s.mu.Unlock()

			_, err := s.wr.Write(batch)

			s.mu.Lock()
			s.inflight = 0
			if cap(batch) <= maxKeptBuffer {
				s.spare = batch[:0]
			}
			if err != nil {
				if s.werr == nil {
					s.werr = fmt.Errorf("write event: %w", err)
				}
				s.endLocked(s.werr)
				s.mu.Unlock()
				return
			}
			s.mu.Unlock()
		}
	}
}

// closeEvents marks the stream closed (Done closes with ErrConnClosed unless
// it has a cause already), lets the writer flush what is queued for at most
// flush or until ctx ends, then calls closeW, which must close the event
// stream (this also unblocks a writer stuck on a client that does not read),
// and joins the writer.
func (s *stream) closeEvents(ctx context.Context, flush time.Duration, closeW func() error) error {
	s.mu.Lock()
	s.closing = true
	s.endLocked(ErrConnClosed)
	broken := s.werr != nil // nothing more will be written
	s.mu.Unlock()
	s.signal()

	if !broken {
		t := time.NewTimer(flush)
		select {
		case <-s.writerDone:
		case <-t.C:
		case <-ctx.Done():
		}
		t.Stop()
	}
	err := closeW()
	<-s.writerDone
	return err
}

func (s *stream) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// commandReader is what Commands returns: the raw command stream, plus the
// bookkeeping of how it ended.
type commandReader struct{ s *stream }

func (r commandReader) Read(p []byte) (int, error) {
	n, err := r.s.rd.Read(p)
	if err == nil {
		return n, nil
	}
	if r.s.isClosing() {
		return n, fmt.Errorf("read commands: %w", ErrConnClosed)
	}
	if errors.Is(err, io.EOF) {
		r.s.end(ErrClientEOF)
		return n, io.EOF
	}
	err = fmt.Errorf("read commands: %w", err)
	r.s.end(err)
	return n, err
}

// closeState makes Close idempotent: the first caller runs the close, later
// callers wait for it (or for their own ctx) and get its result.
type closeState struct {
	mu      sync.Mutex
	started bool
	closed  chan struct{}
	err     error
}

func (c *closeState) do(ctx context.Context, f func() error) error {
	c.mu.Lock()
	if c.closed == nil {
		c.closed = make(chan struct{})
	}
	first := !c.started
	c.started = true
	c.mu.Unlock()
	if first {
		c.err = f()
		close(c.closed)
		return c.err
	}
	select {
	case <-c.closed:
		return c.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func discardIfNil(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}
