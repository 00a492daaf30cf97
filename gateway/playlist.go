package gateway

// playlist is the ExternalIVR playlist generator of eivr-protocol.md §7,
// rebuilt on ARI playbacks as ari-mapping.md §3 describes: the list of
// names lives here, and at most one playback is outstanding in Asterisk.
//
// It is pure state: it does no I/O. Its methods return what the session has
// to send to the client (T/D/F names) and to Asterisk (a play to post, a
// playback to stop). Only the session goroutine touches it.
type playlist struct {
	state plState
	cur   playing  // the outstanding playback (statePlaying, stateStopping)
	queue []string // files not yet posted, in order
}

// plState names the generator's states (ari-mapping.md §3.0).
type plState uint8

const (
	// plOff: no generator (option n before T; before start-up answer).
	// S/A only fill the queue.
	plOff plState = iota
	// plIdle: generator on, no playback outstanding ("playing silence").
	plIdle
	// plPlaying: cur is posted and has not finished.
	plPlaying
	// plStopping: a DELETE was sent for cur ("interruption pending"); its
	// PlaybackFinished has not been handled yet. cur.file was already
	// reported with T.
	plStopping
)

func (s plState) String() string {
	switch s {
	case plOff:
		return "off"
	case plIdle:
		return "idle"
	case plPlaying:
		return "playing"
	case plStopping:
		return "stopping"
	}
	return "?"
}

type playing struct {
	id   string // gateway-chosen playback id
	file string // EIVR name as given by the client
}

// start turns the generator on (start-up answer or T). It reports whether
// it was off.
func (p *playlist) start() bool {
	if p.state != plOff {
		return false
	}
	p.state = plIdle
	return true
}

// started reports whether the generator exists.
func (p *playlist) started() bool { return p.state != plOff }

// add appends a file (A, and the second half of S).
func (p *playlist) add(file string) { p.queue = append(p.queue, file) }

// interrupt is the atomic "interrupt" of eivr-protocol.md §6 shared by S, I
// and autoclear. It returns the file to report with T ("" if none was
// playing or an interruption is already pending), the files to report with
// D in playlist order, and the playback id to stop ("" for none).
// The returned dropped slice is owned by the caller.
func (p *playlist) interrupt() (t string, dropped []string, stop string) {
	if p.state == plPlaying {
		t, stop = p.cur.file, p.cur.id
		p.state = plStopping
	}
	dropped = p.queue
	p.queue = nil
	return t, dropped, stop
}

// next returns the file to post when the generator is idle and the queue
// has one, moving to plPlaying with the given playback id. ok=false when
// nothing is to be played now.
func (p *playlist) next(newID func() string) (cur playing, ok bool) {
	if p.state != plIdle || len(p.queue) == 0 {
		return playing{}, false
	}
	p.cur = playing{id: newID(), file: p.queue[0]}
	p.queue[0] = ""
	p.queue = p.queue[1:]
	if len(p.queue) == 0 {
		p.queue = nil // let the backing array go
	}
	p.state = plPlaying
	return p.cur, true
}

// idle reports whether no playback is outstanding and nothing is queued:
// the moment native EIVR plays silence/10 (ari-mapping.md §3.5).
func (p *playlist) idle() bool { return p.state == plIdle && len(p.queue) == 0 }

// finished handles the end of playback id: PlaybackFinished, a failed play
// request, a stop answered 404, or the stop timeout. It returns the file to
// report with F (only for a playback that played out and was not stopped)
// and whether the event was for the outstanding playback at all.
func (p *playlist) finished(id string, played bool) (f string, ours bool) {
	if id == "" || id != p.cur.id || (p.state != plPlaying && p.state != plStopping) {
		return "", false // stale: a playback we already gave up on
	}
	if p.state == plPlaying && played {
		f = p.cur.file
	}
	p.state = plIdle
	p.cur = playing{}
	return f, true
}

// outstanding returns the id of the playback in Asterisk, "" if none.
func (p *playlist) outstanding() string {
	if p.state == plPlaying || p.state == plStopping {
		return p.cur.id
	}
	return ""
}

// halt stops the generator for good (hangup, session end): nothing more is
// posted. It returns the outstanding playback id, if any, for a stop.
func (p *playlist) halt() string {
	id := p.outstanding()
	p.state = plOff
	p.cur = playing{}
	p.queue = nil
	return id
}
