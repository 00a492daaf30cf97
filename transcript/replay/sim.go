package replay

import (
	"context"
	"sync"
	"time"

	"github.com/eivr-gateway/eivr-gateway/eivr"
	"github.com/eivr-gateway/eivr-gateway/transcript"
)

// sim is the Asterisk side of one replayed session. Everything but the
// command reader runs on Run's goroutine.
type sim struct {
	m    *model
	opt  Options
	conn eivr.Conn
	red  *transcript.Redactor
	wg   sync.WaitGroup

	cmds chan eivr.Command
	rerr chan error
	stop chan struct{}

	up, gen, hungup bool
	autoclear       bool
	playlist        []string // head is playing when playing
	playing         bool
	playEnd         time.Time
	vars            map[string]string
	gAsked          map[string]int

	counts       map[string]int
	reached      map[anchor]time.Time
	next         int // next action
	lastFire     time.Time
	lastActivity time.Time
	goneAt       time.Time // the conn reported the script gone

	commands []string
	end      string
	buf      []byte
}

func newSim(m *model, opt Options, conn eivr.Conn, red *transcript.Redactor) *sim {
	now := time.Now()
	s := &sim{
		m: m, opt: opt, conn: conn, red: red,
		cmds: make(chan eivr.Command), rerr: make(chan error, 1), stop: make(chan struct{}),
		up: !m.opts.NoAnswer, gen: !m.opts.NoAnswer,
		vars: map[string]string{}, gAsked: map[string]int{},
		counts:   map[string]int{},
		reached:  map[anchor]time.Time{{"start", 0}: now},
		lastFire: now, lastActivity: now,
	}
	return s
}

func (s *sim) scaled(d time.Duration) time.Duration {
	return time.Duration(float64(d) / s.opt.Speed)
}

// reader hands the script's commands to run, copied.
func (s *sim) reader() {
	defer s.wg.Done()
	rd := eivr.NewReader(s.conn.Commands())
	for {
		c, err := rd.Next()
		if err != nil {
			s.rerr <- err
			return
		}
		c.Param = append([]byte(nil), c.Param...)
		select {
		case s.cmds <- c:
		case <-s.stop:
			return
		}
	}
}

func (s *sim) mark(kind string) {
	now := time.Now()
	s.counts[kind]++
	if a := (anchor{kind, s.counts[kind]}); s.reached[a].IsZero() {
		s.reached[a] = now
	}
	s.lastActivity = now
}

func (s *sim) run(ctx context.Context) {
	s.wg.Add(1)
	go s.reader()
	defer close(s.stop)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	done := s.conn.Done()
	for s.end == "" {
		now := time.Now()
		wake, due := s.nextWake(now)
		if due {
			s.tick(now)
			continue
		}
		timer.Reset(wake.Sub(now))
		select {
		case <-ctx.Done():
			s.end = "end: replay interrupted"
		case c := <-s.cmds:
			s.command(c)
		case <-s.rerr:
			s.end = EndClosed
		case <-done:
			// Gone: take the commands it wrote before (the reader ends
			// with an error after them), for at most Quiet.
			done = nil
			s.goneAt = time.Now()
		case <-timer.C:
		}
	}
}

// nextWake is when something is due: a file's end, the next caller
// action, or the end of a quiet wait; due is true if it is now.
func (s *sim) nextWake(now time.Time) (time.Time, bool) {
	if !s.goneAt.IsZero() {
		t := s.goneAt.Add(s.opt.Quiet)
		return t, !now.Before(t)
	}
	var wake time.Time
	consider := func(t time.Time) {
		if wake.IsZero() || t.Before(wake) {
			wake = t
		}
	}
	if s.playing {
		consider(s.playEnd)
	}
	if s.next < len(s.m.actions) {
		consider(s.actionAt())
	} else {
		consider(s.lastActivity.Add(s.opt.Quiet)) // a script outliving the recording
	}
	return wake, !now.Before(wake)
}

// actionAt is when the next action happens: its anchor's time plus its
// recorded delay, not before the previous action; or, if its anchor has
// not come, after a quiet wait.
func (s *sim) actionAt() time.Time {
	a := s.m.actions[s.next]
	quiet := s.lastActivity.Add(s.opt.Quiet)
	at, ok := s.reached[a.after]
	if !ok {
		return quiet
	}
	t := at.Add(s.scaled(a.delay))
	if t.Before(s.lastFire) {
		t = s.lastFire
	}
	return t
}

func (s *sim) tick(now time.Time) {
	if !s.goneAt.IsZero() {
		s.end = EndClosed
		return
	}
	if s.playing && !now.Before(s.playEnd) {
		s.fileEnded()
		return
	}
	if s.next < len(s.m.actions) {
		if !now.Before(s.actionAt()) {
			s.fire()
		}
		return
	}
	if !now.Before(s.lastActivity.Add(s.opt.Quiet)) {
		s.opt.Log.Warn("replay: the script is still running after the recording's last action; ending it")
		s.end = EndStillAlive
	}
}

func (s *sim) fire() {
	a := s.m.actions[s.next]
	s.next++
	s.lastFire = time.Now()
	if _, ok := s.reached[a.after]; !ok {
		s.opt.Log.Info("replay: the script went another way; the caller acts anyway", "record", a.record+2)
	}
	switch {
	case a.tag == 'H':
		s.send('H', "", "caller")
		s.end = EndHangup
	case a.tag == 'I':
		if !s.hungup {
			s.send('I', "HANGUP", "caller")
			s.hungup = true
			s.playing = false
		} else {
			s.mark("caller")
		}
	default: // a digit
		if !s.up || s.hungup {
			s.mark("caller") // not read from the channel: lost, as on Asterisk
			return
		}
		s.send(a.tag, "", "caller")
		if s.autoclear {
			s.interrupt()
		}
	}
}

func (s *sim) send(tag byte, data, kind string) {
	s.buf = eivr.AppendEvent(s.buf[:0], tag, time.Now(), data)
	if err := s.conn.Send(s.buf); err != nil && s.end == "" {
		s.opt.Log.Warn("replay: the script does not take its events", "err", err)
		s.end = EndClosed
	}
	s.mark(kind)
}

func (s *sim) fileEnded() {
	file := s.playlist[0]
	s.playlist = s.playlist[1:]
	s.playing = false
	s.mark("played")
	if s.up {
		s.send('F', file, "event")
	}
	s.startNext()
}

func (s *sim) startNext() {
	if s.playing || !s.up || !s.gen || s.hungup || len(s.playlist) == 0 {
		return
	}
	file := s.playlist[0]
	d, ok := s.m.durations[file]
	if !ok {
		d = s.m.callLen // only seen interrupted: plays until interrupted
	}
	s.playing = true
	s.playEnd = time.Now().Add(s.scaled(d))
	s.mark("play")
}

// interrupt is §6's: T for the playing file, D for the rest.
func (s *sim) interrupt() {
	rest := s.playlist
	if s.playing {
		s.send('T', rest[0], "event")
		s.mark("played")
		rest = rest[1:]
		s.playing = false
	}
	for _, f := range rest {
		s.send('D', f, "event")
	}
	s.playlist = nil
}

func (s *sim) exists(file string) bool { return s.m.known[file] && !s.m.missing[file] }

func (s *sim) guarded() bool {
	if !s.up || s.hungup {
		s.send('Z', "", "event")
		return true
	}
	return false
}

func (s *sim) command(c eivr.Command) {
	if line, ok := normalise(c.String(), s.red); ok {
		s.commands = append(s.commands, line)
	}
	s.mark("command")
	switch c.Letter {
	case eivr.CmdPlay, eivr.CmdAppend:
		if s.guarded() {
			return
		}
		if !s.exists(c.File()) {
			s.send('Z', c.File(), "event")
			return
		}
		if c.Letter == eivr.CmdPlay {
			s.interrupt()
		}
		s.playlist = append(s.playlist, c.File())
		s.startNext()
	case eivr.CmdInterrupt:
		if !s.guarded() {
			s.interrupt()
		}
	case eivr.CmdOption:
		if !s.guarded() {
			if on, ok := eivr.Autoclear(c.Param); ok {
				s.autoclear = on
			}
		}
	case eivr.CmdAnswer:
		if !s.up {
			if s.m.opts.RunDead {
				s.send('Z', "ANSWER_FAILURE", "event")
				return
			}
			s.up = true
		}
		s.gen = true
		s.startNext()
	case eivr.CmdSetVars:
		for v, err := range eivr.SetVars(c.Param) {
			if err == nil {
				s.vars[v.Name] = v.Value
			}
		}
	case eivr.CmdGetVars:
		var g eivr.GetReply
		for n := range eivr.GetNames(c.Param) {
			g.Add(n, s.value(n))
		}
		s.send('G', g.String(), "event")
	case eivr.CmdParams:
		s.send('P', (eivr.App{Argv: s.m.argv}).PReply(), "event")
	case eivr.CmdExit:
		s.send('E', "", "event")
		s.end = EndExit
	case eivr.CmdHangup:
		s.send('H', "", "event")
		s.end = EndHangupCmd
	case eivr.CmdExitQuiet:
		s.end = EndExitQuiet
	}
}

// value is a G reply's value: set by V in the replay, else the recorded
// reply's (the k-th asking of a name gets the k-th recorded value, the
// last one after that).
func (s *sim) value(name string) string {
	if v, ok := s.vars[name]; ok {
		return v
	}
	rec := s.m.gValues[name]
	k := s.gAsked[name]
	s.gAsked[name]++
	switch {
	case len(rec) == 0:
		return ""
	case k < len(rec):
		return rec[k]
	}
	return rec[len(rec)-1]
}
