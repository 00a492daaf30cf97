package aritest

import (
	"strings"
	"time"
)

// playback is one POST play (possibly a media list). Guarded by Server.mu.
type playback struct {
	id      string
	ch      *channel
	media   []string
	lang    string
	idx     int
	state   string // queued, playing, paused, done (stopped while queued)
	stop    bool   // DELETE while playing
	paused  bool
	restart bool
}

func (pb *playback) json(idx int, state string) playbackJSON {
	j := playbackJSON{ID: pb.id, MediaURI: pb.media[idx], TargetURI: "channel:" + pb.ch.id, Language: pb.lang, State: state}
	if idx+1 < len(pb.media) {
		j.NextMediaURI = pb.media[idx+1]
	}
	return j
}

func (s *Server) pbEventLocked(pb *playback, typ string, idx int, state string) {
	s.emitPlaybackLocked(pb.ch, typ, pb.json(idx, state))
}

// emitPlaybackLocked publishes a Playback* event (no channel object) to
// the apps that see the channel.
func (s *Server) emitPlaybackLocked(c *channel, typ string, j playbackJSON) {
	now := time.Now()
	for _, a := range s.chanAppsLocked(c) {
		s.publishLocked(a, encodeEvent(typ, now, s.opts.AsteriskID, a, nil, []kv{{"playback", j}}))
	}
}

type mediaKind int

const (
	mediaOK      mediaKind = iota
	mediaMissing           // Started, then Finished failed (or Continuing) ~3 ms later
	mediaBogus             // unknown scheme / missing recording: Started and nothing else
	mediaForever           // tone: plays until stopped
)

// mediaLen classifies one media URI and returns its (unscaled) length.
func (s *Server) mediaLen(lang, uri string) (mediaKind, time.Duration) {
	scheme, rest, ok := strings.Cut(uri, ":")
	if !ok {
		return mediaBogus, 0
	}
	switch scheme {
	case "sound":
		if d, ok := s.soundLen(lang, rest); ok {
			return mediaOK, d
		}
		return mediaMissing, 3 * time.Millisecond
	case "digits", "number", "characters":
		var d time.Duration
		for _, r := range rest {
			if dd, ok := s.soundLen(lang, "digits/"+string(r)); ok {
				d += dd
			} else {
				d += 500 * time.Millisecond
			}
		}
		return mediaOK, d
	case "tone":
		return mediaForever, 0
	default: // recording: (none exist here), bogus schemes
		return mediaBogus, 0
	}
}

type waitResult int

const (
	waitDone waitResult = iota
	waitHangup
	waitStopped
	waitClosed
)

// play runs one playback on the channel's Stasis thread; false when the
// server closes.
func (s *Server) play(c *channel, pb *playback) bool {
	s.mu.Lock()
	if pb.state == "done" { // stopped while queued: Finished, no Started
		s.pbEventLocked(pb, "PlaybackFinished", 0, "done")
		delete(s.playbacks, pb.id)
		s.mu.Unlock()
		return true
	}
	if c.hangup != nil || c.destroyed {
		// Back to the queue: runChannel's flush gives it Started + Finished failed.
		c.queue = append([]*command{{kind: cmdPlay, pb: pb}}, c.queue...)
		s.mu.Unlock()
		return true
	}
	pb.state = "playing"
	for i := range pb.media {
		pb.idx = i
		last := i == len(pb.media)-1
		s.pbEventLocked(pb, "PlaybackStarted", i, "playing")
		kind, d := s.mediaLen(pb.lang, pb.media[i])
		if kind == mediaBogus {
			if last {
				delete(s.playbacks, pb.id)
				s.mu.Unlock()
				return true
			}
			continue
		}
		s.mu.Unlock()
		var res waitResult
		if kind == mediaForever {
			res = s.waitMedia(c, pb, -1)
		} else {
			res = s.waitMedia(c, pb, s.speedDur(d))
		}
		s.mu.Lock()
		switch res {
		case waitClosed:
			s.mu.Unlock()
			return false
		case waitHangup:
			s.pbEventLocked(pb, "PlaybackFinished", i, "failed")
			delete(s.playbacks, pb.id)
			s.mu.Unlock()
			return true
		case waitStopped:
			s.pbEventLocked(pb, "PlaybackFinished", i, "done")
			delete(s.playbacks, pb.id)
			s.mu.Unlock()
			return true
		}
		if last {
			state := "done"
			if kind == mediaMissing {
				state = "failed"
			}
			s.pbEventLocked(pb, "PlaybackFinished", i, state)
			delete(s.playbacks, pb.id)
			s.mu.Unlock()
			return true
		}
		s.pbEventLocked(pb, "PlaybackContinuing", i, "continuing")
	}
	s.mu.Unlock() // unreachable for non-empty media
	return true
}

// waitMedia lets one media item play for d (d < 0: until stopped), pausing,
// restarting and ending early as the channel and playback demand.
func (s *Server) waitMedia(c *channel, pb *playback, d time.Duration) waitResult {
	full, remaining := d, d
	for {
		s.mu.Lock()
		switch {
		case c.hangup != nil || c.destroyed:
			s.mu.Unlock()
			return waitHangup
		case pb.stop:
			s.mu.Unlock()
			return waitStopped
		}
		if pb.restart {
			pb.restart = false
			remaining = full
		}
		paused := pb.paused
		s.mu.Unlock()
		if !paused && remaining == 0 {
			return waitDone
		}
		var tc <-chan time.Time
		var t *time.Timer
		start := time.Now()
		if !paused && remaining > 0 {
			t = time.NewTimer(remaining)
			tc = t.C
		}
		select {
		case <-tc:
			return waitDone
		case <-c.kick:
			if t != nil {
				t.Stop()
				if remaining -= time.Since(start); remaining < 0 {
					remaining = 0
				}
			}
		case <-s.done:
			if t != nil {
				t.Stop()
			}
			return waitClosed
		}
	}
}
