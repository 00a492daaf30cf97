// Command eivr-gateway runs legacy Asterisk ExternalIVR programs, unchanged,
// on Asterisk deployments that only expose ARI.
//
// Usage:
//
//	eivr-gateway [run] [--config FILE] [flags]   serve the [[app]]s of the config (the default)
//	eivr-gateway demo [--speed N]                the gateway on a built-in Asterisk simulator
//	eivr-gateway check [--config FILE]           validate the config and probe ARI
//	eivr-gateway migrate [--app NAME] [--write] FILE
//	                                             rewrite ExternalIVR() calls in extensions.conf
//	eivr-gateway originate --endpoint PJSIP/1000 --run '/path/prog(args)'
//	                                             click-to-call
//	eivr-gateway replay [--program PATH] FILE     run a script against a recorded call, diff its commands
//	eivr-gateway replay --check DIR              the same for every transcript of DIR
//	eivr-gateway version                         build information
//
// See README.md for the configuration reference and the migration guide.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// env is what a command sees of its process: standard streams, the
// environment and signals. Tests substitute their own.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// signals delivers SIGHUP, SIGINT and SIGTERM to run; nil = none.
	signals <-chan os.Signal
}

func main() {
	if err := closeOnExecInherited(); err != nil {
		fmt.Fprintf(os.Stderr, "eivr-gateway: marking inherited descriptors close-on-exec: %v\n", err)
		os.Exit(1)
	}
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	e := env{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, signals: sig}
	os.Exit(dispatch(context.Background(), os.Args[1:], e))
}

// errUsage marks a command-line mistake (exit status 2).
var errUsage = errors.New("usage")

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string, e env) error
}

func commands() []command {
	return []command{
		{"run", "serve the Stasis apps of the configuration (the default)", cmdRun},
		{"demo", "run the gateway on the built-in Asterisk simulator with bundled legacy scripts", cmdDemo},
		{"check", "validate the configuration and probe ARI (never the events socket)", cmdCheck},
		{"migrate", "rewrite ExternalIVR() calls in extensions.conf to Stasis()", cmdMigrate},
		{"originate", "place a call that runs an ExternalIVR program when answered", cmdOriginate},
		{"replay", "run a script against recorded calls (transcripts) without Asterisk; diff its commands", cmdReplay},
		{"version", "print the build information", cmdVersion},
	}
}

// dispatch runs the subcommand named by args[0] ("run" if args is empty or
// starts with a flag) and returns the exit status.
func dispatch(ctx context.Context, args []string, e env) int {
	name := "run"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		name, args = args[0], args[1:]
	}
	if name == "help" || name == "-h" || name == "--help" {
		usage(e.stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name != name {
			continue
		}
		if name != "run" {
			// run handles signals itself (drain, reload); the others stop.
			var cancel context.CancelFunc
			ctx, cancel = context.WithCancel(ctx)
			defer cancel()
			go func() {
				for {
					select {
					case <-ctx.Done():
						return
					case sig := <-e.signals:
						if sig != syscall.SIGHUP {
							cancel()
							return
						}
					}
				}
			}()
		}
		err := c.run(ctx, args, e)
		switch {
		case err == nil:
			return 0
		case errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(e.stderr, "eivr-gateway %s: %v\n", name, err)
			return 2
		case errors.Is(err, errSilent):
			return 1
		default:
			fmt.Fprintf(e.stderr, "eivr-gateway %s: %v\n", name, err)
			return 1
		}
	}
	fmt.Fprintf(e.stderr, "eivr-gateway: unknown command %q\n\n", name)
	usage(e.stderr)
	return 2
}

// errSilent is returned by a command that already explained its failure.
var errSilent = errors.New("failed")

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: eivr-gateway <command> [flags]\n\ncommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\n`eivr-gateway <command> -h` lists the flags of a command.")
}

// newFlagSet makes a FlagSet that reports errors instead of exiting.
func newFlagSet(name string, e env, synopsis string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintf(e.stderr, "usage: eivr-gateway %s %s\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses args; a parse error is a usage error (already printed).
func parseFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	return nil
}
