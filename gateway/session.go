package gateway

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/eivr"
)

// clientConn is one ExternalIVR client connection (satisfied by eivr.Conn).
type clientConn interface {
	Commands() io.Reader
	Send(line []byte) error
	Done() <-chan struct{}
	Err() error // why Done was closed
	Close(ctx context.Context) error
}

// appSpec is what a session needs from the parsed application string.
type appSpec struct {
	argv         []string
	noAnswer     bool // option n
	ignoreHangup bool // option i
	runDead      bool // option d
	preply       string
	tcp          bool
	host, port   string // ivr:// target
}

// commandSource yields the client's commands, unknown letters included
// (an *eivr.Reader). Param may alias the reader's buffer until the next
// call.
type commandSource interface {
	Next() (eivr.Command, error)
}

// sessionEnv is what sessions of one gateway share. Read-only after start.
type sessionEnv struct {
	ops    channelOps
	sounds soundChecker
	// connect starts the program or dials the server of app.
	connect func(ctx context.Context, app appSpec, log *slog.Logger) (clientConn, commandSource, error)
	now     func() time.Time
	newID   func() string // playback ids (unique per gateway)

	idleSilence  bool          // POST /silence whenever the playlist is empty (§3.5)
	stopTimeout  time.Duration // wait for PlaybackFinished after a stop
	flushTimeout time.Duration // wait for pending variable sets before leaving
	callTimeout  time.Duration // each REST call of the end sequence
	goneGrace    time.Duration // after the client is gone, wait this long for its last commands
	closeTimeout time.Duration // client Close
	trace        bool          // log every command, event line and ARI event at Debug
	maxPending   int           // control-lane calls per session before the reader is throttled (pending.go)
	flushMax     time.Duration // hard bound of the wait for pending sets at the end (0 = 10 × flushTimeout)
	stats        *lifeStats    // the gateway's lifecycle counters (nil in unit tests)
	obs          Observer      // Config.Observer (nil = none)

	// DTMF before the answer (early.go)
	earlyDropped *atomic.Uint64 // digits dropped beyond MaxEarlyDTMF; may be nil
	earlyLimit   int            // digits held before the answer; 0 = MaxEarlyDTMF
}

// endAction is what happens to the channel when a session ends.
type endAction uint8

const (
	endNone     endAction = iota // the channel already left Stasis, or nothing to do
	endContinue                  // POST /continue: the dialplan goes on (E, X, refusals)
	endHangup                    // DELETE /channels: as native's return -1
)

// outcome says why and how a session ended.
type outcome struct {
	action endAction
	status string // EIVRGW_STATUS to set first ("" = none)
	cause  error
}

// session is one ExternalIVR session on one channel. Everything below the
// line is owned by the session goroutine (run); other goroutines reach it
// only through the channels.
type session struct {
	env     *sessionEnv
	log     *slog.Logger
	id      string
	ch      string
	app     appSpec
	first   ari.Channel // StasisStart's channel
	appName string
	started time.Time // set by serve before run
	// released is set when the session gives the channel back (continue
	// or hangup): a new StasisStart for it then starts a new session.
	released   atomic.Bool
	releasedOK bool // the end sequence's continue or hangup was accepted (lifecycle.go)

	events   chan *ari.Event   // from the gateway sink (bounded)
	overflow chan struct{}     // cap 1: the sink dropped an event
	cmds     chan eivr.Command // from the reader goroutine
	ack      chan struct{}     // cap 1: reader may read the next command
	results  chan func()       // completions of async calls, run on the loop
	quit     chan struct{}     // closed when the loop ends: the reader and timers stop
	dead     chan struct{}     // closed when the end sequence no longer takes results
	done     chan struct{}     // closed when run has returned
	wg       sync.WaitGroup    // reader, lane calls, timers, closer

	// --- owned by the session goroutine ---
	refusal    *outcome // set before start: end at once with it
	served     bool     // the session got its client (Observer.SessionStarted was called)
	sendBroken bool     // a Send failed on a broken event stream (logged once)
	conn       clientConn
	readerDone chan struct{}
	readErr    error
	goneTimer  <-chan time.Time
	// opsCtx bounds the calls the loop starts on goroutines; made by run,
	// cancelled by finish: the one context a session keeps (doc.go,
	// Contexts).
	opsCtx    context.Context
	opsCancel context.CancelFunc

	up         bool // channel state Up
	hungUp     bool // hangup seen (ChannelHangupRequest or StasisEnd)
	inStasis   bool // no StasisEnd yet
	infoSent   bool // I,HANGUP sent (option i)
	autoclear  bool
	silenceOn  bool
	lang       string
	pl         playlist
	ctl, media lane
	overlay    map[string]overlayValue // V values not yet confirmed (read-your-writes for G)
	setSeq     uint64
	paused     bool                   // a command waits for an async result; the reader is not acked
	throttled  bool                   // the control lane is at maxPending; the reader is not acked (pending.go)
	queuedSets map[string]*pendingSet // V items queued, not started, by name (coalesced)
	setsFailed int                    // V sets Asterisk refused
	setsLost   int                    // V sets still pending when the end gave up waiting
	ctlPeak    int                    // most control-lane calls pending at once (tests)
	ackOwed    bool
	eventRun   int // events step took in a row without the full select
	out        *outcome
	buf        []byte
	early      []byte                // DTMF received before the answer (early.go)
	known      map[string]knownValue // values G falls back on (known.go)
}

type overlayValue struct {
	value string
	seq   uint64
}

func newSession(env *sessionEnv, log *slog.Logger, id string, ch ari.Channel, app appSpec, queue int) *session {
	return &session{
		env:      env,
		log:      log,
		id:       id,
		ch:       ch.ID,
		app:      app,
		first:    ch,
		events:   make(chan *ari.Event, queue),
		overflow: make(chan struct{}, 1),
		cmds:     make(chan eivr.Command),
		ack:      make(chan struct{}, 1),
		results:  make(chan func(), 4),
		quit:     make(chan struct{}),
		dead:     make(chan struct{}),
		done:     make(chan struct{}),
		up:       ch.State == "Up",
		inStasis: true,
		lang:     ch.Language,
	}
}

// deliver hands an event to the session without blocking (called by the
// gateway sink). It reports false when the queue is full.
func (s *session) deliver(ev *ari.Event) bool {
	select {
	case s.events <- ev:
		return true
	default:
		select {
		case s.overflow <- struct{}{}:
		default:
		}
		return false
	}
}

// run is the session goroutine. base outlives ctx: the end sequence's REST
// calls use it so that they run even when ctx is cancelled (gateway
// shutdown), until the shutdown deadline cancels base.
func (s *session) run(ctx, base context.Context) outcome {
	defer close(s.done)
	s.opsCtx, s.opsCancel = context.WithCancel(base)
	defer s.opsCancel()
	if s.refusal != nil {
		s.out = s.refusal
	} else {
		s.noteSnapshot(&s.first)
		s.start(ctx)
	}
	for s.out == nil {
		s.step(ctx)
	}
	out := *s.out
	s.finish(base, out)
	return out
}

// start does what native does before its main loop (eivr-protocol.md §1,
// §3): answer unless n, start the generator, then reach the client.
func (s *session) start(ctx context.Context) {
	if s.app.runDead && !s.app.noAnswer && !s.up {
		// Q31: native refuses d on a live channel that is not Up.
		s.log.Error("Running ExternalIVR with 'd'ead flag on non-hungup channel isn't supported")
		s.out = &outcome{action: endHangup, status: StatusBadOption, cause: ErrBadOption}
		return
	}
	// Answer and connect on a short-lived goroutine: HTTP, resolving and
	// dialling grow a stack that the long-lived session goroutine would
	// keep (memory per idle session). Events queue meanwhile.
	type result struct {
		missing  error // the channel does not exist (404): the client is not started
		answered bool
		conn     clientConn
		src      commandSource
		err      error
	}
	rc := make(chan result, 1)
	answer := !s.app.noAnswer && !s.up
	go func() {
		var r result
		if answer {
			actx, cancel := context.WithTimeout(ctx, s.env.callTimeout)
			err := s.env.ops.Answer(actx, s.ch)
			cancel()
			if isChannelNotFound(err) {
				r.missing = err
				rc <- r
				return
			}
			if err != nil {
				s.log.Warn("answer failed at start-up; carrying on as native does", "err", err)
			}
			r.answered = err == nil
		}
		r.conn, r.src, r.err = s.env.connect(ctx, s.app, s.log)
		rc <- r
	}()
	r := <-rc
	if r.missing != nil {
		s.log.Error("channel not found; the client is not started", "err", r.missing)
		s.inStasis = false
		s.out = &outcome{action: endNone, cause: errors.Join(ErrNoChannel, r.missing)}
		return
	}
	if r.answered {
		s.up = true
	}
	if !s.app.noAnswer {
		s.pl.start()
	}
	if r.err != nil && ctx.Err() != nil { // shutdown while connecting
		s.out = &outcome{action: endContinue, status: StatusShutdown, cause: context.Cause(ctx)}
		return
	}
	if r.err != nil {
		// Logged once, here, with the error; the end record gives the
		// cause alone.
		s.log.Error("cannot start the ExternalIVR client", "err", r.err)
		s.out = &outcome{action: endHangup, status: StatusStartFailed, cause: ErrStartFailed}
		return
	}
	s.conn = r.conn
	s.served = true
	if o := s.env.obs; o != nil {
		o.SessionStarted(s.info())
	}
	s.readerDone = make(chan struct{})
	s.wg.Add(1)
	go s.readCommands(r.src)
	s.kick()
}

// readCommands is the reader goroutine: one command at a time, handed to
// the loop, which acks it when done (back-pressure on a flooding client).
func (s *session) readCommands(src commandSource) {
	defer s.wg.Done()
	defer close(s.readerDone)
	for {
		c, err := src.Next()
		if err != nil {
			s.readErr = err
			return
		}
		select {
		case s.cmds <- c:
		case <-s.quit:
			return
		}
		select {
		case <-s.ack:
		case <-s.quit:
			return
		}
	}
}

// maxEventRun bounds the queued events step takes in a row without the
// full select, so that commands, results and the context are still
// looked at during a burst of events.
const maxEventRun = 16

// step waits for one thing to happen and handles it. A queued event is
// taken first without the full select (locking every channel of it costs
// more than the event's handling in a burst, the common case), up to
// maxEventRun in a row.
func (s *session) step(ctx context.Context) {
	if s.eventRun < maxEventRun {
		select {
		case ev := <-s.events:
			s.eventRun++
			s.onEvent(ev)
			return
		default:
		}
	}
	s.eventRun = 0
	var cmds <-chan eivr.Command
	if !s.paused && !s.ackOwed {
		cmds = s.cmds
	}
	var gone <-chan struct{}
	if s.goneTimer == nil {
		gone = s.conn.Done()
	}
	select {
	case <-ctx.Done():
		s.end(outcome{action: endContinue, status: StatusShutdown, cause: context.Cause(ctx)})
	case ev := <-s.events:
		s.onEvent(ev)
	case <-s.overflow:
		s.log.Error("ARI event queue of the session overflowed; ending it")
		s.end(outcome{action: endContinue, status: StatusOverload, cause: ErrOverload})
	case c := <-cmds:
		s.ackOwed = true
		s.onCommand(c)
		s.resume()
	case f := <-s.results:
		f()
	case <-gone:
		// The client is gone (§8.3), but lines it wrote before exiting may
		// still be in the pipe. At the end of the command stream the reader
		// reports it once they are all handled; otherwise (stderr closed,
		// Q25; a broken event stream) give it a moment.
		if errors.Is(s.conn.Err(), eivr.ErrClientEOF) {
			s.goneTimer = make(chan time.Time) // never fires: wait for readerDone
		} else {
			s.goneTimer = time.After(s.env.goneGrace)
		}
	case <-s.goneTimer:
		if s.paused { // a command is still being handled: its reply first
			s.goneTimer = time.After(s.env.goneGrace)
			break
		}
		s.end(outcome{action: endHangup, cause: ErrClientGone})
	case <-s.readerDone:
		s.readerDone = nil
		if s.readErr != nil && !errors.Is(s.readErr, io.EOF) {
			s.log.Info("client command stream failed", "err", s.readErr)
		}
		s.end(outcome{action: endHangup, cause: ErrClientGone})
	}
}

// end records the outcome; the first one wins.
func (s *session) end(o outcome) {
	if s.out == nil {
		s.out = &o
	}
}

// pause holds the reader until resume: the command being handled waits for
// an async result, and native handles commands strictly one by one.
func (s *session) pause() { s.paused = true }

// resume lets the reader go on unless a command is still waiting.
func (s *session) resume() {
	if s.paused || s.throttled || !s.ackOwed {
		return
	}
	s.ackOwed = false
	select {
	case s.ack <- struct{}{}:
	default:
	}
}

func (s *session) unpause() {
	s.paused = false
	s.resume()
}

// send writes one event line. A client that does not read is ended (Q27).
func (s *session) send(tag byte, data string) {
	if s.conn == nil {
		return
	}
	s.buf = eivr.AppendEvent(s.buf[:0], tag, s.env.now(), data)
	if s.env.trace {
		s.log.Debug("event line", "event", string(s.buf[:len(s.buf)-1]))
	}
	if err := s.conn.Send(s.buf); err != nil {
		s.sendFailed(err)
		return
	}
	if o := s.env.obs; o != nil {
		o.SessionLine(WireLine{Channel: s.ch, Session: s.id, Sent: true, Line: string(s.buf[:len(s.buf)-1]), At: time.Now()})
	}
}

// sendFailed handles a failed Send. Only a client that does not read its
// events (eivr.ErrSlowClient: its bounded queue is full) is a slow client
// (Q27). Any other failure is a broken event stream: the program exited
// or closed its stdin, the server closed the socket. The conn's Done is
// then closed with that cause and the session ends as on a client gone
// (§8.3), after the lines already in the pipe, as native, which never
// notices a failed event write and ends on EOF.
func (s *session) sendFailed(err error) {
	if !errors.Is(err, eivr.ErrSlowClient) {
		if s.out == nil && !s.sendBroken {
			s.sendBroken = true
			s.log.Info("the client's event stream is broken; it is gone", "err", err)
		}
		select {
		case <-s.conn.Done(): // step's gone case ends the session
		default: // a conn that failed without saying it is done
			s.end(outcome{action: endHangup, cause: errors.Join(ErrClientGone, err)})
		}
		return
	}
	if s.out == nil {
		s.log.Warn("client does not read its events; ending the session", "err", err)
	}
	s.end(outcome{action: endHangup, status: StatusSlowClient, cause: errors.Join(ErrSlowClient, err)})
}

// post runs f on the session loop; used by the goroutines of async calls.
// After the loop has ended f is dropped.
func (s *session) post(f func()) {
	select {
	case s.results <- f:
	case <-s.dead:
	}
}

// push queues a call on a lane and starts it if the lane is free.
func (s *session) push(l *lane, op laneOp) {
	l.q = append(l.q, op)
	if !l.busy {
		s.launch(l)
	}
}

func (s *session) launch(l *lane) {
	if len(l.q) == 0 {
		l.busy = false
		return
	}
	op := l.q[0]
	l.q[0] = laneOp{}
	l.q = l.q[1:]
	if len(l.q) == 0 {
		l.q = nil
	}
	l.busy = true
	if op.start != nil {
		op.start()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := op.do(s.opsCtx)
		s.post(func() {
			if op.done != nil {
				op.done(err)
			}
			s.channelMissing(err)
			s.launch(l)
			if l == &s.ctl {
				s.ctlDone()
			}
		})
	}()
}

// after runs f on the loop after d (a timer owned by the session).
func (s *session) after(d time.Duration, f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			s.post(f)
		case <-s.quit:
		}
	}()
}

// ---- ARI events ----

func (s *session) onEvent(ev *ari.Event) {
	if s.env.trace {
		s.log.Debug("ARI event", "event", ev.Type, "playback", ev.Playback.PlaybackID())
	}
	if ev.Channel.ID == s.ch && ev.Channel.Language != "" {
		s.lang = ev.Channel.Language
	}
	s.noteSnapshot(&ev.Channel)
	switch ev.Kind {
	case ari.KindChannelStateChange:
		wasUp := s.up
		s.up = ev.Channel.State == "Up"
		if s.up && !wasUp {
			s.kick()
			s.releaseEarly()
		}
	case ari.KindChannelDtmfReceived:
		if s.hungUp || len(ev.Digit) != 1 {
			s.digitNotSent(ev.Digit, "hung up or not one digit")
			return
		}
		if !s.up {
			s.holdDigit(ev.Digit[0]) // delivered after the answer, as native
			return
		}
		s.deliverDigit(ev.Digit[0])
	case ari.KindChannelHangupRequest:
		s.onHangup()
	case ari.KindStasisEnd:
		s.inStasis = false
		s.onHangup()
	case ari.KindPlaybackFinished:
		s.playbackEnded(ev.Playback.PlaybackID(), ev.Playback.PlaybackState() == "done")
	case ari.KindStasisStart:
		s.log.Debug("StasisStart for a channel with a session; ignored")
	case ari.KindOther:
		switch ev.Type {
		case resyncType:
			s.resync()
		case goneType:
			s.onGone()
		}
	}
}

// onHangup: hangup detection of eivr-protocol.md §8.2 / ari-mapping.md §6.3.
func (s *session) onHangup() {
	if s.hungUp {
		return
	}
	s.hungUp = true
	s.discardEarly()
	s.haltPlaylist() // no T/D/F for the playlist; Asterisk fails the playback itself
	s.silenceOn = false
	switch {
	case s.app.runDead:
		// d: the hangup is never reported; the client ends the session.
	case s.app.ignoreHangup:
		if !s.infoSent {
			s.infoSent = true
			s.send('I', "HANGUP")
		}
	default:
		s.send('H', "")
		s.end(outcome{action: endNone, cause: ErrHangup})
	}
}

// playbackEnded handles the end of one playback: PlaybackFinished, a failed
// POST, a stop answered 404, or the stop timeout.
func (s *session) playbackEnded(id string, played bool) {
	file := s.pl.cur.file
	f, ours := s.pl.finished(id, played)
	if !ours {
		return
	}
	s.notePlayback(file, false, f == "")
	if f != "" && s.up && !s.hungUp {
		s.send('F', f) // §7.4: F only while Up
	}
	s.kick()
}

// resync checks the outstanding playback after an ARI reconnect: its
// PlaybackFinished may have been lost with the socket. A playback Asterisk
// no longer knows has ended; it is taken as played out.
func (s *session) resync() {
	id := s.pl.outstanding()
	if id == "" {
		return
	}
	s.push(&s.media, laneOp{
		do: func(ctx context.Context) error {
			_, err := s.env.ops.GetPlayback(ctx, id)
			return err
		},
		done: func(err error) {
			if isNotFound(err) {
				s.log.Info("playback ended during the ARI outage", "playback", id)
				s.playbackEnded(id, true)
			}
		},
	})
}

// kick is the generator's tick: post the next file if none is outstanding,
// or start silence when the playlist has run dry.
func (s *session) kick() {
	if s.out != nil || !s.up || s.hungUp || !s.pl.started() {
		return
	}
	if cur, ok := s.pl.next(s.env.newID); ok {
		s.silenceOn = false // a play stops the silence generator (P18)
		s.notePlayback(cur.file, true, false)
		s.postPlay(cur)
		return
	}
	if s.env.idleSilence && !s.silenceOn && s.pl.idle() {
		s.silenceOn = true
		s.push(&s.media, laneOp{
			do: func(ctx context.Context) error { return s.env.ops.StartSilence(ctx, s.ch) },
			done: func(err error) {
				if err != nil {
					s.log.Debug("start silence failed", "err", err)
				}
			},
		})
	}
}

func (s *session) postPlay(cur playing) {
	media := []string{"sound:" + cur.file}
	s.push(&s.media, laneOp{
		do: func(ctx context.Context) error {
			_, err := s.env.ops.Play(ctx, s.ch, cur.id, media, "")
			return err
		},
		done: func(err error) {
			if err != nil {
				s.log.Warn("play failed; skipping the file", "playback", cur.id, "file", cur.file, "err", err)
				s.playbackEnded(cur.id, false) // §7.5: dropped without an event
			}
		},
	})
}

// interrupt is eivr-protocol.md §6 "Interrupt": T for the playing file, D
// for the rest, then the stop.
func (s *session) interrupt() {
	t, dropped, stop := s.pl.interrupt()
	if t != "" {
		s.send('T', t)
	}
	for _, d := range dropped {
		s.send('D', d)
	}
	if stop != "" {
		s.stopPlayback(stop, 0)
	}
}

// stopPlayback sends DELETE /playbacks/{id}; the playlist moves on when its
// PlaybackFinished arrives, when Asterisk says it is already gone (404), or
// after stopTimeout.
func (s *session) stopPlayback(id string, try int) {
	s.push(&s.media, laneOp{
		do: func(ctx context.Context) error { return s.env.ops.StopPlayback(ctx, id) },
		done: func(err error) {
			switch {
			case err == nil:
				s.after(s.env.stopTimeout, func() {
					if s.pl.outstanding() == id {
						s.log.Warn("no PlaybackFinished after stop; moving on", "playback", id)
					}
					s.playbackEnded(id, false)
				})
			case isNotFound(err):
				s.playbackEnded(id, false)
			case isServerError(err) && try < 3 && s.pl.outstanding() == id:
				// P8: 500 right after PlaybackStarted; retry shortly.
				s.after(time.Duration(5*(try+1))*time.Millisecond, func() { s.stopPlayback(id, try+1) })
			default:
				s.log.Warn("stop playback failed", "playback", id, "err", err)
				s.playbackEnded(id, false)
			}
		},
	})
}

// ---- end of session ----

// finish runs the end sequence: release the client, then (if the channel
// is still ours) stop the playback, let pending sets land (bounded), set
// EIVRGW_STATUS and continue or hang up, its REST calls under base (run's:
// it outlives the gateway's ctx until the shutdown deadline). It waits for
// every goroutine the session started.
func (s *session) finish(base context.Context, out outcome) {
	close(s.quit)
	if s.conn != nil {
		conn := s.conn
		s.conn = nil // nothing more is sent: E or H stays the last event
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			ctx, cancel := context.WithTimeout(base, s.env.closeTimeout)
			defer cancel()
			if err := conn.Close(ctx); err != nil {
				s.log.Debug("closing the client", "err", err)
			}
		}()
	}
	s.drainEvents()
	playing := s.haltPlaylist() // nothing more is posted
	if out.action != endNone && s.inStasis && !s.hungUp {
		call := func(name string, f func(ctx context.Context) error) error {
			cctx, cancel := context.WithTimeout(base, s.env.callTimeout)
			defer cancel()
			err := f(cctx)
			if err != nil && !isNotFound(err) {
				s.log.Warn("end of session: "+name+" failed", "err", err)
			}
			return err
		}
		if playing != "" {
			_ = call("stop playback", func(ctx context.Context) error { return s.env.ops.StopPlayback(ctx, playing) })
		}
		s.flush()
		if s.silenceOn && out.action == endContinue {
			_ = call("stop silence", func(ctx context.Context) error { return s.env.ops.StopSilence(ctx, s.ch) })
		}
		if out.status != "" {
			_ = call("set "+StatusVariable, func(ctx context.Context) error {
				return s.env.ops.SetVariable(ctx, s.ch, StatusVariable, out.status)
			})
		}
		s.released.Store(true)
		if s.inStasis {
			s.release(base, out.action) // retried; a failed continue falls back to a hangup
		}
	}
	close(s.dead)
	s.opsCancel()
	s.wg.Wait()
}

// drainEvents notes a StasisEnd already queued (the channel left on its own).
func (s *session) drainEvents() {
	for {
		select {
		case ev := <-s.events:
			if ev.Kind == ari.KindStasisEnd {
				s.inStasis = false
			}
		default:
			return
		}
	}
}
