package transcript

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eivr-gateway/eivr-gateway/eivr"
	"github.com/eivr-gateway/eivr-gateway/gateway"
)

// Defaults of AppConfig.
const (
	DefaultMaxBytes = 1 << 20
	DefaultKeep     = 1000
	DefaultQueue    = 1024
)

// endReserve is kept free in every file for the end record.
const endReserve = 1024

// pruneEvery is the least time between two rotations of one directory.
const pruneEvery = time.Second

// ErrConfig marks a bad AppConfig given to New.
var ErrConfig = errors.New("transcript: bad configuration")

// AppConfig is the transcript configuration of one Stasis app.
type AppConfig struct {
	Dir       string // where its transcripts go; created 0700 if missing
	Redaction Redaction
	// MaxBytes bounds one file; the records beyond it are dropped (the
	// end record is always written). 0 = DefaultMaxBytes.
	MaxBytes int64
	// Keep is how many files the directory keeps; the oldest go first.
	// 0 = DefaultKeep.
	Keep int
	// MaxAge removes files older than this (by modification time); 0 =
	// no age limit.
	MaxAge time.Duration
	// Queue bounds the records waiting to be written per session; beyond
	// it they are dropped and counted. 0 = DefaultQueue.
	Queue int
}

// Stats are a Recorder's counters since New.
type Stats struct {
	Files   int64 // transcripts opened
	Records int64 // records written
	Dropped int64 // records dropped (queue full or size bound)
	Errors  int64 // files that could not be opened or written
	Removed int64 // files removed by rotation
}

// Recorder writes call transcripts; it is a gateway.Observer.
type Recorder struct {
	log  *slog.Logger
	apps map[string]*appState

	mu       sync.Mutex
	sessions map[string]*session // by session id; live sessions
	ready    []*session          // sessions with queued records
	prunes   []*appState         // directories to rotate
	closed   bool

	wake chan struct{}
	stop chan struct{}
	done chan struct{}
	once sync.Once

	files, records, dropped, errs, removed atomic.Int64

	// writer goroutine only
	open map[*session]struct{}
}

type appState struct {
	name      string
	cfg       AppConfig
	lastPrune time.Time
}

type session struct {
	app  *appState
	info gateway.SessionInfo

	mu        sync.Mutex
	queue     []item
	scheduled bool  // in Recorder.ready
	dropped   int64 // records dropped from the queue

	// writer goroutine only
	path      string
	f         *os.File
	size      int64
	red       *Redactor
	sawH      bool // the script sent H: an H event is its echo
	truncated bool
	failed    bool
	wdropped  int64 // records dropped by the size bound or a failed file
	buf       []byte
}

type item struct {
	typ         string
	sent        bool
	line        string
	file        string
	interrupted bool
	at          time.Time
	report      *gateway.Report
}

var _ gateway.Observer = (*Recorder)(nil)

// New starts a Recorder for apps (by Stasis app name). It creates the
// directories (0700) and rotates them once. log gets its errors and
// warnings (nil discards). Close must be called.
func New(apps map[string]AppConfig, log *slog.Logger) (*Recorder, error) {
	r, err := newRecorder(apps, log)
	if err != nil {
		return nil, err
	}
	go r.writer()
	return r, nil
}

// newRecorder is New without the writer goroutine.
func newRecorder(apps map[string]AppConfig, log *slog.Logger) (*Recorder, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &Recorder{
		log:      log,
		apps:     map[string]*appState{},
		sessions: map[string]*session{},
		wake:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		open:     map[*session]struct{}{},
	}
	if err := r.Update(apps); err != nil {
		return nil, err
	}
	return r, nil
}

// Update replaces the apps' configurations (a reload): sessions that
// start from now on use them, running ones keep theirs. On an error
// nothing changes.
func (r *Recorder) Update(apps map[string]AppConfig) error {
	next := map[string]*appState{}
	for name, c := range apps {
		if c.Dir == "" {
			return fmt.Errorf("%w: app %q: no directory", ErrConfig, name)
		}
		if c.MaxBytes < 0 || c.Keep < 0 || c.MaxAge < 0 || c.Queue < 0 {
			return fmt.Errorf("%w: app %q: negative limit", ErrConfig, name)
		}
		if c.MaxBytes == 0 {
			c.MaxBytes = DefaultMaxBytes
		}
		if c.MaxBytes < 2*endReserve {
			return fmt.Errorf("%w: app %q: max bytes %d below %d", ErrConfig, name, c.MaxBytes, 2*endReserve)
		}
		if c.Keep == 0 {
			c.Keep = DefaultKeep
		}
		if c.Queue == 0 {
			c.Queue = DefaultQueue
		}
		if err := os.MkdirAll(c.Dir, 0o700); err != nil {
			return fmt.Errorf("transcripts of app %q: %w", name, err)
		}
		next[name] = &appState{name: name, cfg: c}
	}
	r.mu.Lock()
	r.apps = next
	r.mu.Unlock()
	// Rotation of the new directories, by the writer (it knows the open
	// files).
	r.mu.Lock()
	for _, a := range next {
		r.prunes = append(r.prunes, a)
	}
	r.mu.Unlock()
	r.signal()
	return nil
}

func (r *Recorder) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// Stats returns the counters.
func (r *Recorder) Stats() Stats {
	return Stats{
		Files: r.files.Load(), Records: r.records.Load(), Dropped: r.dropped.Load(),
		Errors: r.errs.Load(), Removed: r.removed.Load(),
	}
}

// SessionStarted opens a transcript if the session's app has one.
func (r *Recorder) SessionStarted(info gateway.SessionInfo) {
	r.mu.Lock()
	a := r.apps[info.App]
	if a == nil || r.closed {
		r.mu.Unlock()
		return
	}
	s := &session{app: a, info: info, red: a.cfg.Redaction.NewRedactor()}
	r.sessions[info.Session] = s
	r.mu.Unlock()
	r.enqueue(s, item{typ: TypeHeader, at: info.Started})
}

// SessionLine records a line.
func (r *Recorder) SessionLine(l gateway.WireLine) {
	if s := r.lookup(l.Session, false); s != nil {
		typ := TypeCommand
		if l.Sent {
			typ = TypeEvent
		}
		r.enqueue(s, item{typ: typ, sent: l.Sent, line: l.Line, at: l.At})
	}
}

// SessionPlayback records a playback start or end.
func (r *Recorder) SessionPlayback(p gateway.PlaybackNote) {
	if s := r.lookup(p.Session, false); s != nil {
		typ := TypePlayed
		if p.Started {
			typ = TypePlay
		}
		r.enqueue(s, item{typ: typ, file: p.File, interrupted: p.Interrupted, at: p.At})
	}
}

// SessionEnded writes the end record and closes the file.
func (r *Recorder) SessionEnded(rep gateway.Report) {
	if s := r.lookup(rep.Session, true); s != nil {
		r.enqueue(s, item{typ: TypeEnd, report: &rep, at: rep.Started.Add(rep.Duration)})
	}
}

func (r *Recorder) lookup(id string, remove bool) *session {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	s := r.sessions[id]
	if remove {
		delete(r.sessions, id)
	}
	return s
}

// enqueue never blocks: a full queue drops it (the end record always
// goes in).
func (r *Recorder) enqueue(s *session, it item) {
	s.mu.Lock()
	if len(s.queue) >= s.app.cfg.Queue && it.typ != TypeEnd {
		s.dropped++
		s.mu.Unlock()
		r.dropped.Add(1)
		return
	}
	s.queue = append(s.queue, it)
	schedule := !s.scheduled
	s.scheduled = true
	s.mu.Unlock()
	if !schedule {
		return
	}
	r.mu.Lock()
	r.ready = append(r.ready, s)
	r.mu.Unlock()
	r.signal()
}

// Close writes what is queued, ends the files of sessions still running
// (their end record says so) and stops the writer. It returns ctx's error
// if that takes longer than ctx allows (the writer then finishes on its
// own).
func (r *Recorder) Close(ctx context.Context) error {
	r.once.Do(func() {
		r.mu.Lock()
		r.closed = true
		r.mu.Unlock()
		close(r.stop)
	})
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("transcript: close: %w", ctx.Err())
	}
}

func (r *Recorder) writer() {
	defer close(r.done)
	for {
		select {
		case <-r.wake:
			r.flushReady()
		case <-r.stop:
			r.flushReady()
			for s := range r.open {
				r.finish(s, Record{Type: TypeEnd, Cause: "transcript closed before the session ended", US: time.Since(s.info.Started).Microseconds()})
			}
			r.mu.Lock()
			apps := r.apps
			r.mu.Unlock()
			for _, a := range apps {
				r.prune(a, time.Now())
			}
			return
		}
	}
}

func (r *Recorder) flushReady() {
	for {
		r.mu.Lock()
		batch, prunes := r.ready, r.prunes
		r.ready, r.prunes = nil, nil
		r.mu.Unlock()
		if len(batch) == 0 && len(prunes) == 0 {
			return
		}
		for _, a := range prunes {
			r.prune(a, time.Now())
		}
		for _, s := range batch {
			s.mu.Lock()
			items := s.queue
			s.queue = nil
			s.scheduled = false
			s.mu.Unlock()
			r.write(s, items)
		}
	}
}

// write turns items into records and writes them with one system call.
func (r *Recorder) write(s *session, items []item) {
	s.buf = s.buf[:0]
	for _, it := range items {
		switch it.typ {
		case TypeHeader:
			r.openFile(s)
			if s.f == nil {
				continue
			}
			h := Header{
				V: Version, Type: TypeHeader, App: s.info.App, Channel: s.info.Channel,
				ChannelName: s.info.ChannelName, Session: s.info.Session,
				CallerNum: s.info.CallerNum, CallerName: s.info.CallerName,
				Argv: s.info.Argv, Options: s.info.Options, Started: s.info.Started,
				Redaction: s.app.cfg.Redaction,
			}
			s.buf = appendJSON(s.buf, h)
			continue
		case TypeEnd:
			r.flushBuf(s)
			rep := it.report
			end := Record{Type: TypeEnd, US: rep.Duration.Microseconds(), Served: rep.Served,
				Status: rep.Status, DurationUS: rep.Duration.Microseconds()}
			if rep.Cause != nil {
				end.Cause = rep.Cause.Error()
			}
			r.finish(s, end)
			return
		}
		if s.f == nil {
			s.wdropped++
			r.dropped.Add(1)
			continue
		}
		rec := Record{Type: it.typ, US: it.at.Sub(s.info.Started).Microseconds()}
		switch it.typ {
		case TypeCommand:
			if c, ok := eivr.ParseCommand([]byte(it.line)); ok && c.Letter == eivr.CmdHangup {
				s.sawH = true
			}
			rec.Line = s.red.Line(false, it.line)
		case TypeEvent:
			rec.Caller = callerMark(it.line, s.sawH)
			rec.Line = s.red.Line(true, it.line)
		default:
			rec.File, rec.Interrupted = it.file, it.interrupted
		}
		n := len(s.buf)
		s.buf = appendJSON(s.buf, rec)
		if s.size+int64(len(s.buf)) > s.app.cfg.MaxBytes-endReserve {
			s.buf = s.buf[:n]
			s.truncated = true
			s.wdropped++
			r.dropped.Add(1)
			continue
		}
		r.records.Add(1)
	}
	r.flushBuf(s)
}

// callerMark says whether an event line was the caller's doing.
func callerMark(line string, sawH bool) string {
	if len(line) < 2 || line[1] != ',' {
		return ""
	}
	switch {
	case eivr.IsDTMF(line[0]) && !strings.Contains(line[2:], ","):
		return CallerDTMF
	case line[0] == 'H' && !sawH:
		return CallerHangup
	case line[0] == 'I' && strings.HasSuffix(line, ",HANGUP"):
		return CallerHangup
	}
	return ""
}

func (r *Recorder) flushBuf(s *session) {
	if s.f == nil || len(s.buf) == 0 {
		s.buf = s.buf[:0]
		return
	}
	n, err := s.f.Write(s.buf)
	s.size += int64(n)
	s.buf = s.buf[:0]
	if err != nil {
		r.fail(s, "write", err)
	}
}

func (r *Recorder) openFile(s *session) {
	name := s.info.Started.UTC().Format("20060102T150405.000000Z") + "-" + safeName(s.info.Session) + ".jsonl"
	s.path = filepath.Join(s.app.cfg.Dir, name)
	f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		r.fail(s, "open", err)
		return
	}
	s.f = f
	r.open[s] = struct{}{}
	r.files.Add(1)
}

func (r *Recorder) fail(s *session, op string, err error) {
	r.errs.Add(1)
	s.failed = true
	r.log.Error("transcript: "+op+" failed; the rest of this call is not recorded",
		"app", s.info.App, "channel", s.info.Channel, "session", s.info.Session, "path", s.path, "err", err)
	if s.f != nil {
		s.f.Close()
		s.f = nil
		delete(r.open, s)
	}
}

// finish writes the end record and closes the file.
func (r *Recorder) finish(s *session, end Record) {
	s.mu.Lock()
	qdropped := s.dropped
	s.mu.Unlock()
	end.Dropped = qdropped + s.wdropped
	end.Truncated = s.truncated
	if end.Dropped > 0 {
		r.log.Warn("transcript: records dropped", "app", s.info.App, "channel", s.info.Channel,
			"session", s.info.Session, "dropped", end.Dropped, "truncated", s.truncated, "path", s.path)
	}
	if s.f == nil {
		return
	}
	s.buf = appendJSON(s.buf[:0], end)
	r.flushBuf(s)
	if s.f != nil {
		if err := s.f.Close(); err != nil {
			r.fail(s, "close", err)
		}
		s.f = nil
	}
	delete(r.open, s)
	if now := time.Now(); now.Sub(s.app.lastPrune) >= pruneEvery {
		r.prune(s.app, now)
	}
}

// safeName keeps a session id usable in a file name.
func safeName(id string) string {
	if id == "" {
		return "session"
	}
	return strings.Map(func(c rune) rune {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.':
			return c
		}
		return '_'
	}, id)
}
