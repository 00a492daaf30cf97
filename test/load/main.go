package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"time"
)

func main() {
	if isChild() {
		os.Exit(runChild())
	}
	var cfg Config
	flag.IntVar(&cfg.TCP, "tcp", 0, "concurrent ivr:// (TCP) calls")
	flag.IntVar(&cfg.Stdio, "stdio", 0, "concurrent stdio calls (one sh child each)")
	flag.Float64Var(&cfg.Speed, "speed", 50, "fake Asterisk media speed-up")
	flag.Float64Var(&cfg.StartRate, "start-rate", 1000, "calls started per second (0 = all at once)")
	flag.Float64Var(&cfg.Rate, "rate", 2000, "calls released per second once all are live (0 = all at once)")
	flag.IntVar(&cfg.ARIQueue, "ari-queue", 0, "the gateway's limits.ari_queue: events buffered per ARI socket (0 = default 8192)")
	flag.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "bound of each phase")
	saturate := flag.Bool("saturate", false, "saturation mode: open-loop TCP calls at rising rates, inbound then per-call outbound")
	rates := flag.String("rates", "25,50,100,200,300,400,500,750,1000", "saturation: offered calls/s, in order")
	round := flag.Duration("round", 2*time.Second, "saturation: arrivals per round (calls = rate × round)")
	maxP99 := flag.Duration("max-p99", 5*time.Millisecond, "saturation: stop when p99 DTMF->script exceeds this")
	profDir := flag.String("gw-cpuprofile", "", "saturation: write each round's gateway CPU profile into this directory")
	flag.Parse()
	if cfg.TCP+cfg.Stdio == 0 {
		cfg.TCP = 1000
	}
	script, err := scriptPath()
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(2)
	}
	cfg.Script = script
	cfg.Stderr = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if *saturate {
		rs, err := parseRates(*rates)
		if err != nil {
			fmt.Fprintln(os.Stderr, "load:", err)
			os.Exit(2)
		}
		cfg.Timeout = min(cfg.Timeout, 30*time.Second)
		rounds := Saturate(ctx, SatConfig{Base: cfg, Rates: rs, Round: *round, MinCal: 200, MaxP99: *maxP99, ProfileDir: *profDir})
		PrintRounds(os.Stdout, rounds)
		return
	}
	rep, err := Run(ctx, cfg)
	rep.Print(os.Stdout, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
	if rep.Failed > 0 || rep.End.ARI.Dropped > 0 {
		os.Exit(1)
	}
}

func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			return nil, fmt.Errorf("-rates: bad rate %q", f)
		}
		out = append(out, r)
	}
	return out, nil
}
