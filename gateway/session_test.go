package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/eivr"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPlayFinishAndExit(t *testing.T) {
	h := startHarness(t, appSpec{}, "Ring", nil)
	h.expectCalls("answer")
	h.cmd("S,beep", "A,hello-world", "A,beep")
	h.expectCalls("play sound:beep pb1")
	h.noCall() // one playback outstanding at most
	h.finished("pb1", "done")
	h.expectLines("F,ts,beep")
	h.expectCalls("play sound:hello-world pb2")
	h.finished("pb2", "done")
	h.expectLines("F,ts,hello-world")
	h.expectCalls("play sound:beep pb3")
	h.finished("pb3", "done")
	h.expectLines("F,ts,beep")
	h.cmd("E,done-01")
	h.expectLines("E,ts")
	h.expectCalls("continue")
	if o := h.outcome(); !errors.Is(o.cause, ErrClientExit) || o.action != endContinue || o.status != "" {
		t.Fatalf("outcome %+v", o)
	}
}

func TestReplaceWhilePlayingSendsTAndD(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", nil)
	h.cmd("S,hello-world", "A,vm-goodbye", "A,beep")
	h.expectCalls("play sound:hello-world pb1")
	h.cmd("S,beep")
	h.expectLines("T,ts,hello-world", "D,ts,vm-goodbye", "D,ts,beep")
	h.expectCalls("stop pb1")
	h.noCall() // the next file waits for the stopped one's PlaybackFinished
	h.finished("pb1", "done")
	h.expectCalls("play sound:beep pb2")
	h.noLine() // a stopped playback's "done" is not an F
	h.finished("pb2", "done")
	h.expectLines("F,ts,beep")
}

func TestAutoclearDigitBeforeTAndD(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", nil)
	h.cmd("O,autoclear", "S,hello-world", "A,beep", "A,vm-goodbye")
	h.expectCalls("play sound:hello-world pb1")
	h.cmd("P,sync")
	h.expectLines("P,ts,/usr/bin/ivr,a,b")
	h.dtmf("1")
	h.expectLines("1,ts", "T,ts,hello-world", "D,ts,beep", "D,ts,vm-goodbye")
	h.expectCalls("stop pb1")
	h.dtmf("2")
	h.expectLines("2,ts") // interruption pending: no second T
	h.finished("pb1", "done")
	h.noLine()
	h.cmd("O,noautoclear", "S,hello-world")
	h.expectCalls("play sound:hello-world pb2")
	h.dtmf("3")
	h.expectLines("3,ts")
	h.noCall()
	h.finished("pb2", "done")
	h.expectLines("F,ts,hello-world")
}

func TestMissingFileZLeavesPlaylist(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", nil)
	h.cmd("S,beep", "A,no-such-file", "S,no-such-file")
	h.expectCalls("play sound:beep pb1")
	h.expectLines("Z,ts,no-such-file", "Z,ts,no-such-file")
	h.finished("pb1", "done")
	h.expectLines("F,ts,beep")
}

func TestInterruptIdleAndPlaying(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", nil)
	h.cmd("I,when-idle", "P,x")
	h.expectLines("P,ts,/usr/bin/ivr,a,b")
	h.cmd("S,beep", "A,vm-goodbye", "I,now")
	h.expectCalls("play sound:beep pb1")
	h.expectLines("T,ts,beep", "D,ts,vm-goodbye")
	h.expectCalls("stop pb1")
}

func TestOptionNThenT(t *testing.T) {
	h := startHarness(t, appSpec{noAnswer: true}, "Ring", nil)
	h.cmd("S,beep", "A,beep", "I,x", "O,autoclear")
	h.expectLines("Z,ts", "Z,ts", "Z,ts", "Z,ts")
	h.noCall()
	h.ops.vars["a"] = "1"
	h.cmd("G,a,CHANNEL(state),EXTEN,unset")
	h.expectCalls("get a", "get unset")
	h.expectLines("G,ts,a=1,CHANNEL(state)=,EXTEN=,unset=")
	h.cmd("T,answer-now")
	h.expectCalls("answer")
	h.cmd("S,beep")
	h.expectCalls("play sound:beep pb1")
	h.finished("pb1", "done")
	h.expectLines("F,ts,beep")
}

func TestOptionNUpChannelQueuesUntilT(t *testing.T) {
	h := startHarness(t, appSpec{noAnswer: true}, "Up", nil)
	h.cmd("S,beep", "P,x")
	h.expectLines("P,ts,/usr/bin/ivr,a,b")
	h.noCall() // no generator before T (Q16)
	h.cmd("T,go")
	h.expectCalls("play sound:beep pb1")
}

func TestAnswerFailureZ(t *testing.T) {
	h := startHarness(t, appSpec{noAnswer: true}, "Ring", func(_ *sessionEnv, o *fakeOps, _ *fakeConn) { o.failAns = true })
	h.cmd("T,x")
	h.expectCalls("answer")
	h.expectLines("Z,ts,ANSWER_FAILURE")
}

func TestHangupWithoutI(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", nil)
	h.cmd("S,beep", "A,vm-goodbye")
	h.expectCalls("play sound:beep pb1")
	h.event(&ari.Event{Kind: ari.KindChannelHangupRequest, Cause: 16})
	h.expectLines("H,ts")
	h.finished("pb1", "failed")
	h.event(&ari.Event{Kind: ari.KindStasisEnd})
	o := h.outcome()
	if !errors.Is(o.cause, ErrHangup) || o.action != endNone {
		t.Fatalf("outcome %+v", o)
	}
	h.noLine()
	h.noCall() // no continue, no DELETE: the channel is gone
}

func TestHangupWithI(t *testing.T) {
	h := startHarness(t, appSpec{ignoreHangup: true}, "Up", nil)
	h.cmd("S,beep")
	h.expectCalls("play sound:beep pb1")
	h.event(&ari.Event{Kind: ari.KindChannelHangupRequest, Cause: 16})
	h.finished("pb1", "failed")
	h.event(&ari.Event{Kind: ari.KindStasisEnd})
	h.expectLines("I,ts,HANGUP")
	h.cmd("S,beep", "P,x")
	h.expectLines("Z,ts", "P,ts,/usr/bin/ivr,a,b")
	h.cmd("E,bye")
	h.expectLines("E,ts")
	if o := h.outcome(); !errors.Is(o.cause, ErrClientExit) {
		t.Fatalf("outcome %+v", o)
	}
	h.noCall() // channel left Stasis: no continue
}

func TestRunDeadInHExten(t *testing.T) {
	h := startHarness(t, appSpec{runDead: true}, "Up", nil)
	h.event(&ari.Event{Kind: ari.KindStasisEnd})
	h.cmd("S,beep", "T,x", "P,x")
	h.expectLines("Z,ts", "P,ts,/usr/bin/ivr,a,b") // no H, T silent
	h.cmd("E,x")
	h.expectLines("E,ts")
	h.outcome()
}

func TestRunDeadOnLiveChannelRefused(t *testing.T) {
	h := startHarness(t, appSpec{runDead: true}, "Ring", nil)
	h.expectCalls("set EIVRGW_STATUS=BADOPTION", "hangup")
	if o := h.outcome(); !errors.Is(o.cause, ErrBadOption) {
		t.Fatalf("outcome %+v", o)
	}
}

func TestHCommandHangsUp(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", nil)
	h.cmd("S,beep")
	h.expectCalls("play sound:beep pb1")
	h.cmd("H,bye-from-script")
	h.expectLines("H,ts")
	h.expectCalls("stop pb1", "hangup")
}

func TestXContinuesSilently(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", nil)
	h.cmd("X,old")
	h.expectCalls("continue")
	h.noLine()
}

func TestClientExitHangsUp(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", nil)
	h.cmd("P,x")
	h.expectLines("P,ts,/usr/bin/ivr,a,b")
	h.conn.cmdW.Close()
	h.expectCalls("hangup")
	if o := h.outcome(); !errors.Is(o.cause, ErrClientGone) {
		t.Fatalf("outcome %+v", o)
	}
}

func TestLinesBeforeExitAreRun(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", nil)
	h.cmd("E,bye")
	h.conn.cmdW.Close()
	h.expectLines("E,ts")
	h.expectCalls("continue")
}

func TestSetIsReadBackWhileBlocked(t *testing.T) {
	gate := make(chan struct{})
	h := startHarness(t, appSpec{}, "Up", func(_ *sessionEnv, o *fakeOps, _ *fakeConn) { o.setGate = gate })
	h.cmd("V,a=1,b=x=y,c,=nameless,CALLERID(num)=777")
	h.expectCalls("set a=1") // blocked "behind a playback"
	h.cmd("G,a,b,c,CALLERID(num)")
	h.expectLines("G,ts,a=1,b=x=y,c=,CALLERID(num)=")
	h.noCall() // answered from the overlay
	h.cmd("S,beep")
	h.expectCalls("play sound:beep pb1") // V never blocks the session
	h.cmd("E,x")
	h.expectLines("E,ts")
	h.expectCalls("stop pb1")
	// The continue waits for the pending sets: with the session ending (no P
	// to sync on), the next calls recorded after the gate opens must be the
	// sets, and only then the continue; a continue made before would come
	// first.
	close(gate)
	h.expectCalls("set b=x=y", "set c=", "set CALLERID(num)=777", "continue")
}

func TestGReplyCapped(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", nil)
	h.ops.vars["big"] = strings.Repeat("x", 3000)
	h.cmd("G,big")
	h.expectCalls("get big")
	l := h.line()
	if want := "G,ts," + "big=" + strings.Repeat("x", eivr.MaxGReply-4) + "\n"; l != want {
		t.Fatalf("G reply of %d bytes, want %d", len(l), len(want))
	}
}

func TestStop404MovesOn(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", func(_ *sessionEnv, o *fakeOps, _ *fakeConn) { o.stopErr = ari.ErrNotFound })
	h.cmd("S,beep", "S,hello-world")
	h.expectCalls("play sound:beep pb1")
	h.expectLines("T,ts,beep")
	h.expectCalls("stop pb1", "play sound:hello-world pb2")
	h.finished("pb1", "done") // late: ignored
	h.noLine()
}

func TestStopTimeoutMovesOn(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", func(e *sessionEnv, _ *fakeOps, _ *fakeConn) { e.stopTimeout = 20 * time.Millisecond })
	h.cmd("S,beep", "S,hello-world")
	h.expectCalls("play sound:beep pb1", "stop pb1", "play sound:hello-world pb2")
}

func TestPlayFailureSkipsSilently(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", func(_ *sessionEnv, o *fakeOps, _ *fakeConn) { o.failPlay = true })
	h.cmd("S,beep", "A,hello-world")
	h.expectCalls("play sound:beep pb1", "play sound:hello-world pb2")
	h.noLine()
}

func TestFailedPlaybackNoF(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", nil)
	h.cmd("S,beep", "A,hello-world")
	h.expectCalls("play sound:beep pb1")
	h.finished("pb1", "failed") // §7.5: dropped without any event
	h.expectCalls("play sound:hello-world pb2")
	h.noLine()
}

func TestIdleSilence(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", func(e *sessionEnv, _ *fakeOps, _ *fakeConn) { e.idleSilence = true })
	h.expectCalls("silence")
	h.cmd("S,beep")
	h.expectCalls("play sound:beep pb1")
	h.finished("pb1", "done")
	h.expectLines("F,ts,beep")
	h.expectCalls("silence") // a play killed it (P18)
	h.cmd("E,x")
	h.expectCalls("unsilence", "continue")
}

// A failed Send is a slow client only when it is one (eivr.ErrSlowClient);
// a broken event stream (the program exited, the server closed) is the
// client gone: hung up without EIVRGW_STATUS, as native.
func TestSendFailure(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		calls  []string
		status string
		cause  error
	}{
		{"slow client", fmt.Errorf("%w: 65536 bytes pending, limit 65536", eivr.ErrSlowClient),
			[]string{"set EIVRGW_STATUS=SLOW_CLIENT", "hangup"}, StatusSlowClient, ErrSlowClient},
		{"broken pipe", fmt.Errorf("write event: %w", syscall.EPIPE), []string{"hangup"}, "", ErrClientGone},
		{"connection reset", fmt.Errorf("write event: %w", syscall.ECONNRESET), []string{"hangup"}, "", ErrClientGone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHarness(t, appSpec{}, "Up", func(_ *sessionEnv, _ *fakeOps, c *fakeConn) { c.sendErr = tt.err })
			h.cmd("P,x")
			h.expectCalls(tt.calls...)
			out := h.outcome()
			if out.status != tt.status || !errors.Is(out.cause, tt.cause) || out.action != endHangup {
				t.Errorf("outcome %+v, want status %q, cause %v, hangup", out, tt.status, tt.cause)
			}
			if tt.cause != ErrSlowClient && errors.Is(out.cause, ErrSlowClient) {
				t.Errorf("cause %v is a slow client", out.cause)
			}
		})
	}
}

func TestStartFailureAnswersThenHangsUp(t *testing.T) {
	ops := newFakeOps()
	env := testEnv(ops, nil, allSounds{})
	s := newSession(env, nopLogger(), "s1", ari.Channel{ID: "c1", State: "Ring"}, appSpec{}, 8)
	o := s.run(t.Context(), t.Context())
	if !errors.Is(o.cause, ErrStartFailed) {
		t.Fatalf("outcome %+v", o)
	}
	for _, want := range []string{"answer", "set EIVRGW_STATUS=START_FAILED", "hangup"} {
		if got := <-ops.calls; got != want {
			t.Fatalf("call %q, want %q", got, want)
		}
	}
}

func TestDTMFCommand(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", nil)
	h.cmd("D,12", "D,,500", "D,34,100,200")
	h.expectCalls("dtmf 12 250ms 100ms", "dtmf 34 100ms 200ms")
}

func TestEventOverflowContinues(t *testing.T) {
	ops := newFakeOps()
	conn := newFakeConn()
	env := testEnv(ops, conn, allSounds{})
	s := newSession(env, nopLogger(), "s1", ari.Channel{ID: "c1", State: "Up"}, appSpec{}, 1)
	s.deliver(&ari.Event{Kind: ari.KindChannelDtmfReceived, Digit: "1"})
	if s.deliver(&ari.Event{Kind: ari.KindChannelDtmfReceived, Digit: "2"}) {
		t.Fatal("deliver to a full queue succeeded")
	}
	o := s.run(t.Context(), t.Context())
	if !errors.Is(o.cause, ErrOverload) || o.status != StatusOverload || o.action != endContinue {
		t.Fatalf("outcome %+v", o)
	}
}

// langSounds accepts "bonjour" only in French.
type langSounds struct{}

func (langSounds) cached(name, lang string) (bool, bool) {
	return name != "bonjour" || lang == "fr", true
}
func (l langSounds) check(ctx context.Context, name, lang string) bool {
	ok, _ := l.cached(name, lang)
	return ok
}

// The existence check follows the channel's language, also after the
// client changes it with V,CHANNEL(language)=fr.
func TestLanguageFollowsV(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", func(e *sessionEnv, _ *fakeOps, _ *fakeConn) { e.sounds = langSounds{} })
	h.cmd("S,bonjour")
	h.expectLines("Z,ts,bonjour")
	h.cmd("V,CHANNEL(language)=fr", "S,bonjour")
	got := map[string]bool{h.call(): true, h.call(): true} // two lanes: any order
	if !got["set CHANNEL(language)=fr"] || !got["play sound:bonjour pb1"] {
		t.Fatalf("calls %v", got)
	}
}

// P8: a stop answered 500 right after PlaybackStarted is retried.
func TestStop500Retried(t *testing.T) {
	h := startHarness(t, appSpec{}, "Up", func(_ *sessionEnv, o *fakeOps, _ *fakeConn) {
		o.stopErrs = []error{&ari.Error{Status: 500, Message: "Could not stop playback"}}
	})
	h.cmd("S,beep", "I,x")
	h.expectCalls("play sound:beep pb1")
	h.expectLines("T,ts,beep")
	h.expectCalls("stop pb1", "stop pb1")
	h.cmd("A,hello-world")
	h.noCall() // waits for the stopped playback's PlaybackFinished
	h.finished("pb1", "done")
	h.expectCalls("play sound:hello-world pb2")
	h.noLine()
}

// H is the last event: a G reply still in flight at the hangup is dropped.
func TestNothingAfterH(t *testing.T) {
	gate := make(chan struct{})
	h := startHarness(t, appSpec{}, "Up", func(_ *sessionEnv, o *fakeOps, _ *fakeConn) { o.getGate = gate })
	h.cmd("G,a")
	h.expectCalls("get a")
	h.event(&ari.Event{Kind: ari.KindChannelHangupRequest, Cause: 16})
	h.expectLines("H,ts")
	close(gate)
	h.outcome()
	h.noLine()
}
