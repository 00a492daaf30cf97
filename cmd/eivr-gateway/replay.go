package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/eivr-gateway/eivr-gateway/transcript"
	"github.com/eivr-gateway/eivr-gateway/transcript/replay"
)

// replay runs a script against recorded calls (call transcripts) with no
// Asterisk, and diffs the commands it writes against the recording:
// package transcript/replay.

const replaySynopsis = "[--program PATH | --tcp HOST:PORT] [--speed N] FILE\n" +
	"       eivr-gateway replay --check DIR [--program PATH | --tcp HOST:PORT] [--speed N]"

func cmdReplay(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("replay", e, replaySynopsis)
	program := fs.String("program", "", "run this program instead of the recorded one (with the recorded arguments)")
	tcp := fs.String("tcp", "", "connect to this ivr:// server (host:port) instead of the recorded target")
	speed := fs.Float64("speed", 1, "recorded times (caller actions, file durations) run N times faster")
	quiet := fs.Duration("quiet", replay.DefaultQuiet, "when the script goes another way: how long it may stay silent before the caller acts anyway, or is ended")
	check := fs.String("check", "", "replay every transcript (*.jsonl) of this directory")
	ctxLines := fs.Int("context", 3, "lines of context around each difference (-1: the whole list)")
	logLevel := fs.String("log-level", "warn", "level of the script's stderr lines (info) and the replay's notes")
	var rest []string
	// Flags may come after the file too (replay FILE --program PATH).
	for {
		if err := parseFlags(fs, args); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	switch {
	case *speed <= 0 || *speed > 1e6:
		return fmt.Errorf("%w: --speed %v: want 0 < N <= 1e6", errUsage, *speed)
	case *program != "" && *tcp != "":
		return fmt.Errorf("%w: --program or --tcp, not both", errUsage)
	case *check == "" && len(rest) != 1:
		return fmt.Errorf("%w: want one transcript FILE (or --check DIR)", errUsage)
	case *check != "" && len(rest) != 0:
		return fmt.Errorf("%w: --check DIR takes no FILE", errUsage)
	}
	level := new(slog.LevelVar)
	setLevel(level, *logLevel)
	opt := replay.Options{
		Program: *program, TCP: *tcp, Speed: *speed, Quiet: *quiet,
		Log: newLogger(e.stderr, level, "auto"),
	}
	if *check == "" {
		same, err := replayFile(ctx, e, rest[0], opt, *ctxLines, true)
		if err != nil {
			return err
		}
		if !same {
			return errSilent
		}
		return nil
	}
	return replayDir(ctx, e, *check, opt, *ctxLines)
}

// replayFile replays one transcript and prints its diff when it differs
// (or "same" when verbose).
func replayFile(ctx context.Context, e env, path string, opt replay.Options, ctxLines int, verbose bool) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	t, err := transcript.Read(f)
	f.Close()
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	start := time.Now()
	res, err := replay.Run(ctx, t, opt)
	if err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(e.stderr, "eivr-gateway replay: %s: %s\n", path, w)
	}
	if res.Equal() {
		if verbose {
			fmt.Fprintf(e.stdout, "%s: the script wrote the %d recorded commands (%s)\n", path, len(res.Recorded)-1, time.Since(start).Round(time.Millisecond))
		}
		return true, nil
	}
	res.WriteDiff(e.stdout, path, ctxLines)
	return false, nil
}

// replayDir replays every transcript of dir: a regression suite.
func replayDir(ctx context.Context, e env, dir string, opt replay.Options, ctxLines int) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return err
	}
	if len(files) == 0 {
		return fmt.Errorf("%s: no transcript (*.jsonl)", dir)
	}
	failed := 0
	for _, p := range files {
		same, err := replayFile(ctx, e, p, opt, ctxLines, false)
		switch {
		case ctx.Err() != nil:
			return fmt.Errorf("interrupted: %w", ctx.Err())
		case err != nil:
			failed++
			fmt.Fprintf(e.stdout, "ERROR %s: %v\n", p, err)
		case same:
			fmt.Fprintf(e.stdout, "ok    %s\n", p)
		default:
			failed++
			fmt.Fprintf(e.stdout, "FAIL  %s\n", p)
		}
	}
	fmt.Fprintf(e.stdout, "%d of %d transcripts replayed identically\n", len(files)-failed, len(files))
	if failed > 0 {
		return errSilent
	}
	return nil
}
