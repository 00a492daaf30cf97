package asterisk

import (
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// scenarios covers every scenario class of
// ../shared/testdata/asterisk/eivr/scen, each step waiting for an event it
// received (never for time).
func scenarios(l *Lane) []*scenario {
	en := l.sounds + "/en"
	return []*scenario{
		{name: "play-S-A-F", steps: steps("S,beep", "A,hello-world", "A,beep", waitFor("FFF"), "E,done-01", waitFor("E"))},
		{name: "S-while-playing-replaces-queue", steps: steps(playing("S,demo-congrats"), "A,beep", "A,hello-world",
			"S,beep", waitFor("TDDF"), "E,x", waitFor("E"))},
		{name: "absolute-and-relative-paths", steps: steps("A,"+en+"/beep", waitFor("F"), "A,digits/1", waitFor("F"),
			"A,beep.gsm", waitFor("Z"), "E,x", waitFor("E"))},
		{name: "absolute-missing-with-extension", steps: steps("A,"+en+"/beep.gsm", "A,beep", waitFor("F"), syncP(), "E,x", waitFor("E"))},
		{name: "relative-leaving-sounds-dir", steps: steps("A,../sounds/en/beep", "A,beep", waitFor("F"), syncP(), "E,x", waitFor("E"))},
		{name: "absolute-missing", gap: "absolute path outside the sounds tree", steps: steps("S,/nonexistent/path/file", "S,beep", waitFor("F"), syncP(), "E,x", waitFor("E"))},
		{name: "missing-files-Z", steps: steps("S,no-such-file", waitFor("Z"), "A,no-such-file-2", waitFor("Z"), "S,beep",
			waitFor("F"), "A,no-such-file-3", waitFor("Z"), "A,hello-world", waitFor("F"), "S,", syncP(), "E,done-02", waitFor("E"))},
		{name: "autoclear-DTMF-while-playing", steps: steps(playing("S,demo-congrats"), "A,beep", "A,vm-goodbye", "O,autoclear",
			syncP(), dtmf("1"), waitFor("TDD"), "O,noautoclear", playing("S,demo-congrats"), "A,beep", dtmf("3"), "I,x", waitFor("TD"),
			"O,autoclear", syncP(), dtmf("45"), "O,bogusoption", syncP(), "E,done-03", waitFor("E"))},
		{name: "I-while-playing", steps: steps(playing("S,demo-congrats"), "A,beep", "A,vm-goodbye", "I,x", waitFor("TDD"),
			"I,when-idle", "A,beep", waitFor("F"), "E,done-04", waitFor("E"))},
		{name: "H-while-playing", steps: steps(playing("S,demo-congrats"), "A,beep", "H,bye-from-script", waitFor("H"), eofStep{})},
		{name: "E-while-playing", steps: steps(playing("S,demo-congrats"), "A,beep", "E,exit-from-script", waitFor("E"), eofStep{})},
		{name: "V-G-edge-cases", setVars: []string{"a", "b", "c", "d", "e", "FROMSCRIPT", " f"}, steps: steps(
			"V,a=1,b=2", "G,a,b", waitFor("G"), "V,c=with=equals,d=,e", "G,c,d,e", waitFor("G"),
			"V,CALLERID(num)=777", "G,CALLERID(num)", waitFor("G"), "V,FROMSCRIPT=value with spaces", "G,FROMSCRIPT", waitFor("G"),
			"V,", "V,a=2, f=3", "G,a,,b, f", waitFor("G"), "G,a,", waitFor("G"), "G,PRESET,EXTEN,CHANNEL(state),NOSUCH", waitFor("G"),
			"E,done-09", waitFor("E"))},
		{name: "P-L-unknown-short-lines", args: ",arg1,arg 2", steps: steps("L,hello log line from script", "P", "P,", "P,whatever",
			waitFor("P"), "Q,unknown-command", "Z,also-unknown", "s,beep", "S,", "xx", "x", ",,,", rawStep("\r\n"),
			rawStep("   S,beep   \n"), rawStep("A,beep\r\n"), waitFor("F"), syncP(), "E,done-10", waitFor("E"))},
		{name: "option-n-then-T", opts: "n", steps: steps("S,beep", waitFor("Z"), "A,beep", waitFor("Z"), "I,x", waitFor("Z"),
			"O,autoclear", waitFor("Z"), "G,CHANNEL(state),PRESET", waitFor("G"), "P,x", waitFor("P"), "T", "T,answer-now",
			"G,PRESET", waitFor("G"), "T,again", "S,beep", waitFor("F"), dtmf("7"), "E,done-05", waitFor("E"))},
		{name: "option-i-far-end-hangup", opts: "i", steps: steps(playing("S,demo-congrats"), "A,beep", syncP(), hangupStep{},
			waitFor("I"), "S,beep", waitFor("Z"), "P,after", waitFor("P"), "E,done-12", waitFor("E"), eofStep{})},
		{name: "option-i-G-after-hangup", opts: "i", setVars: []string{"AFTER"}, steps: steps(
			"V,BEFORE=1", syncP(), hangupStep{}, waitFor("I"), "G,PRESET,BEFORE", waitFor("G"), "V,AFTER=1", "G,AFTER", waitFor("G"),
			"E,done-12", waitFor("E"), eofStep{})},
		{name: "far-end-hangup-during-playback", steps: steps(playing("S,demo-congrats"), "A,beep", syncP(), hangupStep{}, waitFor("H"), eofStep{})},
		{name: "far-end-hangup-idle", steps: steps(syncP(), hangupStep{}, waitFor("H"), eofStep{})},
		{name: "script-exits", steps: steps("S,beep", waitFor("F"), closeStep{})},
		{name: "script-exits-while-playing", steps: steps(playing("S,demo-congrats"), closeStep{})},
		{name: "DTMF-idle-many-digits", steps: steps(syncP(), dtmf("0123456789*#ABCD"), syncP(), "E,done-20", waitFor("E"))},
		{name: "early-DTMF-option-n", opts: "n", early: "12", steps: steps(
			// Native holds early digits in the channel's queue until T, so
			// it needs no wait; through the gateway both digits must have
			// reached the unanswered channel (ChannelDtmfReceived) first.
			eventStep{what: "ChannelDtmfReceived 2 before the answer", gatewayOnly: true, match: func(e event) bool {
				return e.Type == "ChannelDtmfReceived" && e.Digit == "2" && e.Channel.State != "Up"
			}},
			"T,x", waitFor("12"), syncP(), "E,done-early", waitFor("E"))},
		// Q31: option d on a live channel is refused natively (ERROR "not
		// supported", hang-up) and by the gateway (EIVRGW_STATUS=BADOPTION).
		{name: "option-d-live-channel", opts: "d", noClient: true},
		// The G reply's 2047-byte cut right after an item's ',' (24 items of
		// 89 bytes "GA=<85>,"): native drops that one trailing ',' (2046).
		{name: "G-cut-after-separator", setVars: []string{"GA"}, steps: steps("V,GA="+strings.Repeat("g", 85),
			"G"+strings.Repeat(",GA", 24), waitFor("G"), "E,x", waitFor("E"))},
		{name: "latin1-V-G", setVars: []string{"CHOICE"}, steps: steps("V,CHOICE=caf\xe9", "G,CHOICE", waitFor("G"), "E,x", waitFor("E"))},

		{name: "tcp-menu", tcp: true, args: ",arg1,arg2", steps: steps("P,x", waitFor("P"), "S,beep", "A,hello-world", waitFor("FF"),
			dtmf("5"), "G,PRESET", waitFor("G"), "O,autoclear", playing("S,demo-congrats"), syncP(), "E,done-18", waitFor("E"))},
		{name: "tcp-autoclear-DTMF", tcp: true, steps: steps("O,autoclear", "S,demo-congrats", "A,beep", syncP(), dtmf("6"),
			waitFor("TD"), "E,x", waitFor("E"))},
		{name: "tcp-server-closes", tcp: true, steps: steps("S,beep", waitFor("F"), closeStep{})},
		{name: "tcp-H", tcp: true, steps: steps(playing("S,demo-congrats"), "H,bye", waitFor("H"), eofStep{})},
		{name: "tcp-far-end-hangup", tcp: true, steps: steps(syncP(), hangupStep{}, waitFor("H"), eofStep{})},
		{name: "tcp-option-n", tcp: true, opts: "n", steps: steps("S,beep", waitFor("Z"), "T,x", "S,beep", waitFor("F"), "E,x", waitFor("E"))},
		{name: "tcp-option-i-far-end-hangup", tcp: true, opts: "i", steps: steps(syncP(), hangupStep{}, waitFor("I"), "P,x",
			waitFor("P"), "E,x", waitFor("E"), eofStep{})},
		{name: "tcp-latin1-V-G", tcp: true, setVars: []string{"CHOICE"}, steps: steps("V,CHOICE=caf\xe9", "G,CHOICE", waitFor("G"), "E,x", waitFor("E"))},
	}
}

// TestDifferential runs every scenario natively, through the gateway on
// its inbound socket and through the gateway in listener mode (Asterisk's
// per-call outbound WebSocket, when EIVR_LISTEN_PORT is set), on the same
// Asterisk, and compares what the scripts read and how the dialplan went
// on, each gateway side against native.
func TestDifferential(t *testing.T) {
	l := need(t)
	sides := []side{gateway}
	if l.out != nil {
		sides = append(sides, outbound)
	} else if os.Getenv(envRequire) == "1" {
		t.Fatalf("%s=1 but %s", envRequire, l.outSkip)
	} else {
		t.Logf("outbound side skipped: %s", l.outSkip)
	}
	concurrently(t, scenarios(l), func(t *testing.T, sc *scenario) { differential(t, l, sc, sides...) })
}

// concurrently runs one subtest per scenario, up to EIVR_LANE_PARALLEL
// (default 6) at a time whatever -parallel says: every run has its own
// channels and listener, and most of a run's time is spent waiting for
// Asterisk, so the lane's wall time is what it should be even where
// GOMAXPROCS is 2.
func concurrently(t *testing.T, scs []*scenario, fn func(*testing.T, *scenario)) {
	n := 6
	if v, err := strconv.Atoi(os.Getenv(envParallel)); err == nil && v > 0 {
		n = v
	}
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for _, sc := range scs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			t.Run(sc.name, func(t *testing.T) { fn(t, sc) })
		})
	}
	wg.Wait()
}

// differential runs sc natively and on each gateway side (the inbound
// gateway when none is given) and reports each side's differences from
// native: errors, or t.Log lines for a scenario carrying a
// documented-difference marker (which fails if the two sides agree: the
// marker must then go). It returns them, prefixed by the side.
func differential(t *testing.T, l *Lane, sc *scenario, sides ...side) []string {
	t.Helper()
	if len(sides) == 0 {
		sides = []side{gateway}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	n := runSide(t, l, sc, native, ln)
	if n.Abort != "" {
		t.Fatalf("native run did not complete (the scenario is wrong): %s\ntranscript:\n%s\nscript:\n%s", n.Abort, n.Transcript, sc.script())
	}
	var all []string
	for _, s := range sides {
		g := runSide(t, l, sc, s, ln)
		for _, d := range judge(t, l, sc, s, n, g) {
			all = append(all, s.String()+": "+d)
		}
	}
	return all
}

// judge compares one gateway side's result g with native's n and reports
// as differential says.
func judge(t *testing.T, l *Lane, sc *scenario, s side, n, g result) []string {
	t.Helper()
	diffs := compare(n, g)
	if sc.farHangsUp() {
		// The gateway sets variables asynchronously (a V returns at once;
		// Asterisk queues the set behind the playing file or silence), so
		// a far-end hang-up right after a V can win the race: logged, not
		// failed (README, "Differences").
		diffs = slices.DeleteFunc(diffs, func(d string) bool {
			if strings.HasPrefix(d, "variables set:") {
				t.Logf("%s: far-end hang-up after V: %s", s, d)
				return true
			}
			return false
		})
	}
	if len(diffs) == 0 {
		if sc.gap != "" {
			t.Errorf("documented difference %q: native and %s now agree; remove the marker and its README row", sc.gap, s)
		}
		return nil
	}
	report := fmt.Sprintf("native vs %s differ:\n  %s\nnative transcript:\n%s\n%s transcript:\n%s\nreplayable script:\n%s",
		s, strings.Join(diffs, "\n  "), indent(n.Transcript), s, indent(g.Transcript), sc.script())
	if sc.gap != "" {
		t.Logf("documented difference %q (README, Differences): %s", sc.gap, report)
		return diffs
	}
	t.Errorf("%s\ngateway log of the call:\n%s", report, l.gwLogFor(g.channelID))
	return diffs
}

func compare(n, g result) []string {
	var d []string
	if string(n.Transcript) != string(g.Transcript) {
		d = append(d, "transcript")
	}
	if g.Abort != "" {
		d = append(d, "gateway run: "+g.Abort)
	}
	if n.Continued != g.Continued {
		d = append(d, fmt.Sprintf("dialplan continued: native %v, gateway %v", n.Continued, g.Continued))
	}
	if !maps.Equal(n.Vars, g.Vars) {
		d = append(d, fmt.Sprintf("variables set: native %q, gateway %q", n.Vars, g.Vars))
	}
	if n.Cause != g.Cause && !deliberateCause(n, g) {
		d = append(d, fmt.Sprintf("hangup cause: native %d, gateway %d", n.Cause, g.Cause))
	}
	if n.HangupH != g.HangupH && !deliberateCause(n, g) {
		d = append(d, fmt.Sprintf("HANGUPCAUSE in the h extension: native %q, gateway %q", n.HangupH, g.HangupH))
	}
	return d
}

func indent(b []byte) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(fmt.Sprintf("%q", b), "\n"), `\n`, "\\n\n    ")
}

// deliberateCause is the one difference of the dialplan outcome we accept
// (README, "Differences"): when the session ends with a hang-up, native
// ExternalIVR() leaves the cause 0 and ARI's hang-up sets 16 (normal
// clearing). TestDeliberateHangupCause pins it.
func deliberateCause(n, g result) bool {
	return !n.Continued && !g.Continued && n.Cause == 0 && g.Cause == 16 &&
		(n.HangupH == g.HangupH || n.HangupH == "0" && g.HangupH == "16")
}

func (sc *scenario) farHangsUp() bool {
	return slices.ContainsFunc(sc.steps, func(s step) bool { _, ok := s.(hangupStep); return ok })
}
