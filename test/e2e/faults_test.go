package e2e

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

// menuCall runs the Perl menu through: greeting, 1 (V/G, beep), 2 (E), and
// checks what the script received.
func menuCall(t *testing.T, w *world) {
	t.Helper()
	logf := filepath.Join(t.TempDir(), "menu.log")
	id := w.call([]string{filepath.Join(ivrDir(t), "menu.pl") + "(hello-world," + logf + ")"}, aritest.CallOptions{})
	readLog(t, logf, hasLine("F,ts,hello-world"))
	w.Srv.PressDTMF(id, '1', 100*time.Millisecond)
	readLog(t, logf, hasLine("F,ts,beep"))
	w.Srv.PressDTMF(id, '2', 100*time.Millisecond)
	end := w.waitEnd(id)
	got := readLog(t, logf, hasLine("E,ts"))
	if want := "F,ts,hello-world\n1,ts\nG,ts,MENU_CHOICE=1\nF,ts,beep\n2,ts\nE,ts\n"; got != want {
		t.Errorf("script received:\n%s\nwant:\n%s", got, want)
	}
	if !end.Continued || end.Vars["MENU_CHOICE"] != "1" {
		t.Errorf("end %+v", end)
	}
}

// Events shuffled within 5 ms and duplicated: reorder restores each
// channel's order (windows of 15 ms) and drops the duplicates.
func TestShuffledDuplicatedEvents(t *testing.T) {
	windows := map[ari.Kind]time.Duration{}
	for _, k := range []ari.Kind{ari.KindStasisStart, ari.KindStasisEnd, ari.KindChannelStateChange,
		ari.KindChannelHangupRequest, ari.KindChannelDtmfReceived, ari.KindPlaybackStarted, ari.KindPlaybackFinished} {
		windows[k] = 15 * time.Millisecond
	}
	w := newWorld(t, worldOpts{order: reorder.Config{Windows: windows}})
	w.Srv.ReorderWindow(5 * time.Millisecond)
	w.Srv.Duplicate(0.3)
	menuCall(t, w)
}

// Slow REST (50 ms per call): the variable set and the plays lag, the
// transcript does not change, and a G right after V reads the new value.
func TestSlowREST(t *testing.T) {
	w := newWorld(t, worldOpts{})
	w.Srv.RESTLatency(50 * time.Millisecond)
	menuCall(t, w)
}

// A failing play (500) is skipped without an event, as a file that cannot
// be opened natively (§7.5); the next file plays.
func TestPlayFailureSkipped(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ts := newTCPServer(t)
	id, c := w.tcpCall(t, ts, "", aritest.CallOptions{Answered: true})
	w.Srv.FailREST("POST", "/channels/"+id+"/play", 500, 1)
	c.send("S,hello-world", "A,beep")
	c.expect("F,ts,beep")
	c.send("E,x")
	c.expect("E,ts")
}

// Reload changes the allow-list for new calls.
func TestReload(t *testing.T) {
	w := newWorld(t, worldOpts{apps: []gateway.AppConfig{{Name: app, TCPHosts: []string{"127.0.0.1:1"}}}})
	ts := newTCPServer(t)
	id := w.call([]string{ts.url()}, aritest.CallOptions{})
	if end := w.waitEnd(id); end.Vars["EIVRGW_STATUS"] != "DENIED" {
		t.Fatalf("before reload: end %+v", end)
	}
	if err := w.GW.Reload([]gateway.AppConfig{{Name: app, TCPHosts: []string{"127.0.0.1:*"}}}); err != nil {
		t.Fatal(err)
	}
	id, c := w.tcpCall(t, ts, "", aritest.CallOptions{})
	c.send("E,x")
	c.expect("E,ts")
	if end := w.waitEnd(id); !end.Continued {
		t.Errorf("after reload: end %+v", end)
	}
	if err := w.GW.Reload([]gateway.AppConfig{{Name: app, Programs: []string{"relative"}}}); err == nil {
		t.Error("Reload accepted a relative program")
	}
}

// A client flooding commands is throttled by its own socket (back-pressure):
// its digits still reach it, and another call is not slowed.
func TestCommandFlood(t *testing.T) {
	w := newWorld(t, worldOpts{tweak: func(c *gateway.Config) { c.Trace = false }})
	ts := newTCPServer(t)
	id, flood := w.tcpCall(t, ts, "", aritest.CallOptions{Answered: true})
	idOK, ok := w.tcpCall(t, ts, "", aritest.CallOptions{Answered: true})
	stop := make(chan struct{})
	flooded := make(chan int, 1)
	go func() {
		line := []byte(strings.Repeat("O,noautoclear\n", 64))
		n := 0
		for {
			select {
			case <-stop:
				flooded <- n
				return
			default:
			}
			if _, err := flood.c.Write(line); err != nil {
				flooded <- n
				return
			}
			n += 64
		}
	}()
	if err := w.Srv.PressDTMF(id, '7', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	flood.expect("7,ts")
	ok.send("P,x")
	ok.expect("P,ts," + ts.url() + ",x")
	close(stop)
	n := <-flooded
	t.Logf("%d commands flooded meanwhile", n)
	ok.send("E,x")
	ok.expect("E,ts")
	w.waitEnd(idOK)
}

// Silence while idle (the default): the channel plays silence whenever the
// playlist is empty, as native plays silence/10; the script sees no
// difference.
func TestIdleSilenceOn(t *testing.T) {
	w := newWorld(t, worldOpts{tweak: func(c *gateway.Config) { c.NoIdleSilence = false }})
	ts := newTCPServer(t)
	id, c := w.tcpCall(t, ts, "", aritest.CallOptions{Answered: true})
	c.send("S,beep")
	c.expect("F,ts,beep")
	// Idle again: the gateway restarts the silence after the playback's
	// end, on its own time; E before that would be right too.
	w.Until("the silence starts again", testwait.Long, func() bool {
		calls := w.calls(id)
		i := slices.Index(calls, "POST /channels/{ch}/play/{pb}?media=sound:beep")
		return i >= 0 && slices.Contains(calls[i:], "POST /channels/{ch}/silence")
	})
	c.send("E,x")
	c.expect("E,ts")
	w.waitEnd(id)
	checkCalls(t, w.calls(id), []string{
		"POST /channels/{ch}/silence",
		"POST /channels/{ch}/play/{pb}?media=sound:beep",
		"POST /channels/{ch}/silence", // a play stops it (P18): again once idle
		"DELETE /channels/{ch}/silence",
		"POST /channels/{ch}/continue",
	})
}
