package main

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if isChild() {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m)
}

func testConfig(t testing.TB, tcp, stdio int) (Config, *lockedBuffer) {
	t.Helper()
	script, err := scriptPath()
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	return Config{TCP: tcp, Stdio: stdio, Speed: 50, StartRate: 1000, Rate: 2000, Script: script, Timeout: 30 * time.Second, Stderr: logs}, logs
}

// TestLoad runs 200 TCP calls and 20 stdio children at once (1000 and 100
// without -short): every call must end as its script says (E: the dialplan
// continues with the variables it set), no digit may be lost, and the
// gateway's read loop must neither drop an event nor fall 100 ms behind (a
// reconnect). Timings are logged, not asserted.
func TestLoad(t *testing.T) {
	tcp, stdio := 1000, 100
	if testing.Short() {
		tcp, stdio = 200, 20
	}
	cfg, logs := testConfig(t, tcp, stdio)
	rep, err := Run(context.Background(), cfg)
	var b strings.Builder
	rep.Print(&b, cfg)
	t.Logf("\n%s", b.String())
	if err != nil {
		t.Fatalf("%v\ngateway logs:\n%s", err, logs)
	}
	if rep.Failed != 0 {
		t.Errorf("%d of %d calls failed:\n%s", rep.Failed, rep.Calls, strings.Join(rep.Failures, "\n"))
	}
	if a := rep.End.ARI; a.Dropped != 0 || a.DecodeErrors != 0 || a.Reconnects != 0 {
		t.Errorf("ARI stream: %+v", a)
	}
	if rep.DTMFToScript.N != len(digits)*tcp {
		t.Errorf("%d digits reached TCP scripts, want %d", rep.DTMFToScript.N, len(digits)*tcp)
	}
	if rep.End.Sessions != 0 {
		t.Errorf("%d sessions left", rep.End.Sessions)
	}
	if t.Failed() {
		t.Logf("gateway logs:\n%s", logs)
	}
}

// BenchmarkCalls runs b.N TCP calls through the gateway, all live at once,
// and reports calls/s, latencies and the gateway's memory per session.
func BenchmarkCalls(b *testing.B) {
	cfg, logs := testConfig(b, b.N, 0)
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		b.Fatalf("%v\n%s", err, logs)
	}
	if rep.Failed != 0 {
		b.Fatalf("%d calls failed: %v", rep.Failed, rep.Failures)
	}
	b.ReportMetric(rep.CallsPerSec, "calls/s")
	b.ReportMetric(float64(rep.DTMFToScript.P99.Nanoseconds()), "dtmf-p99-ns")
	b.ReportMetric(float64(rep.CmdToARI.P99.Nanoseconds()), "cmd-p99-ns")
	b.ReportMetric(rep.HeapPerSession+rep.StackPerSession, "gw-B/session")
	b.ReportMetric(rep.GoroutinesPer, "gw-goroutines/session")
}

// TestSaturateSmoke runs one tiny round of the saturation mode in each
// mode (inbound, per-call outbound): every open-loop call must end as its
// script says and every digit must reach its script. Speed is reported by
// `go run ./test/load -saturate`, never asserted.
func TestSaturateSmoke(t *testing.T) {
	cfg, logs := testConfig(t, 0, 0)
	rounds := Saturate(context.Background(), SatConfig{Base: cfg, Rates: []float64{100}, Round: time.Second, MinCal: 50, MaxP99: time.Hour})
	var b strings.Builder
	PrintRounds(&b, rounds)
	t.Logf("\n%s", b.String())
	if len(rounds) != 2 {
		t.Fatalf("%d rounds, want one per mode", len(rounds))
	}
	for _, r := range rounds {
		if r.Err != nil {
			t.Errorf("%s: %v", r.Mode, r.Err)
			continue
		}
		if r.Rep.Calls != 100 || r.Rep.Failed != 0 {
			t.Errorf("%s: %d of %d calls failed: %v", r.Mode, r.Rep.Failed, r.Rep.Calls, r.Rep.Failures)
		}
		if r.Rep.DTMFToScript.N != len(digits)*r.Rep.Calls {
			t.Errorf("%s: %d digits reached the scripts, want %d", r.Mode, r.Rep.DTMFToScript.N, len(digits)*r.Rep.Calls)
		}
		if r.Rep.End.Sessions != 0 || r.Rep.End.ARI.Dropped != 0 {
			t.Errorf("%s: %d sessions left, %d events dropped", r.Mode, r.Rep.End.Sessions, r.Rep.End.ARI.Dropped)
		}
	}
	if t.Failed() {
		t.Logf("gateway logs:\n%s", logs)
	}
}
