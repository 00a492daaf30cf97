package replay

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/eivr-gateway/eivr-gateway/eivr"
	"github.com/eivr-gateway/eivr-gateway/transcript"
)

// DefaultQuiet is the default of Options.Quiet.
const DefaultQuiet = 5 * time.Second

// Options say how to replay.
type Options struct {
	// Program replaces the recorded argv[0] (a local program). "" keeps it.
	Program string
	// TCP is host:port of an ivr:// server to dial instead. "" = none.
	TCP string
	// Speed divides every recorded time (caller actions, file durations).
	// 0 = 1.
	Speed float64
	// Quiet is how long nothing may be exchanged with the script before
	// a caller action whose anchor never came happens anyway, and before
	// a script that outlives the recording is ended. 0 = DefaultQuiet.
	Quiet time.Duration
	// Dir is the program's working directory; Env its environment (nil: a
	// minimal one, as the gateway's default).
	Dir string
	Env []string
	// Log gets the script's stderr lines and the replay's own notes. nil
	// discards.
	Log *slog.Logger
}

// Result is the outcome of a replay.
type Result struct {
	Recorded []string // the recorded commands, then the end line
	Replayed []string // what the script wrote, then how it ended
	Diff     []DiffLine
	Warnings []string
}

// Equal reports whether the script wrote what the recording holds.
func (r Result) Equal() bool {
	for _, d := range r.Diff {
		if d.Op != ' ' {
			return false
		}
	}
	return true
}

// Run replays t. Its error says that the replay could not be done (a
// redacted or empty transcript, a script that cannot start); a
// difference is in the Result.
func Run(ctx context.Context, t *transcript.Transcript, opt Options) (Result, error) {
	m, err := newModel(t)
	if err != nil {
		return Result{}, err
	}
	if opt.Speed == 0 {
		opt.Speed = 1
	}
	if opt.Speed < 0 {
		return Result{}, fmt.Errorf("replay: speed %v: want > 0", opt.Speed)
	}
	if opt.Quiet <= 0 {
		opt.Quiet = DefaultQuiet
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	conn, err := connect(ctx, m, opt)
	if err != nil {
		return Result{}, err
	}
	s := newSim(m, opt, conn, t.Header.Redaction.NewRedactor())
	s.run(ctx)
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if cerr := conn.Close(closeCtx); cerr != nil {
		opt.Log.Warn("replay: closing the script", "err", cerr)
	}
	s.wg.Wait()
	res := Result{Recorded: m.commands, Replayed: append(s.commands, s.end), Warnings: m.warnings}
	res.Diff = Diff(res.Recorded, res.Replayed)
	if ctx.Err() != nil {
		return res, fmt.Errorf("replay: %w", ctx.Err())
	}
	return res, nil
}

func connect(ctx context.Context, m *model, opt Options) (eivr.Conn, error) {
	if opt.Program != "" && opt.TCP != "" {
		return nil, errors.New("replay: a program or a TCP server, not both")
	}
	argv := append([]string(nil), m.argv...)
	tcp := opt.TCP
	if opt.Program != "" {
		argv[0] = opt.Program
	} else if tcp == "" && (eivr.App{Argv: argv}).IsTCP() {
		host, port, err := (eivr.App{Argv: argv}).HostPort()
		if err != nil {
			return nil, fmt.Errorf("replay: recorded target: %w", err)
		}
		tcp = host + ":" + port
	}
	if tcp != "" {
		host, port, err := splitHostPort(tcp)
		if err != nil {
			return nil, err
		}
		c, err := eivr.DialTCP(ctx, host, port, eivr.TCPConfig{Logger: opt.Log})
		if err != nil {
			return nil, fmt.Errorf("replay: %w", err)
		}
		return c, nil
	}
	c, err := eivr.StartProgram(ctx, argv, eivr.ProgramConfig{
		Dir: opt.Dir, Env: opt.Env, Grace: 2 * time.Second, Logger: opt.Log,
	})
	if err != nil {
		return nil, fmt.Errorf("replay: %w", err)
	}
	return c, nil
}

func splitHostPort(hp string) (string, string, error) {
	app := eivr.App{Argv: []string{"ivr://" + hp}}
	host, port, err := app.HostPort()
	if err != nil {
		return "", "", fmt.Errorf("replay: --tcp %q: %w", hp, err)
	}
	return host, port, nil
}
