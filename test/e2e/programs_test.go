package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/internal/ivr/tcpivr"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// The Perl menu over stdio: a file plays to its F, a digit, V/G, E.
func TestPerlMenuPlayDTMFExit(t *testing.T) {
	w := newWorld(t, worldOpts{})
	logf := filepath.Join(t.TempDir(), "menu.log")
	id := w.call([]string{filepath.Join(ivrDir(t), "menu.pl") + "(hello-world," + logf + ")"}, aritest.CallOptions{})
	readLog(t, logf, hasLine("F,ts,hello-world"))
	if err := w.Srv.PressDTMF(id, '1', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	readLog(t, logf, hasLine("F,ts,beep"))
	if err := w.Srv.PressDTMF(id, '2', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	end := w.waitEnd(id)
	got := readLog(t, logf, hasLine("E,ts"))
	want := "F,ts,hello-world\n1,ts\nG,ts,MENU_CHOICE=1\nF,ts,beep\n2,ts\nE,ts\n"
	if got != want {
		t.Errorf("script received:\n%s\nwant:\n%s", got, want)
	}
	if !end.Continued || end.HungUp {
		t.Errorf("end %+v: want the dialplan to continue", end)
	}
	if end.Vars["MENU_CHOICE"] != "1" {
		t.Errorf("MENU_CHOICE = %q, want 1", end.Vars["MENU_CHOICE"])
	}
	if _, set := end.Vars["EIVRGW_STATUS"]; set {
		t.Errorf("EIVRGW_STATUS set to %q on a client exit", end.Vars["EIVRGW_STATUS"])
	}
	wantCalls := []string{
		"POST /channels/{ch}/answer",
		"POST /channels/{ch}/play/{pb}?media=sound:hello-world",
		"POST /channels/{ch}/play/{pb}?media=sound:beep",
		"POST /channels/{ch}/continue",
	}
	// The set runs on its own lane (it may block behind a playback) and can
	// complete before or after the play of beep; G,MENU_CHOICE right after V
	// is answered from the gateway's overlay while the set is in flight,
	// else with a GET: either is right.
	const set = "POST /channels/{ch}/variable?value=1&variable=MENU_CHOICE"
	var calls []string
	sets := 0
	for _, c := range w.calls(id) {
		switch c {
		case set:
			sets++
		case "GET /channels/{ch}/variable?variable=MENU_CHOICE":
		default:
			calls = append(calls, c)
		}
	}
	if sets != 1 {
		t.Errorf("%d sets of MENU_CHOICE, want 1", sets)
	}
	checkCalls(t, calls, wantCalls)
}

// checkCalls compares the REST calls made, ignoring GET /sounds.
func checkCalls(t *testing.T, got, want []string) {
	t.Helper()
	var g []string
	for _, c := range got {
		if !strings.HasPrefix(c, "GET /sounds") {
			g = append(g, c)
		}
	}
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Errorf("ARI calls:\n%s\nwant:\n%s", strings.Join(g, "\n"), strings.Join(want, "\n"))
	}
}

// The Perl menu: 3 hangs up with H.
func TestPerlMenuH(t *testing.T) {
	w := newWorld(t, worldOpts{})
	logf := filepath.Join(t.TempDir(), "menu.log")
	id := w.call([]string{filepath.Join(ivrDir(t), "menu.pl") + "(beep," + logf + ")"}, aritest.CallOptions{})
	readLog(t, logf, hasLine("F,ts,beep"))
	if err := w.Srv.PressDTMF(id, '3', 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	end := w.waitEnd(id)
	if got, want := readLog(t, logf, hasLine("H,ts")), "F,ts,beep\n3,ts\nH,ts\n"; got != want {
		t.Errorf("script received:\n%s\nwant:\n%s", got, want)
	}
	if !end.HungUp || end.Continued {
		t.Errorf("end %+v: want a hangup", end)
	}
}

// The sh playlist over stdio: P, S, A, F, Z, then E; the program exits.
func TestShPlaylist(t *testing.T) {
	w := newWorld(t, worldOpts{})
	logf := filepath.Join(t.TempDir(), "sh.log")
	target := filepath.Join(ivrDir(t), "playlist.sh") + "(" + logf + ",beep,no-such-file,digits/1)"
	id := w.call([]string{target}, aritest.CallOptions{Answered: true})
	end := w.waitEnd(id)
	got := readLog(t, logf, hasLine("E,ts"))
	preply := "P,ts," + strings.ReplaceAll(strings.TrimSuffix(target, ")"), "(", ",")
	if len(preply) > len("P,ts,")+99 {
		preply = preply[:len("P,ts,")+99]
	}
	want := preply + "\nZ,ts,no-such-file\nF,ts,beep\nF,ts,digits/1\nE,ts\n"
	if got != want {
		t.Errorf("script received:\n%s\nwant:\n%s", got, want)
	}
	if !end.Continued {
		t.Errorf("end %+v: want continue", end)
	}
}

// The bundled TCP menu server: greeting, digit 4 appends, 2 exits.
func TestTCPMenu(t *testing.T) {
	w := newWorld(t, worldOpts{})
	lines := make(chan string, 100)
	srv := &tcpivr.Server{Transcript: func(_, line string) { lines <- line }}
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	id := w.call([]string{"ivr://" + ln.Addr().String() + "(beep)"}, aritest.CallOptions{})
	expect := func(want string) {
		t.Helper()
		select {
		case l := <-lines:
			if mask(l) != want+"\n" {
				t.Fatalf("server received %q, want %q", mask(l), want+"\n")
			}
		case <-time.After(testwait.Long):
			t.Fatalf("server received nothing, want %q", want)
		}
	}
	expect("P,ts,ivr://" + ln.Addr().String() + ",beep")
	expect("F,ts,beep")
	w.Srv.PressDTMF(id, '4', 100*time.Millisecond)
	expect("4,ts")
	expect("F,ts,digits/4")
	w.Srv.PressDTMF(id, '2', 100*time.Millisecond)
	expect("2,ts")
	expect("E,ts")
	if end := w.waitEnd(id); !end.Continued {
		t.Errorf("end %+v: want continue", end)
	}
}
