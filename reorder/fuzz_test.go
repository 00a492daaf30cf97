package reorder

import (
	"fmt"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

var fuzzKinds = []ari.Kind{
	ari.KindStasisStart, ari.KindStasisEnd, ari.KindChannelStateChange, ari.KindChannelDestroyed,
	ari.KindChannelHangupRequest, ari.KindChannelDtmfReceived, ari.KindChannelVarset,
	ari.KindChannelConnectedLine, ari.KindPlaybackStarted, ari.KindPlaybackContinuing,
	ari.KindPlaybackFinished, ari.KindDial, ari.KindOther, ari.KindApplicationReplaced,
	ari.KindChannelTalkingStarted, ari.KindChannelTalkingFinished,
}

var fuzzStates = []string{"Down", "Ring", "Ringing", "Up", "Busy", "Unknown", ""}

// fuzzEvents turns bytes into events, 4 bytes each: kind, channel (and
// app, source), timestamp step (signed, 0x80 = no timestamp), and a byte
// for the digit/playback/state and the clock step.
func fuzzEvents(data []byte) (evs []*ari.Event, srcs []int, steps []time.Duration) {
	ms := 1000
	for len(data) >= 4 {
		b := data[:4]
		data = data[4:]
		k := fuzzKinds[int(b[0])%len(fuzzKinds)]
		ch := fmt.Sprint("c", b[1]%4)
		var e *ari.Event
		switch k {
		case ari.KindPlaybackStarted, ari.KindPlaybackContinuing, ari.KindPlaybackFinished:
			e = pb(k, ch, 0, fmt.Sprint("p", b[3]%8))
			if b[3]&0x80 != 0 {
				e.Playback.TargetURI = "bridge:b"
			}
		case ari.KindDial:
			e = mk(k, "", 0)
			e.Peer = &ari.Channel{ID: ch}
		default:
			e = mk(k, ch, 0)
			if b[1]&0x80 != 0 {
				e.Channel.ID = ""
			}
		}
		e.Digit = fmt.Sprint(b[3] % 4)
		e.Channel.State = fuzzStates[int(b[3])%len(fuzzStates)]
		if b[1]&0x40 != 0 {
			e.Application = "gw2"
		}
		if b[2] == 0x80 {
			e.Timestamp = time.Time{}
		} else {
			ms += int(int8(b[2]))
			e.Timestamp = base.Add(time.Duration(ms) * time.Millisecond)
		}
		evs = append(evs, e)
		srcs = append(srcs, int(b[1]>>4&3))
		steps = append(steps, time.Duration(b[3]>>4)*4*time.Millisecond)
	}
	return evs, srcs, steps
}

// FuzzPush feeds arbitrary event sequences, with copies, bad timestamps,
// missing channels, a tiny queue and a short idle timeout. Nothing
// may panic or be lost unaccounted; once everything is released nothing
// waits; and unless a limit intervened (hold, overflow, expiry) the output
// obeys every rule.
func FuzzPush(f *testing.F) {
	f.Add([]byte{0, 0, 1, 0, 5, 0, 1, 1, 8, 0, 2, 3, 10, 0, 1, 3, 1, 0, 1, 0})
	f.Add([]byte{5, 1, 5, 0, 0, 1, 0xfb, 0x10, 9, 1, 3, 2, 8, 1, 0xff, 2, 1, 1, 0x80, 0})
	f.Add([]byte{2, 2, 1, 3, 2, 2, 0xff, 2, 0, 2, 1, 3, 2, 2, 0, 3, 3, 2, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, srcs, steps := fuzzEvents(data)
		clk := newFakeClock()
		s := &recSink{}
		r := New(Config{Clock: clk, QueueLimit: 4, Shards: 2, IdleTimeout: time.Second}, s)
		for i, e := range evs {
			clk.Advance(steps[i])
			r.Tick()
			r.Push(srcs[i], e)
			if i%8 == 0 {
				r.Push(srcs[i]+1, clone(e)) // a copy from another source
			}
		}
		clk.Advance(time.Minute)
		r.Tick()
		st := r.Stats()
		pushed := len(evs) + (len(evs)+7)/8
		if err := conserved(st, pushed); err != nil {
			t.Fatal(err)
		}
		if st.Pending != 0 {
			t.Fatalf("still waiting: %+v", st)
		}
		if st.HoldReleased == 0 && st.Overflow == 0 && st.Expired == 0 {
			if err := checkRules(s.take()); err != nil {
				t.Fatalf("%v (stats %+v)", err, st)
			}
		}
	})
}
