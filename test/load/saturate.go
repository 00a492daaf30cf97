package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// SatConfig is a saturation run: for each mode (inbound, per-call
// outbound) rounds of open-loop TCP calls at a rising offered rate, until
// p99 DTMF->script exceeds MaxP99, a call fails, or the calls/s reached
// fall below 80 % of the offered rate (the gateway, the fake or the
// clients cannot keep up on this machine).
type SatConfig struct {
	Base   Config        // Speed, Script, Timeout, Stderr; TCP, Rate, Open, Outbound are set per round
	Rates  []float64     // offered calls/s, in order
	Round  time.Duration // length of a round's arrivals (calls = rate × Round, at least MinCalls)
	MinCal int
	MaxP99 time.Duration
	// ProfileDir: each round's gateway CPU profile is written there as
	// <mode>-<rate>.pprof ("" = none).
	ProfileDir string
}

// Round is one rate of one mode.
type Round struct {
	Mode    string
	Offered float64
	Rep     Report
	Err     error
	Stop    string // why the mode stopped after this round ("" = went on)
}

// GatewayShare is the gateway's part of the CPU spent by the whole run
// (gateway process + this process: fake Asterisk and clients).
func (r Round) GatewayShare() float64 {
	t := r.Rep.CPU + r.Rep.LoadCPU
	if t <= 0 {
		return 0
	}
	return float64(r.Rep.CPU) / float64(t)
}

// Saturate runs the rounds of both modes, inbound first.
func Saturate(ctx context.Context, sc SatConfig) []Round {
	if sc.MaxP99 == 0 {
		sc.MaxP99 = 5 * time.Millisecond
	}
	if sc.Round == 0 {
		sc.Round = 2 * time.Second
	}
	var out []Round
	for _, mode := range []string{"inbound", "outbound per-call"} {
		for _, rate := range sc.Rates {
			cfg := sc.Base
			cfg.Open, cfg.Outbound, cfg.Rate, cfg.Stdio = true, mode != "inbound", rate, 0
			cfg.TCP = max(sc.MinCal, int(rate*sc.Round.Seconds()))
			if sc.ProfileDir != "" {
				cfg.CPUProfile = filepath.Join(sc.ProfileDir, fmt.Sprintf("%s-%.0f.pprof", strings.ReplaceAll(mode, " ", "-"), rate))
			}
			r := Round{Mode: mode, Offered: rate}
			r.Rep, r.Err = Run(ctx, cfg)
			switch {
			case r.Err != nil:
				r.Stop = "error: " + r.Err.Error()
			case r.Rep.Failed > 0:
				r.Stop = fmt.Sprintf("%d calls failed", r.Rep.Failed)
			case r.Rep.DTMFToScript.P99 > sc.MaxP99:
				r.Stop = fmt.Sprintf("p99 DTMF->script %v > %v", r.Rep.DTMFToScript.P99.Round(10*time.Microsecond), sc.MaxP99)
			case r.Rep.CallsPerSec < 0.8*rate:
				r.Stop = fmt.Sprintf("reached %.0f of %.0f calls/s offered", r.Rep.CallsPerSec, rate)
			}
			out = append(out, r)
			if r.Stop != "" || ctx.Err() != nil {
				break
			}
		}
	}
	return out
}

// PrintRounds writes the saturation table.
func PrintRounds(w io.Writer, rounds []Round) {
	fmt.Fprintf(w, "%-18s %8s %6s %8s %9s %9s %9s %8s %10s %10s %9s  %s\n",
		"mode", "offered", "calls", "calls/s", "dtmf p50", "dtmf p99", "cmd p99", "gw CPU", "gw share", "gw CPU/call", "gw B/call", "stop")
	for _, r := range rounds {
		p := r.Rep
		n := max(1, p.Calls)
		fmt.Fprintf(w, "%-18s %8.0f %6d %8.0f %9v %9v %9v %7.0f%% %9.0f%% %9.0fµs %9.0f  %s\n",
			r.Mode, r.Offered, p.Calls, p.CallsPerSec,
			p.DTMFToScript.P50.Round(time.Microsecond), p.DTMFToScript.P99.Round(time.Microsecond), p.CmdToARI.P99.Round(time.Microsecond),
			100*p.CPU.Seconds()/max(p.Duration.Seconds(), 1e-9), 100*r.GatewayShare(),
			float64(p.CPU.Microseconds())/float64(n), p.HeapPerSession+p.StackPerSession, r.Stop)
	}
}

// selfCPU is this process's user+system CPU (not its children's).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
