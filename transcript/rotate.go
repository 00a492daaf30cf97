package transcript

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// prune applies a's rotation to its directory: files beyond Keep (oldest
// first, by name, which starts with the start time) and files older than
// MaxAge go; the files of running sessions stay.
func (r *Recorder) prune(a *appState, now time.Time) {
	a.lastPrune = now
	entries, err := os.ReadDir(a.cfg.Dir)
	if err != nil {
		r.log.Error("transcript: rotation cannot read the directory", "app", a.name, "dir", a.cfg.Dir, "err", err)
		return
	}
	open := map[string]bool{}
	for s := range r.open {
		open[s.path] = true
	}
	var names []string // sorted: ReadDir sorts by name
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".jsonl") {
			names = append(names, e.Name())
		}
	}
	excess := len(names) - a.cfg.Keep
	for _, n := range names {
		p := filepath.Join(a.cfg.Dir, n)
		if open[p] {
			continue
		}
		old := false
		if a.cfg.MaxAge > 0 {
			if fi, err := os.Stat(p); err == nil && now.Sub(fi.ModTime()) > a.cfg.MaxAge {
				old = true
			}
		}
		if excess <= 0 && !old {
			continue
		}
		if err := os.Remove(p); err != nil {
			r.log.Error("transcript: rotation cannot remove a file", "app", a.name, "path", p, "err", err)
			continue
		}
		excess--
		r.removed.Add(1)
	}
}
