package main

import (
	"io"
	"log/slog"
	"os"

	"github.com/lmittmann/tint"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// newLogger builds the process logger: coloured text (tint) on a terminal,
// JSON otherwise; format "text" or "json" forces one. Sessions add app,
// channel and target with With (the gateway does).
func newLogger(w io.Writer, lv slog.Leveler, format string) *slog.Logger {
	tty := isTerminal(w)
	switch {
	case format == "json" || (format != "text" && !tty):
		return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv}))
	default:
		return slog.New(tint.NewHandler(w, &tint.Options{Level: lv, NoColor: !tty, TimeFormat: "15:04:05.000"}))
	}
}
