package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/migrate"
)

func cmdMigrate(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("migrate", e, "[--app NAME] [--write] FILE")
	app := fs.String("app", "eivr", "Stasis app the calls are rewritten to")
	write := fs.Bool("write", false, "apply the rewrite (the original is kept as FILE.bak)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *app == "" || strings.ContainsAny(*app, ",()\"\\ \t\r\n$") {
		return fmt.Errorf("%w: --app %q: a Stasis app name cannot be empty or hold commas, parentheses, quotes, blanks or $", errUsage, *app)
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("%w: want exactly one extensions.conf, got %d arguments", errUsage, fs.NArg())
	}
	res, err := migrate.Scan(fs.Arg(0), *app)
	if err != nil {
		return err
	}
	if err := res.WriteReport(e.stdout); err != nil {
		return err
	}
	if len(res.Problems) > 0 {
		fmt.Fprintf(e.stderr, "\nnot converted (%d), left as they are:\n", len(res.Problems))
		if err := res.WriteProblems(e.stderr); err != nil {
			return err
		}
	}
	if *write {
		written, err := res.Apply()
		for _, p := range written {
			fmt.Fprintf(e.stderr, "wrote %s (original in %s.bak)\n", p, p)
		}
		if err != nil {
			return err
		}
	}
	if len(res.Problems) > 0 {
		return errSilent
	}
	return nil
}
