package asterisk

import (
	"context"
	"net"
	"strings"
	"testing"
)

// The deliberate differences of README "Differences from Asterisk's
// ExternalIVR()", each shown on both sides of the real Asterisk.

func bothSides(t *testing.T, sc *scenario) (n, g result) {
	t.Helper()
	l := need(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	n = runSide(t, l, sc, native, ln)
	g = runSide(t, l, sc, gateway, ln)
	if n.Abort != "" || g.Abort != "" {
		t.Fatalf("runs did not complete: native %q, gateway %q\nnative:\n%s\ngateway:\n%s", n.Abort, g.Abort, n.Transcript, g.Transcript)
	}
	return n, g
}

// Q1 (asterisk#2148): of lines arriving in one write, native runs the first
// and holds the rest until the script writes again; the gateway runs all.
// The digit, sent after the first reply, lands between them natively. Over
// ivr:// the burst reaches Asterisk in one segment (no relay in between).
func TestDeliberateQ1BurstWrites(t *testing.T) {
	t.Parallel()
	sc := &scenario{name: "Q1", tcp: true, noNudge: true, steps: steps(rawStep("P,1\nG,PRESET\n"), awaitStep('P'), dtmf("5"),
		nudgeOn{}, syncP(), "E,x", awaitStep('E'))}
	n, g := bothSides(t, sc)
	if got := tags(n.Transcript); got != "P5GPE" {
		t.Errorf("native: %s (%q), want P5GPE: G held until the next write", got, n.Transcript)
	}
	if got := tags(g.Transcript); got != "PG5PE" {
		t.Errorf("gateway: %s (%q), want PG5PE: both lines run at once", got, g.Transcript)
	}
}

// D: native blocks its loop while sending DTMF and discards caller digits
// meanwhile; the gateway reports them. The caller's digit is sent once the
// far end has received the first digit of the script's D, with about two
// seconds of the D still to run.
func TestDeliberateDDigits(t *testing.T) {
	t.Parallel()
	sc := &scenario{name: "D", steps: steps(syncP(), "D,1234,500",
		eventStep{what: "far end receives the script's first D digit", match: func(e event) bool {
			return e.Type == "ChannelDtmfReceived" && e.Digit == "1" && e.Channel != nil && strings.HasSuffix(e.Channel.Name, ";1")
		}},
		dtmfStep{digits: "9", noWait: true},
		eventStep{what: "far end receives the script's last D digit", match: func(e event) bool {
			return e.Type == "ChannelDtmfReceived" && e.Digit == "4" && e.Channel != nil && strings.HasSuffix(e.Channel.Name, ";1")
		}},
		syncP(), "E,x", awaitStep('E'))}
	n, g := bothSides(t, sc)
	if got := tags(n.Transcript); got != "PPE" {
		t.Errorf("native: %s (%q), want PPE: the caller's 9 during D is discarded", got, n.Transcript)
	}
	if got := tags(g.Transcript); got != "P9PE" {
		t.Errorf("gateway: %s (%q), want P9PE: the caller's 9 during D is reported", got, g.Transcript)
	}
}

// A session that ends with a hang-up (H here): native leaves the channel's
// cause 0, ARI's hang-up sets 16 (normal clearing); the script reads the
// same bytes.
func TestDeliberateHangupCause(t *testing.T) {
	t.Parallel()
	sc := &scenario{name: "cause", steps: steps(syncP(), "H,x", awaitStep('H'), eofStep{})}
	n, g := bothSides(t, sc)
	if string(n.Transcript) != string(g.Transcript) {
		t.Errorf("transcripts differ: native %q, gateway %q", n.Transcript, g.Transcript)
	}
	if n.Continued || g.Continued || n.Cause != 0 || g.Cause != 16 {
		t.Errorf("native: continued %v cause %d (want false 0); gateway: continued %v cause %d (want false 16)", n.Continued, n.Cause, g.Continued, g.Cause)
	}
	if n.HangupH != "0" || g.HangupH != "16" {
		t.Errorf("h extension HANGUPCAUSE: native %q (want 0), gateway %q (want 16)", n.HangupH, g.HangupH)
	}
}

// tags is the first byte of every line of a transcript.
func tags(tr []byte) string {
	var b strings.Builder
	for _, line := range strings.SplitAfter(string(tr), "\n") {
		if line != "" {
			b.WriteByte(line[0])
		}
	}
	return b.String()
}

// nudgeOn lets the following waits nudge (see run.await).
type nudgeOn struct{}

func (nudgeOn) do(_ context.Context, r *run) error { r.nudge = true; return nil }
func (nudgeOn) String() string                     { return "# nudges on" }
