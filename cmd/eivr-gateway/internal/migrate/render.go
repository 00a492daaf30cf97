package migrate

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// diffContext is the number of unchanged lines around each hunk.
const diffContext = 3

// Diff returns the unified diff of every changed file ("" if none). The
// rewrites replace lines one for one, so hunks are computed directly.
func (r *Result) Diff() string {
	var b strings.Builder
	for _, f := range r.Files {
		if f.Changed() {
			writeFileDiff(&b, f)
		}
	}
	return b.String()
}

func writeFileDiff(b *strings.Builder, f *File) {
	fmt.Fprintf(b, "--- %s\n+++ %s\n", f.Path, f.Path)
	n := len(f.Lines)
	changed := func(i int) bool { return f.Lines[i] != f.NewLines[i] }
	for i := 0; i < n; {
		if !changed(i) {
			i++
			continue
		}
		// A hunk from the first change to the last change less than
		// 2*context lines apart, with context around.
		last := i
		for j := i + 1; j < n && j <= last+2*diffContext; j++ {
			if changed(j) {
				last = j
			}
		}
		start, end := max(0, i-diffContext), min(n, last+diffContext+1)
		fmt.Fprintf(b, "@@ -%s +%s @@\n", hunkRange(start, end), hunkRange(start, end))
		for j := start; j < end; j++ {
			if !changed(j) {
				writeDiffLine(b, ' ', f.Lines[j])
				continue
			}
			k := j
			for k < end && changed(k) {
				writeDiffLine(b, '-', f.Lines[k])
				k++
			}
			for m := j; m < k; m++ {
				writeDiffLine(b, '+', f.NewLines[m])
			}
			j = k - 1
		}
		i = end
	}
}

func hunkRange(start, end int) string {
	if end-start == 1 {
		return strconv.Itoa(start + 1)
	}
	return strconv.Itoa(start+1) + "," + strconv.Itoa(end-start)
}

func writeDiffLine(b *strings.Builder, tag byte, line string) {
	b.WriteByte(tag)
	b.WriteString(line)
	if !strings.HasSuffix(line, "\n") {
		b.WriteString("\n\\ No newline at end of file\n")
	}
}

// Stanza returns the config.toml [[app]] table allowing exactly the
// programs and hosts of the rewritten calls.
func (r *Result) Stanza() string {
	var b strings.Builder
	b.WriteString("[[app]]\n")
	fmt.Fprintf(&b, "name = %s\n", quote(r.App))
	writeList(&b, "programs", r.Programs())
	writeList(&b, "tcp_hosts", r.TCPHosts())
	return b.String()
}

func writeList(b *strings.Builder, key string, items []string) {
	if len(items) == 0 {
		fmt.Fprintf(b, "%s = []\n", key)
		return
	}
	fmt.Fprintf(b, "%s = [\n", key)
	for _, it := range items {
		fmt.Fprintf(b, "  %s,\n", quote(it))
	}
	b.WriteString("]\n")
}

// quote writes a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteRune(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\u%04X", c)
		default:
			b.WriteRune(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// StatusCheck is the dialplan line to add after each Stasis(): when the
// gateway is not connected Stasis() fails at once, sets STASISSTATUS=FAILED
// and the dialplan continues, where ExternalIVR would have hung up.
const StatusCheck = `same => n,ExecIf($["${STASISSTATUS}"="FAILED"]?Hangup())`

// StatusChecks lists, per rewritten call, where to add StatusCheck.
func (r *Result) StatusChecks() string {
	var b strings.Builder
	for i, rw := range r.Rewrites {
		if i > 0 && r.Rewrites[i-1].File == rw.File && r.Rewrites[i-1].Line == rw.Line {
			continue // two calls on one line (ExecIf): one check
		}
		if strings.EqualFold(rw.Exten, "h") {
			continue // the channel is hung up already
		}
		inside := ""
		if rw.Wrapper != "" {
			inside = " (inside " + rw.Wrapper + ")"
		}
		fmt.Fprintf(&b, "%s:%d: after the Stasis()%s of extension %s add\n    %s\n", rw.File, rw.Line, inside, rw.Exten, StatusCheck)
	}
	return b.String()
}

// ErrBackupExists is returned by Apply when a .bak file is in the way.
var ErrBackupExists = errors.New("backup file already exists")

// Apply writes every changed file, first copying the original to
// <file>.bak. It refuses to overwrite an existing backup. A file reached
// through a symlink is written through to the link's target (the backup is
// still <link>.bak): the link is kept.
func (r *Result) Apply() ([]string, error) {
	var written []string
	for _, f := range r.Files {
		if !f.Changed() {
			continue
		}
		if _, err := os.Lstat(f.Path + ".bak"); err == nil {
			return written, fmt.Errorf("%s.bak: %w (remove it first)", f.Path, ErrBackupExists)
		}
	}
	for _, f := range r.Files {
		if !f.Changed() {
			continue
		}
		fi, err := os.Stat(f.Path)
		if err != nil {
			return written, err
		}
		if err := os.WriteFile(f.Path+".bak", []byte(strings.Join(f.Lines, "")), fi.Mode().Perm()); err != nil {
			return written, fmt.Errorf("backup: %w", err)
		}
		// A symlinked file (an include shared between configurations) is
		// rewritten where it lives: the link stays a link.
		target, err := filepath.EvalSymlinks(f.Path)
		if err != nil {
			return written, fmt.Errorf("resolve %s: %w", f.Path, err)
		}
		if err := writeAtomic(target, []byte(strings.Join(f.NewLines, "")), fi.Mode().Perm()); err != nil {
			return written, err
		}
		written = append(written, f.Path)
	}
	return written, nil
}

func writeAtomic(path string, data []byte, perm fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".migrate-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
