package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
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
	flag.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "bound of each phase")
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
