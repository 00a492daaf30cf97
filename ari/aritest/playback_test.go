package aritest

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// upCall starts an answered call on a fresh tap and consumes StasisStart.
func upCall(t *testing.T, o Options) (*Server, *tap, string) {
	t.Helper()
	s := newServer(t, o)
	gw := dialTap(t, s, "gw")
	id, err := s.StartCall("gw", nil, CallOptions{Answered: true})
	if err != nil {
		t.Fatal(err)
	}
	gw.expect("StasisStart")
	return s, gw, id
}

func play(t *testing.T, s *Server, ch, pb, media string) {
	t.Helper()
	path := "/channels/" + ch + "/play"
	if pb != "" {
		path += "/" + pb
	}
	mustCall(t, s, "POST", path, url.Values{"media": {media}}, 201)
}

func TestPlaybackOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name  string
		media string
		want  [][3]string // type, media_uri, state
	}{
		{"missing", "sound:no-such-file", [][3]string{{"PlaybackStarted", "sound:no-such-file", "playing"}, {"PlaybackFinished", "sound:no-such-file", "failed"}}},
		{"list", "sound:beep,sound:nope,sound:beep", [][3]string{
			{"PlaybackStarted", "sound:beep", "playing"}, {"PlaybackContinuing", "sound:beep", "continuing"},
			{"PlaybackStarted", "sound:nope", "playing"}, {"PlaybackContinuing", "sound:nope", "continuing"},
			{"PlaybackStarted", "sound:beep", "playing"}, {"PlaybackFinished", "sound:beep", "done"}}},
		{"french", "sound:hello-world", [][3]string{{"PlaybackStarted", "sound:hello-world", "playing"}, {"PlaybackFinished", "sound:hello-world", "done"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, gw, id := upCall(t, fastOpts())
			q := url.Values{"media": {tc.media}}
			if tc.name == "french" {
				q.Set("lang", "fr")
			}
			start := time.Now()
			mustCall(t, s, "POST", "/channels/"+id+"/play/p", q, 201)
			for i, w := range tc.want {
				e := gw.next(5 * time.Second)
				if e.typ() != w[0] || e.str("playback", "media_uri") != w[1] || e.str("playback", "state") != w[2] {
					t.Fatalf("event %d: %v, want %v", i, e, w)
				}
			}
			// fr:hello-world is 4 s: 200 ms at speed 20.
			if el := time.Since(start); tc.name == "french" && el < 180*time.Millisecond {
				t.Errorf("French hello-world took %v", el)
			}
			gw.quiet(s)
		})
	}
}

func TestBogusSchemeNeverFinishes(t *testing.T) {
	s, gw, id := upCall(t, fastOpts())
	play(t, s, id, "bad", "bogus:foo")
	play(t, s, id, "next", "sound:beep")
	e := gw.expect("PlaybackStarted", "PlaybackStarted", "PlaybackFinished")
	if e[0].str("playback", "id") != "bad" || e[1].str("playback", "id") != "next" {
		t.Fatalf("events %v", e)
	}
	mustCall(t, s, "GET", "/playbacks/bad", nil, 404)
}

func TestStopPlayback(t *testing.T) {
	s, gw, id := upCall(t, fastOpts())
	play(t, s, id, "p1", "sound:hello-world,sound:beep")
	play(t, s, id, "p2", "sound:beep")
	gw.expect("PlaybackStarted")
	b := mustCall(t, s, "GET", "/playbacks/p2", nil, 200)
	var pb map[string]any
	_ = json.Unmarshal(b, &pb)
	if pb["state"] != "queued" {
		t.Fatalf("queued playback: %s", b)
	}
	mustCall(t, s, "DELETE", "/playbacks/p2", nil, 204) // queued: Finished done without Started, after p1
	mustCall(t, s, "DELETE", "/playbacks/p1", nil, 204)
	mustCall(t, s, "DELETE", "/playbacks/p1", nil, 404)
	e := gw.expect("PlaybackFinished", "PlaybackFinished")
	if e[0].str("playback", "id") != "p1" || e[0].str("playback", "state") != "done" ||
		e[0].str("playback", "next_media_uri") != "sound:beep" || e[1].str("playback", "id") != "p2" {
		t.Fatalf("events %v", e)
	}
	gw.quiet(s)
	mustCall(t, s, "GET", "/playbacks/p2", nil, 404)
}

func TestPauseUnpause(t *testing.T) {
	s, gw, id := upCall(t, fastOpts())
	play(t, s, id, "p", "sound:beep") // 500 ms: 25 ms at speed 20
	gw.expect("PlaybackStarted")
	mustCall(t, s, "POST", "/playbacks/p/control", url.Values{"operation": {"pause"}}, 204)
	b := mustCall(t, s, "GET", "/playbacks/p", nil, 200)
	var pb map[string]any
	_ = json.Unmarshal(b, &pb)
	if pb["state"] != "paused" {
		t.Fatalf("paused: %s", b)
	}
	// Paused: no Finished for p although its 25 ms pass. The barrier is a
	// longer playback (hello-world, 100 ms at speed 20) started after the
	// pause on a second channel: p, if it kept playing, would finish first.
	other, err := s.StartCall("gw", nil, CallOptions{Answered: true})
	if err != nil {
		t.Fatal(err)
	}
	gw.expect("StasisStart")
	play(t, s, other, "long", "sound:hello-world")
	if e := gw.expect("PlaybackStarted", "PlaybackFinished"); e[1].str("playback", "id") != "long" {
		t.Fatalf("paused playback went on: %v", e[1])
	}
	st, body := call(t, s, "POST", "/playbacks/p/control", url.Values{"operation": {"bogus"}}, "")
	if st != 400 || string(body) != `{"message":"Invalid operation bogus"}` {
		t.Fatalf("bogus op: %d %s", st, body)
	}
	mustCall(t, s, "POST", "/playbacks/p/control", url.Values{"operation": {"unpause"}}, 204)
	gw.expect("PlaybackStarted", "PlaybackFinished")
}

func TestPlayErrors(t *testing.T) {
	s, _, id := upCall(t, fastOpts())
	st, b := call(t, s, "POST", "/channels/"+id+"/play", nil, "")
	if st != 500 || string(b) != `{"message":"Failed to queue media for playback"}` {
		t.Fatalf("no media: %d %s", st, b)
	}
	st, b = call(t, s, "POST", "/channels/nope/play", url.Values{"media": {"sound:beep"}}, "")
	if st != 404 || string(b) != `{"message":"Channel not found"}` {
		t.Fatalf("no channel: %d %s", st, b)
	}
}

func TestPlayBeforeAnswerBlocksAnswer(t *testing.T) {
	s := newServer(t, fastOpts())
	gw := dialTap(t, s, "gw")
	id, _ := s.StartCall("gw", nil, CallOptions{})
	gw.expect("StasisStart")
	play(t, s, id, "p", "sound:hello-world")
	gw.expect("PlaybackStarted")
	mustCall(t, s, "POST", "/channels/"+id+"/answer", nil, 204)
	gw.expect("PlaybackFinished", "ChannelStateChange")
}

func TestARIHangupFlushesQueue(t *testing.T) {
	s, gw, id := upCall(t, fastOpts())
	play(t, s, id, "p1", "sound:hello-world")
	play(t, s, id, "p2", "sound:beep")
	gw.expect("PlaybackStarted")
	mustCall(t, s, "DELETE", "/channels/"+id, nil, 204)
	e := gw.expect("ChannelHangupRequest", "PlaybackFinished", "PlaybackStarted", "PlaybackFinished", "StasisEnd")
	if e[1].str("playback", "state") != "failed" || e[3].str("playback", "id") != "p2" || e[3].str("playback", "state") != "failed" {
		t.Fatalf("events %v", e)
	}
}

func TestVariableBlocksThenFailsOnHangup(t *testing.T) {
	s, gw, id := upCall(t, fastOpts())
	play(t, s, id, "p1", "sound:hello-world")
	gw.expect("PlaybackStarted")
	res := make(chan int, 1)
	go func() {
		st, _ := call(t, s, "POST", "/channels/"+id+"/variable", url.Values{"variable": {"X"}, "value": {"1"}}, "")
		res <- st
	}()
	// The set is queued behind the playback (not run, not answered) before
	// the hang-up.
	testwait.Until(t, testwait.Long, "the set is queued behind the playback", func() bool {
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, cmd := range s.chans[id].queue {
			if cmd.kind == cmdSetVar {
				return true
			}
		}
		return false
	})
	select {
	case st := <-res:
		t.Fatalf("POST variable returned %d during the playback", st)
	default:
	}
	if err := s.FarHangup(id, 16); err != nil {
		t.Fatal(err)
	}
	select {
	case st := <-res:
		if st != 400 {
			t.Fatalf("variable after hangup: %d", st)
		}
	case <-time.After(testwait.Long):
		t.Fatal("POST variable never returned")
	}
}
