package asterisk

import (
	"net"
	"testing"
)

func TestProbe(t *testing.T) {
	l := need(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	sc := &scenario{name: "probe", setVars: []string{"a"}, steps: steps(
		"S,beep", waitFor("F"), "V,a=1", "G,a,PRESET", waitFor("G"), dtmf("5"), syncP(), "E,x", waitFor("E"))}
	for _, s := range []side{native, gateway} {
		res := runSide(t, l, sc, s, ln)
		t.Logf("%s: %q continued=%v H=%q cause=%d vars=%v abort=%q lat=%v", s, res.Transcript, res.Continued, res.HangupH, res.Cause, res.Vars, res.Abort, res.DTMFLat)
	}
}
