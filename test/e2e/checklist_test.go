package e2e

// eivr-protocol.md §9, the re-implementation checklist, and where each item
// is tested end to end (gateway on aritest, real programs or TCP clients):
//
//   - Event bytes "%c,%10d[,data]\n", timestamp at write time:
//     TestTimestampAtWriteTime; every transcript comparison (masked).
//   - Commands: trailing-whitespace trim, no leading trim, minimum 3 bytes,
//     parameter at offset 2, unknown letters ignored, 1023-byte lines:
//     TestNativeTranscripts/eivr-10-L-P-unknown-short-D, TestLongLines.
//   - Z forms: Z,<ts> (guard) eivr-05, eivr-12; Z,<ts>,<file> eivr-01,
//     eivr-02; Z,<ts>,ANSWER_FAILURE TestAnswerFailure; GENERATOR_FAILURE
//     has no ARI cause and is never sent (ari-mapping.md §6.1). No Z for
//     unknown commands or options: eivr-03 (O,bogusoption), eivr-10.
//   - T carries the interrupted file, D every other queued file: eivr-01,
//     eivr-03, eivr-04, TestPerlMenuPlayDTMFExit.
//   - F only for files played to the end, only while Up: eivr-01,
//     eivr-13 (hangup: no F), TestPlayFailureSkipped.
//   - G never evaluates functions; unset -> name=: eivr-05, eivr-09.
//   - P from the parsed argv, 99-byte cap: every replay's P check,
//     TestShPlaylist.
//   - Return/continue semantics of §8.3, E and H echoed: eivr-06, eivr-07,
//     eivr-16, TestPerlMenuH, TestShPlaylist, TestStartFailureAnswersThenHangsUp.

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
)

// The timestamp is the Unix time in whole seconds when the line is
// written, space-padded to 10 columns.
func TestTimestampAtWriteTime(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ts := newTCPServer(t)
	_, c := w.tcpCall(t, ts, "", aritest.CallOptions{})
	before := time.Now().Unix()
	c.send("P,x")
	c.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	l, err := c.br.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().Unix()
	f := strings.SplitN(l, ",", 3)
	if len(f) != 3 || f[0] != "P" || len(f[1]) != 10 {
		t.Fatalf("line %q: want P,<10 columns>,<data>", l)
	}
	v, err := strconv.ParseInt(strings.TrimLeft(f[1], " "), 10, 64)
	if err != nil || v < before || v > after {
		t.Errorf("timestamp %q not in [%d, %d]", f[1], before, after)
	}
	c.send("E,x")
	c.expect("E,ts")
}

// Lines are cut every 1023 bytes and each piece is a command (Q3 kept):
// S with a 1021-byte name gets Z with the name; the tail of a long line
// that starts with P runs as P.
func TestLongLines(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ts := newTCPServer(t)
	_, c := w.tcpCall(t, ts, "", aritest.CallOptions{Answered: true})
	name := strings.Repeat("n", 1021)
	c.send("S," + name)
	c.expect("Z,ts," + name)
	// 1023 bytes of G, then "P,tail": the tail is a P command.
	g := "G," + strings.Repeat("a", 1021)
	c.send(g + "P,tail")
	c.expect("G,ts,"+strings.Repeat("a", 1021)+"=", "P,ts,"+ts.url()+",x")
	c.send("E,x")
	c.expect("E,ts")
}

// T on an unanswered channel with option n answers it; if Asterisk refuses
// the answer, the client gets Z,<ts>,ANSWER_FAILURE.
func TestAnswerFailure(t *testing.T) {
	w := newWorld(t, worldOpts{})
	ts := newTCPServer(t)
	id, c := w.tcpCall(t, ts, "n", aritest.CallOptions{})
	w.Srv.FailREST("POST", "/channels/"+id+"/answer", 500, 1)
	c.send("T,x")
	c.expect("Z,ts,ANSWER_FAILURE")
	c.send("T,again", "S,beep")
	c.expect("F,ts,beep")
	c.send("E,x")
	c.expect("E,ts")
}
