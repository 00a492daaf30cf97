package gateway

import (
	"strings"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/eivr"
)

// Every letter eivr's command table has is routed to a handler of the
// gateway's table; every other letter falls back to noRoute.
func TestCommandTableCoversEIVR(t *testing.T) {
	for c := range eivr.Commands() {
		if int(c.Letter) >= len(commandTable) || commandTable[c.Letter] == nil {
			t.Errorf("eivr command %c (%s) has no row in the gateway's table", c.Letter, c.Name)
		}
	}
	for l := range len(commandTable) {
		if commandTable[l] != nil && !(eivr.Command{Letter: byte(l)}).Known() {
			t.Errorf("the gateway routes %q, which eivr does not know", byte(l))
		}
	}
}

// A letter Asterisk does not execute is ignored without a reply and
// without a REST call, as native ignores it (§4.2, §10 Q7), on an Up
// channel and on one that is not (no Z, unlike the Up-guarded S/A/I/O);
// the observer still sees the line the client wrote.
func TestUnknownLetterIgnored(t *testing.T) {
	tests := []struct {
		name  string
		app   appSpec
		state string
	}{
		{"up", appSpec{}, "Up"},
		{"not answered (n)", appSpec{noAnswer: true}, "Ring"},
	}
	unknown := []string{"Q,foo", "s,beep", "Z,x", "B,1", "\x7f,x", "\xc3,x"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			obs := newRecObserver()
			h := startHarness(t, tt.app, tt.state, func(e *sessionEnv, _ *fakeOps, _ *fakeConn) { e.obs = obs })
			if v := brief(obs.next(t)); !strings.HasPrefix(v, "started ") {
				t.Fatalf("first observed %s", v)
			}
			h.cmd(unknown...)
			h.noCall() // its P barrier is the first line: no reply to any of them
			for _, want := range unknown {
				if got := brief(obs.next(t)); got != "line c1 s1 → "+want {
					t.Fatalf("observed %q, want the line %q", got, want)
				}
			}
			if tt.state != "Up" {
				h.cmd("S,beep") // the Up-guard, for contrast
				h.expectLines("Z,ts")
			}
		})
	}
}

// nativeG is app_externalivr.c's G rule, written out: "name=value," per
// item, the whole copied into a 2048-byte buffer (2047 bytes kept) after
// each item, then one trailing ',' removed.
func nativeG(names, values []string) string {
	var all, out string
	for i, n := range names {
		all += n + "=" + values[i] + ","
		out = all[:min(len(all), eivr.MaxGReply)]
	}
	return strings.TrimSuffix(out, ",")
}

// The G reply is built as native builds it, also when the 2047-byte cut
// lands right after an item's separator: G,N,X with a 2044-byte value of
// N is "N=<2044>" (2046 bytes), not 2047 bytes ending in ','.
func TestGReplyCut(t *testing.T) {
	tests := []struct {
		name  string
		names []string
		nLen  int // length of N's value
		want  int // length of the reply data
	}{
		{"cut right after the separator", []string{"N", "X"}, 2044, 2046},
		{"cut right before the separator", []string{"N", "X"}, 2045, 2047},
		{"cut in the next name", []string{"N", "X"}, 2043, 2047},
		{"cut in the value", []string{"N", "X"}, 3000, 2047},
		{"one item that fills it", []string{"N"}, 2045, 2047},
		{"one item that ends at 2046", []string{"N"}, 2044, 2046},
		{"fits", []string{"N", "X"}, 10, len("N=") + 10 + len(",X=")},
		{"an empty name at the cut", []string{"N", "", "X"}, 2042, 2046},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := startHarness(t, appSpec{}, "Up", nil)
			h.ops.vars["N"] = strings.Repeat("n", tt.nLen)
			values := make([]string, len(tt.names))
			var ref eivr.GetReply
			for i, n := range tt.names {
				values[i] = h.ops.vars[n]
				ref.Add(n, values[i])
			}
			h.cmd("G," + strings.Join(tt.names, ","))
			got := strings.TrimSuffix(strings.TrimPrefix(h.line(), "G,ts,"), "\n")
			if native := nativeG(tt.names, values); got != native || got != ref.String() || len(got) != tt.want {
				t.Errorf("G reply of %d bytes ending %q; native %d bytes ending %q, eivr.GetReply %d bytes, want %d",
					len(got), got[max(0, len(got)-3):], len(native), native[max(0, len(native)-3):], len(ref.String()), tt.want)
			}
		})
	}
}
