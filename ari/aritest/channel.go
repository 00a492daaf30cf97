package aritest

import (
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"
)

// channel is one simulated channel. Every field is guarded by Server.mu.
// While the channel is in Stasis its own goroutine (runChannel, the
// "Stasis thread") executes the FIFO command queue.
type channel struct {
	id, name    string
	state       string
	caller      callerJSON
	connected   callerJSON
	accountcode string
	dp          dialplanJSON
	created     time.Time
	lang        string
	vars        map[string]string

	app          string // the Stasis app while inStasis
	inStasis     bool
	subApp       string // app subscribed by originate/create: gets events outside Stasis too
	endpoint     string // originated/created: the dialled endpoint
	queue        []*command
	kick         chan struct{} // cap 1: "state changed, look again"
	dead         chan struct{} // closed when the channel is destroyed
	destroyed    bool
	hangup       *hangupReq
	running      bool          // runChannel started
	fromDialplan bool          // entered through StartCall (dialplan Stasis())
	hExten       time.Duration // StartCall's CallOptions.HExten
	dtmfBusy     chan struct{} // cap 1: serialises caller digits
}

type hangupReq struct {
	eventCause int  // cause in ChannelHangupRequest (32 for ARI)
	soft       bool // ARI hangup
	cause      int  // the real cause (End, ChannelDestroyed)
}

type cmdKind int

const (
	cmdPlay cmdKind = iota
	cmdAnswer
	cmdSetVar
	cmdSetVars
	cmdContinue
	cmdMove
	cmdDTMF
	cmdNop
)

type command struct {
	kind  cmdKind
	pb    *playback
	name  string
	value string
	unset bool
	vars  map[string]string // cmdSetVars
	// continue
	context, exten string
	priority       int64
	// move
	app  string
	args []string
	// dtmf
	digits                           string
	before, between, duration, after time.Duration
	reply                            chan error // sync commands; buffered 1
}

var (
	errHungUp     = errors.New("channel hung up")
	errLeftStasis = errors.New("channel left Stasis")
)

// End is how a channel left its Stasis application.
type End struct {
	Continued bool   // left with continue: the dialplan goes on
	Context   string // where it continued (after the defaults of continue)
	Exten     string
	Priority  int64
	Moved     bool   // moved to another app with /move
	App       string // the app it moved to
	HungUp    bool   // hung up (ARI DELETE, far end, continue to a missing context, restart)
	Cause     int    // the real hangup cause (ARI DELETE: from reason, default 16)
	Soft      bool   // hung up through ARI DELETE
	Restarted bool   // vanished in Restart
	Vars      map[string]string
}

type endRec struct {
	done chan struct{}
	end  End
	set  bool
}

func (c *channel) json() channelJSON {
	return channelJSON{
		ID: c.id, Name: c.name, State: c.state, Caller: c.caller, Connected: c.connected,
		AccountCode: c.accountcode, Dialplan: c.dp, CreationTime: formatTS(c.created), Language: c.lang,
	}
}

func (c *channel) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

// chanAppsLocked lists the apps that get events about c: its Stasis app,
// an app subscribed to it (originate, create, /subscription), and every app
// whose socket asked for subscribeAll.
func (s *Server) chanAppsLocked(c *channel) []string {
	var out []string
	add := func(a string) {
		for _, x := range out {
			if x == a {
				return
			}
		}
		out = append(out, a)
	}
	if c.inStasis {
		add(c.app)
	}
	if c.subApp != "" {
		add(c.subApp)
	}
	for name, a := range s.apps {
		if a.subscribeAll && a.client != nil {
			add(name)
		}
	}
	s.ctiAppsLocked(c, add)
	return out
}

// emitLocked publishes a channel event to every app that sees c.
func (s *Server) emitLocked(c *channel, typ string, pre, post []kv) {
	now := time.Now()
	post = append(post, kv{"channel", c.json()})
	for _, a := range s.chanAppsLocked(c) {
		s.publishLocked(a, encodeEvent(typ, now, s.opts.AsteriskID, a, pre, post))
	}
}

// emitToLocked publishes an event to one app.
func (s *Server) emitToLocked(app, typ string, pre, post []kv) {
	s.publishLocked(app, encodeEvent(typ, time.Now(), s.opts.AsteriskID, app, pre, post))
}

func (s *Server) newChannelLocked(id, name string) *channel {
	c := &channel{
		id: id, name: name, state: "Down", created: time.Now(), lang: "en",
		vars: map[string]string{}, kick: make(chan struct{}, 1), dead: make(chan struct{}),
		dtmfBusy: make(chan struct{}, 1),
	}
	s.chans[id] = c
	s.ends[id] = &endRec{done: make(chan struct{})}
	return c
}

func (s *Server) nextIDLocked() string {
	s.seq++
	return fmt.Sprintf("%d.%d", s.started.Unix(), s.seq)
}

func (s *Server) localNameLocked(ctx, exten string) string {
	n := s.nameSeq
	s.nameSeq++
	return fmt.Sprintf("Local/%s@%s-%08x", exten, ctx, n)
}

// enterStasisLocked puts c into app with args and starts its Stasis thread.
func (s *Server) enterStasisLocked(c *channel, app string, args []string) {
	c.dp.AppName = "Stasis"
	c.dp.AppData = strings.Join(append([]string{app}, args...), ",")
	s.setVarLocked(c, "STASISSTATUS", "", false)
	c.app = app
	c.inStasis = true
	if args == nil {
		args = []string{}
	}
	if s.faults.lose > 0 {
		s.faults.lose--
		s.log.Debug("aritest: StasisStart lost (LoseStasisStarts)", "app", app, "channel", c.id)
	} else {
		s.emitToLocked(app, "StasisStart", nil, []kv{{"args", args}, {"channel", c.json()}})
	}
	s.log.Debug("aritest: channel entered Stasis", "app", app, "channel", c.id)
	if !c.running {
		c.running = true
		s.wg.Add(1)
		go s.runChannel(c)
	}
}

// runChannel is the channel's Stasis thread: it runs queued commands in
// order until the channel leaves Stasis or is destroyed.
func (s *Server) runChannel(c *channel) {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		if c.destroyed {
			c.running = false
			s.mu.Unlock()
			return
		}
		if c.hangup != nil {
			s.flushHangupLocked(c)
			c.running = false
			s.mu.Unlock()
			return
		}
		if !c.inStasis {
			c.running = false
			s.mu.Unlock()
			return
		}
		if len(c.queue) == 0 {
			s.mu.Unlock()
			select {
			case <-c.kick:
			case <-s.done:
				return
			}
			continue
		}
		cmd := c.queue[0]
		c.queue = c.queue[1:]
		s.mu.Unlock()
		if !s.exec(c, cmd) {
			return
		}
	}
}

// exec runs one command; false when the server is closing.
func (s *Server) exec(c *channel, cmd *command) bool {
	switch cmd.kind {
	case cmdPlay:
		return s.play(c, cmd.pb)
	case cmdAnswer:
		s.mu.Lock()
		if c.state != "Up" {
			c.state = "Up"
			s.emitLocked(c, "ChannelStateChange", nil, nil)
		}
		s.mu.Unlock()
		cmd.reply <- nil
	case cmdSetVar:
		s.mu.Lock()
		s.setVarLocked(c, cmd.name, cmd.value, cmd.unset)
		s.mu.Unlock()
		cmd.reply <- nil
	case cmdSetVars:
		s.mu.Lock()
		for _, k := range sortedKeys(cmd.vars) {
			s.setVarLocked(c, k, cmd.vars[k], false)
		}
		s.mu.Unlock()
		cmd.reply <- nil
	case cmdContinue:
		s.mu.Lock()
		ok := s.contextExists(cmd.context)
		s.leaveStasisLocked(c, End{Continued: true, Context: cmd.context, Exten: cmd.exten, Priority: cmd.priority, HungUp: !ok})
		c.dp = dialplanJSON{Context: cmd.context, Exten: cmd.exten, Priority: cmd.priority}
		if !ok {
			s.destroyLocked(c)
		}
		s.mu.Unlock()
	case cmdMove:
		s.mu.Lock()
		if !s.appActiveLocked(cmd.app) {
			s.emitLocked(c, "ApplicationMoveFailed", nil, []kv{{"destination", cmd.app}, {"args", nonNil(cmd.args)}})
			s.mu.Unlock()
			return true
		}
		old := c.app
		s.emitToLocked(cmd.app, "StasisStart", nil, []kv{{"args", nonNil(cmd.args)}, {"channel", c.json()}})
		s.emitToLocked(old, "StasisEnd", nil, []kv{{"channel", c.json()}})
		c.app = cmd.app
		s.recordEndLocked(c, End{Moved: true, App: cmd.app})
		s.mu.Unlock()
	case cmdDTMF:
		d := cmd.before + cmd.after
		for i := range cmd.digits {
			d += cmd.duration
			if i > 0 {
				d += cmd.between
			}
		}
		if !s.waitKick(c, s.speedDur(d+100*time.Millisecond)) {
			return false
		}
		s.mu.Lock()
		s.sentDTMF[c.id] += cmd.digits
		s.mu.Unlock()
	case cmdNop:
	}
	return true
}

// waitKick waits d unless the channel is hung up; false if the server closes.
func (s *Server) waitKick(c *channel, d time.Duration) bool {
	end := time.Now().Add(d)
	for {
		s.mu.Lock()
		h := c.hangup != nil || c.destroyed
		s.mu.Unlock()
		left := time.Until(end)
		if h || left <= 0 {
			return true
		}
		t := time.NewTimer(left)
		select {
		case <-t.C:
			return true
		case <-c.kick:
			t.Stop()
		case <-s.done:
			t.Stop()
			return false
		}
	}
}

func nonNil(a []string) []string {
	if a == nil {
		return []string{}
	}
	return a
}

// leaveStasisLocked sends StasisEnd and drops the remaining queue (playbacks
// without events, sync callers get an error).
func (s *Server) leaveStasisLocked(c *channel, e End) {
	for _, cmd := range c.queue {
		if cmd.pb != nil {
			delete(s.playbacks, cmd.pb.id)
		}
		if cmd.reply != nil {
			cmd.reply <- errLeftStasis
		}
	}
	c.queue = nil
	s.emitToLocked(c.app, "StasisEnd", nil, []kv{{"channel", c.json()}})
	c.inStasis = false
	s.recordEndLocked(c, e)
	s.setVarLocked(c, "STASISSTATUS", "SUCCESS", false)
}

// flushHangupLocked ends a hung-up channel that is in Stasis: every queued
// playback gets PlaybackStarted + PlaybackFinished failed (as 22.10.1 does),
// then StasisEnd, then the channel is destroyed.
func (s *Server) flushHangupLocked(c *channel) {
	for _, cmd := range c.queue {
		if pb := cmd.pb; pb != nil {
			if pb.state == "done" { // stopped while queued
				s.pbEventLocked(pb, "PlaybackFinished", 0, "done")
			} else {
				s.pbEventLocked(pb, "PlaybackStarted", 0, "playing")
				s.pbEventLocked(pb, "PlaybackFinished", 0, "failed")
			}
			delete(s.playbacks, pb.id)
		}
		if cmd.reply != nil {
			cmd.reply <- errHungUp
		}
	}
	c.queue = nil
	s.emitToLocked(c.app, "StasisEnd", nil, []kv{{"channel", c.json()}})
	c.inStasis = false
	s.recordEndLocked(c, End{HungUp: true, Cause: c.hangup.cause, Soft: c.hangup.soft})
	s.setVarLocked(c, "STASISSTATUS", "SUCCESS", false)
	if c.fromDialplan {
		// Stasis() returns and the dialplan, finding the channel hung
		// up, hangs it up for good (seen by subscribed apps only).
		s.emitLocked(c, "ChannelHangupRequest", []kv{{"cause", c.hangup.cause}, {"soft", true}}, nil)
		if c.hExten > 0 && !s.closed {
			s.runHExtenLocked(c)
			return
		}
	}
	s.destroyLocked(c)
}

// runHExtenLocked runs the h extension of a hung-up channel that left
// Stasis: it stays readable for c.hExten, then it is destroyed.
func (s *Server) runHExtenLocked(c *channel) {
	c.dp = dialplanJSON{Context: c.dp.Context, Exten: "h", Priority: 1}
	c.vars["HANGUPCAUSE"] = strconv.Itoa(c.hangup.cause)
	s.afterLocked(c, s.speedDur(c.hExten), func() { s.destroyLocked(c) })
}

// afterLocked runs f with s.mu held once d has passed, unless c dies or
// the server closes first. It is called with s.mu held; the timer runs on
// a goroutine of its own, counted in s.wg.
func (s *Server) afterLocked(c *channel, d time.Duration, f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-c.dead:
			return
		case <-s.done:
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		f()
	}()
}

// destroyLocked removes c; an app subscribed to it gets ChannelDestroyed.
func (s *Server) destroyLocked(c *channel) {
	if c.destroyed {
		return
	}
	cause := 0
	if c.hangup != nil {
		cause = c.hangup.cause
	}
	if c.subApp != "" && !c.inStasis {
		c.dp.AppName, c.dp.AppData = "", ""
		s.emitLocked(c, "ChannelDestroyed", nil, []kv{{"cause", cause}, {"cause_txt", causeText(cause)}})
	}
	for _, cmd := range c.queue {
		if cmd.reply != nil {
			cmd.reply <- errHungUp
		}
	}
	c.queue = nil
	c.destroyed = true
	close(c.dead)
	delete(s.chans, c.id)
	for id, pb := range s.playbacks {
		if pb.ch == c {
			delete(s.playbacks, id)
		}
	}
	s.recordEndLocked(c, End{HungUp: true, Cause: cause})
	c.poke()
}

func (s *Server) recordEndLocked(c *channel, e End) {
	r := s.ends[c.id]
	if r == nil || r.set {
		return
	}
	e.Vars = maps.Clone(c.vars)
	r.end, r.set = e, true
	close(r.done)
	s.log.Debug("aritest: channel left Stasis", "channel", c.id, "continued", e.Continued, "hungup", e.HungUp, "cause", e.Cause)
}

// requestHangupLocked starts a hangup. ari: DELETE /channels (event cause 32
// soft); otherwise a far-end hangup with its cause.
func (s *Server) requestHangupLocked(c *channel, cause int, ari bool) {
	if c.hangup != nil || c.destroyed {
		return
	}
	h := &hangupReq{eventCause: cause, cause: cause}
	pre := []kv{{"cause", cause}}
	if ari {
		h.eventCause, h.soft = 32, true
		pre = []kv{{"cause", 32}, {"soft", true}}
	}
	c.hangup = h
	s.emitLocked(c, "ChannelHangupRequest", pre, nil)
	s.leaveAllBridgesLocked(c, time.Now())
	switch {
	case c.inStasis && c.running:
		c.poke() // the Stasis thread flushes and ends
	case c.inStasis:
		s.flushHangupLocked(c)
	default:
		s.destroyLocked(c)
	}
}

// Variables and functions.

func (s *Server) setVarLocked(c *channel, name, value string, unset bool) {
	if fn, arg, ok := splitFunc(name); ok {
		switch fn {
		case "CALLERID":
			switch strings.ToLower(arg) {
			case "num", "number":
				c.caller.Number = value
			case "name":
				c.caller.Name = value
			case "all":
				c.caller = parseCallerID(value)
			default:
				return
			}
			s.emitLocked(c, "ChannelCallerId", nil, []kv{{"caller_presentation", 0}, {"caller_presentation_txt", "Presentation Allowed, Not Screened"}})
		case "CHANNEL":
			if strings.EqualFold(arg, "language") {
				c.lang = value
			}
		}
		return // unknown functions: silently ignored, like Asterisk
	}
	if unset {
		delete(c.vars, name)
		return
	}
	c.vars[name] = value
	s.emitLocked(c, "ChannelVarset", []kv{{"variable", name}, {"value", value}}, nil)
}

var errNoFunc = errors.New("Unable to read provided function")

// getVarLocked reads a variable or function; ok=false = unset.
func (s *Server) getVarLocked(c *channel, name string) (string, bool, error) {
	if fn, arg, ok := splitFunc(name); ok {
		switch fn {
		case "CALLERID":
			switch strings.ToLower(arg) {
			case "num", "number":
				return c.caller.Number, true, nil
			case "name":
				return c.caller.Name, true, nil
			case "all":
				if c.caller.Name == "" {
					return c.caller.Number, true, nil
				}
				return fmt.Sprintf("%q <%s>", c.caller.Name, c.caller.Number), true, nil
			}
		case "CONNECTEDLINE":
			switch strings.ToLower(arg) {
			case "num", "number":
				return c.connected.Number, true, nil
			case "name":
				return c.connected.Name, true, nil
			}
		case "CHANNEL":
			switch strings.ToLower(arg) {
			case "name":
				return c.name, true, nil
			case "state":
				return c.state, true, nil
			case "language":
				return c.lang, true, nil
			case "uniqueid", "linkedid":
				return c.id, true, nil
			}
		case "LEN":
			return strconv.Itoa(len(arg)), true, nil
		}
		return "", false, errNoFunc
	}
	switch name {
	case "EXTEN":
		return c.dp.Exten, true, nil
	case "CONTEXT":
		return c.dp.Context, true, nil
	case "PRIORITY":
		return strconv.FormatInt(c.dp.Priority, 10), true, nil
	case "UNIQUEID":
		return c.id, true, nil
	case "CHANNEL":
		return c.name, true, nil
	}
	v, ok := c.vars[name]
	return v, ok, nil
}

func splitFunc(name string) (fn, arg string, ok bool) {
	if !strings.HasSuffix(name, ")") {
		return "", "", false
	}
	i := strings.IndexByte(name, '(')
	if i <= 0 {
		return "", "", false
	}
	return strings.ToUpper(name[:i]), name[i+1 : len(name)-1], true
}

// parseCallerID parses `"Name" <number>`, `Name <number>` or `number`.
func parseCallerID(s string) callerJSON {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '<'); i >= 0 {
		if j := strings.IndexByte(s[i:], '>'); j > 0 {
			name := strings.Trim(strings.TrimSpace(s[:i]), `"`)
			return callerJSON{Name: name, Number: s[i+1 : i+j]}
		}
	}
	return callerJSON{Number: s}
}

var causeTexts = map[int]string{
	0: "Unknown", 1: "Unallocated (unassigned) number", 16: "Normal Clearing", 17: "User busy",
	18: "No user responding", 19: "User alerting, no answer", 21: "Call Rejected",
	26: "Answered elsewhere", 28: "Invalid number format (addr incomplete)", 31: "Normal, unspecified",
	34: "Circuit/channel congestion", 38: "Network out of order", 58: "Bearer capability not available",
	127: "Interworking, unspecified",
}

func causeText(c int) string {
	if t, ok := causeTexts[c]; ok {
		return t
	}
	return "Unknown"
}

// hangupReasons maps DELETE /channels ?reason= to causes (res/ari/resource_channels.c).
var hangupReasons = map[string]int{
	"normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "timeout": 18, "rejected": 21,
	"unallocated": 1, "normal_unspecified": 31, "number_incomplete": 28, "codec_mismatch": 58,
	"interworking": 127, "failure": 38, "answered_elsewhere": 26,
}
