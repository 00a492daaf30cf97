package asterisk

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scenario is one row of the differential table: a legacy client's script
// run the same way natively and through the gateway.
type scenario struct {
	name     string
	tcp      bool   // ivr://127.0.0.1:PORT(args) instead of a stdio program
	args     string // extra program arguments, ",a,b" (TCP: the URL's arguments)
	opts     string // ExternalIVR options
	early    string // DTMF the caller sends on early media ([caller-test], GW_PROGRESS)
	vars     map[string]string
	setVars  []string // variables the script sets with V, compared after the call
	noNudge  bool     // the scenario writes partial lines: no L nudges
	noClient bool     // the application refuses the call: no client is started, no steps run
	steps    []step
	rerun    string // how to run this very case again (generated ones)
	// gap names a difference that Asterisk leaves no way to close, listed
	// in the README's Differences: the difference is logged, and the
	// scenario fails if the two sides agree (the marker must then go).
	gap string
}

// step is one action of a script. Every step that needs the other side to
// have done something waits for an event it received.
type step interface {
	do(ctx context.Context, r *run) error
	String() string
}

type sendStep string // one command line, in one write

func (s sendStep) do(_ context.Context, r *run) error {
	r.write([]byte(string(s) + "\n"))
	return nil
}
func (s sendStep) String() string { return "send " + strconv.Quote(string(s)) }

type rawStep string // bytes as they are, in one write

func (s rawStep) do(_ context.Context, r *run) error { r.write([]byte(s)); return nil }
func (s rawStep) String() string                     { return "sendraw " + strconv.Quote(string(s)) }

type awaitStep byte // the next event line with this tag

func (s awaitStep) do(ctx context.Context, r *run) error { return r.await(ctx, byte(s)) }
func (s awaitStep) String() string                       { return "waitfor " + string(s) }

type eofStep struct{} // the session ended: EOF on the script's input

func (eofStep) do(ctx context.Context, r *run) error {
	ctx, cancel := context.WithTimeout(ctx, endTimeout)
	defer cancel()
	_, err := r.cl.waitLine(ctx, 0, 0, nil)
	return err
}
func (eofStep) String() string { return "waitfor EOF" }

// dtmfStep: the far end sends digits (ARI POST /channels/{far}/dtmf), and
// the step waits for each digit's line unless noWait.
type dtmfStep struct {
	digits string
	noWait bool
}

func (s dtmfStep) do(ctx context.Context, r *run) error {
	if err := r.farInStasis(ctx); err != nil {
		return err
	}
	sent := time.Now()
	q := url.Values{"dtmf": {s.digits}}
	if _, err := r.l.rest(ctx, "POST", "/channels/"+r.far+"/dtmf", q, nil); err != nil {
		return err
	}
	if s.noWait {
		return nil
	}
	from := 0
	for _, d := range s.digits {
		if err := r.await(ctx, byte(d)); err != nil {
			return err
		}
		read := r.cl.lineTime(r.cursor - 1)
		// Asterisk publishes ChannelDtmfReceived for the IVR channel when
		// the digit ends (native and gateway alike): from its arrival here
		// to the line read by the script is the DTMF→script latency.
		e, i, err := r.ev.wait(ctx, from, func(e event) bool {
			return e.Type == "ChannelDtmfReceived" && r.ivr(e) && e.Digit == string(d) && e.Recv.After(sent)
		})
		if err != nil {
			return fmt.Errorf("no ChannelDtmfReceived %c: %w", d, err)
		}
		from = i + 1
		r.res.DTMFLat = append(r.res.DTMFLat, read.Sub(e.Recv))
	}
	return nil
}

func (s dtmfStep) String() string {
	return "ari POST /channels/{drv}/dtmf?" + url.Values{"dtmf": {s.digits}}.Encode()
}

type hangupStep struct{} // the far end hangs up

func (hangupStep) do(ctx context.Context, r *run) error {
	_, err := r.l.rest(ctx, "DELETE", "/channels/"+r.far, nil, nil)
	return err
}
func (hangupStep) String() string { return "ari DELETE /channels/{drv}" }

type closeStep struct{} // the script exits / the server closes the connection

func (closeStep) do(_ context.Context, r *run) error { r.cl.conn.Close(); return nil }
func (closeStep) String() string                     { return "exit" }

// eventStep waits for an ARI event of the run's channels.
type eventStep struct {
	what        string
	gatewayOnly bool // an event only the gateway's side produces
	match       func(event) bool
}

func (s eventStep) do(ctx context.Context, r *run) error {
	if s.gatewayOnly && r.side == native {
		return nil
	}
	_, err := r.awaitEvent(ctx, s.what, s.match)
	return err
}
func (s eventStep) String() string { return "wait for ARI " + s.what }

// Shorthands for the table.
func send(lines ...string) []step {
	out := make([]step, len(lines))
	for i, l := range lines {
		out[i] = sendStep(l)
	}
	return out
}

func waitFor(tags string) []step {
	out := make([]step, len(tags))
	for i := range tags {
		out[i] = awaitStep(tags[i])
	}
	return out
}

func dtmf(d string) step { return dtmfStep{digits: d} }

// sync proves every earlier command ran: P's reply comes after them.
func syncP() []step { return []step{sendStep("P,sync"), awaitStep('P')} }

// playing starts file and proves it is playing: the P reply shows S ran,
// and a marker digit (100 ms long, the generator ticks every 20 ms) shows
// the channel was read while the file was current.
func playing(cmd string) []step {
	return append(append(send(cmd), syncP()...), dtmf("9"))
}

func steps(parts ...any) []step {
	var out []step
	for _, p := range parts {
		switch p := p.(type) {
		case step:
			out = append(out, p)
		case []step:
			out = append(out, p...)
		case string:
			out = append(out, sendStep(p))
		default:
			panic(fmt.Sprintf("steps: %T", p))
		}
	}
	return out
}

// script prints a scenario as a replayable script in the notation of
// ../shared/testdata/asterisk/eivr/scen ({drv} is the far end, the ;1 half
// of the originated Local channel), plus "waitfor EOF" and "wait for ARI"
// lines for the waits that notation does not have.
func (sc *scenario) script() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s (tcp=%v opts=%q args=%q early=%q)\n", sc.name, sc.tcp, sc.opts, sc.args, sc.early)
	if sc.rerun != "" {
		fmt.Fprintf(&b, "# rerun: %s\n", sc.rerun)
	}
	for _, st := range sc.steps {
		b.WriteString(st.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestScenarioScript(t *testing.T) {
	sc := &scenario{name: "seed-7", rerun: "EIVR_LANE_SEED=7 EIVR_LANE_CASES=1 go test -run 'TestGenerated$' ./test/asterisk",
		opts: "i", steps: steps("S,beep", awaitStep('F'), rawStep("A,be"), dtmf("1#"), hangupStep{}, closeStep{}, eofStep{})}
	want := `# seed-7 (tcp=false opts="i" args="" early="")
# rerun: EIVR_LANE_SEED=7 EIVR_LANE_CASES=1 go test -run 'TestGenerated$' ./test/asterisk
send "S,beep"
waitfor F
sendraw "A,be"
ari POST /channels/{drv}/dtmf?dtmf=1%23
ari DELETE /channels/{drv}
exit
waitfor EOF
`
	if got := sc.script(); got != want {
		t.Errorf("script:\n%s\nwant:\n%s", got, want)
	}
}
