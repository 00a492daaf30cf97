package migrate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/eivr-gateway/eivr-gateway/eivr"
)

// stasisMaxArgs is how many fields Stasis() splits its data into: the app
// name and up to 128 arguments (app_stasis.c MAX_ARGS).
const stasisMaxArgs = 1 + 128

// File is one file read by Scan, with its planned new content.
type File struct {
	Path     string   // as opened (the given path, or the include resolved against the config directory)
	Lines    []string // original lines, terminators included
	NewLines []string // after the rewrites; same length as Lines
}

// Changed reports whether any line of f is rewritten.
func (f *File) Changed() bool { return !slices.Equal(f.Lines, f.NewLines) }

// Rewrite is one ExternalIVR call converted.
type Rewrite struct {
	File    string
	Line    int    // 1-based
	Exten   string // extension it belongs to
	Old     string // ExternalIVR(<data>) as written
	New     string // Stasis(<app>,<data>)
	Wrapper string // ExecIf, Exec, TryExec or ""
	App     eivr.App
}

// Problem is something Scan could not convert, or could not read.
type Problem struct {
	File   string
	Line   int // 0 when not about a line
	Reason string
}

func (p Problem) String() string {
	if p.Line == 0 {
		return p.File + ": " + p.Reason
	}
	return p.File + ":" + strconv.Itoa(p.Line) + ": " + p.Reason
}

// Result is what Scan found.
type Result struct {
	App      string // the Stasis app the calls are rewritten to
	Files    []*File
	Rewrites []Rewrite
	Problems []Problem
}

// Programs returns the sorted programs the rewritten calls run.
func (r *Result) Programs() []string {
	return r.targets(false)
}

// TCPHosts returns the sorted tcp_hosts entries the rewritten calls dial.
func (r *Result) TCPHosts() []string {
	return r.targets(true)
}

func (r *Result) targets(tcp bool) []string {
	seen := map[string]bool{}
	var out []string
	for _, rw := range r.Rewrites {
		if rw.App.IsTCP() != tcp {
			continue
		}
		t := escapeGlob(rw.App.Argv[0])
		if tcp {
			host, port, err := rw.App.HostPort()
			if err != nil {
				continue
			}
			t = hostEntry(host, port)
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	sort.Strings(out)
	return out
}

// escapeGlob makes a program path match only itself as a programs entry
// (a path.Match pattern).
func escapeGlob(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		if strings.IndexByte(`*?[]\`, p[i]) >= 0 {
			b.WriteByte('\\')
		}
		b.WriteByte(p[i])
	}
	return b.String()
}

// hostEntry writes a tcp_hosts entry in the config's form.
func hostEntry(host, port string) string {
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "2949" { // eivr.DefaultPort
		return host
	}
	return host + ":" + port
}

// Scan reads the dialplan file at path and the files it #includes, and
// plans the rewrite of every ExternalIVR call to Stasis(app,...). Only a
// failure to read path itself is an error; everything else is a Problem.
func Scan(path, app string) (*Result, error) {
	s := &scanner{res: &Result{App: app}, confDir: filepath.Dir(path)}
	if err := s.file(path, nil); err != nil {
		return nil, err
	}
	return s.res, nil
}

type scanner struct {
	res     *Result
	confDir string
	done    map[string]bool
}

// file scans one file; stack is the chain of files including it.
func (s *scanner) file(path string, stack []string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if i := slices.Index(stack, abs); i >= 0 {
		chain := make([]string, 0, len(stack)-i+1)
		for _, p := range append(stack[i:], abs) {
			chain = append(chain, filepath.Base(p))
		}
		return fmt.Errorf("%w: %s", errCycle, strings.Join(chain, " -> "))
	}
	if s.done == nil {
		s.done = map[string]bool{}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	f := &File{Path: path}
	f.Lines = splitLines(string(data))
	f.NewLines = slices.Clone(f.Lines)
	first := !s.done[abs]
	s.done[abs] = true
	if first {
		s.res.Files = append(s.res.Files, f)
	}
	stack = append(stack, abs)
	inBlock, exten := false, ""
	for i, raw := range f.Lines {
		line := strings.TrimRight(raw, "\r\n")
		lineNo := i + 1
		if !inBlock {
			if inc, try, ok := includeDirective(line); ok {
				s.include(f.Path, lineNo, inc, try, stack)
				continue
			}
			if t := strings.TrimLeft(line, " \t"); strings.HasPrefix(t, "#exec") {
				s.problem(f.Path, lineNo, "#exec output is not scanned: migrate what it produces by hand")
				continue
			}
			if t := strings.TrimSpace(line); strings.HasPrefix(t, "[") {
				exten = "" // a new context
			}
		}
		var ln Line
		ln, inBlock = ParseLine(line, inBlock)
		switch ln.Kind {
		case LineExten:
			exten = ln.Exten
		case LineOther:
			continue
		}
		if !first {
			continue // a file included twice is reported once
		}
		newLine := line
		var done []Rewrite
		for k := len(ln.Calls) - 1; k >= 0; k-- { // right to left keeps offsets valid
			c := ln.Calls[k]
			rw, reason := s.convert(c, exten)
			if reason != "" {
				s.problem(f.Path, lineNo, reason)
				continue
			}
			rw.File, rw.Line, rw.Exten = f.Path, lineNo, exten
			rw.Old = line[c.Name : c.Close+1]
			rw.New = "Stasis(" + s.res.App + "," + line[c.Open+1:c.Close+1]
			newLine = newLine[:c.Name] + rw.New + newLine[min(c.Close+1, len(newLine)):]
			done = append(done, rw)
		}
		slices.Reverse(done)
		s.res.Rewrites = append(s.res.Rewrites, done...)
		f.NewLines[i] = newLine + raw[len(line):]
	}
	return nil
}

var errCycle = errors.New("#include cycle")

func (s *scanner) include(from string, line int, name string, try bool, stack []string) {
	p := name
	if !filepath.IsAbs(p) {
		p = filepath.Join(s.confDir, p)
	}
	matches, err := filepath.Glob(p)
	if err != nil || len(matches) == 0 {
		if !try {
			s.problem(from, line, fmt.Sprintf("#include %s: no such file (relative paths are relative to %s, as in Asterisk)", name, s.confDir))
		}
		return
	}
	for _, m := range matches {
		if err := s.file(m, stack); err != nil {
			if errors.Is(err, errCycle) {
				s.problem(from, line, fmt.Sprintf("#include %s: %v; not followed", name, err))
			} else if !try {
				s.problem(from, line, fmt.Sprintf("#include %s: %v", name, err))
			}
		}
	}
}

func (s *scanner) problem(file string, line int, reason string) {
	s.res.Problems = append(s.res.Problems, Problem{File: file, Line: line, Reason: reason})
}

// convert checks one call and proves its rewrite; reason != "" means it
// stays as it is.
func (s *scanner) convert(c Call, exten string) (Rewrite, string) {
	if c.OldSyntax {
		return Rewrite{}, "ExternalIVR,<data> is the pre-1.6 syntax: write ExternalIVR(<data>) first"
	}
	if c.Close < 0 {
		return Rewrite{}, "ExternalIVR( without its closing parenthesis"
	}
	old, err := eivr.ParseAppData(c.Data)
	if err != nil {
		return Rewrite{}, fmt.Sprintf("ExternalIVR(%s) does not parse: %v", c.Data, err)
	}
	target := old.Argv[0]
	switch {
	case strings.Contains(target, "${") || strings.Contains(target, "$["):
		return Rewrite{}, fmt.Sprintf("the target %q is computed at run time: the allow-list cannot name it; convert by hand and allow what it can be", target)
	case strings.EqualFold(exten, "h") && old.Options.RunDead:
		// Stasis() in h returns at once (FINDINGS ari-26): the dialplan
		// does not wait for the client, and V cannot write any more.
		return Rewrite{}, "option d in the h extension: Stasis() returns at once on a hung-up channel, so the dialplan would not wait for the client and V could not set variables"
	case old.IsTCP():
		if _, _, err := old.HostPort(); err != nil {
			return Rewrite{}, fmt.Sprintf("target %q: %v", target, err)
		}
	case !strings.HasPrefix(target, "/"):
		return Rewrite{}, fmt.Sprintf("program %q is relative to Asterisk's working directory: write its absolute path first", target)
	}
	// Stasis() splits "<app>,<data>" and hands the rest to the gateway as
	// StasisStart.args (ari-mapping.md §2.1).
	fields := eivr.SplitAppArgs(s.res.App+","+c.Data, stasisMaxArgs)
	if len(fields) < 2 || fields[0] != s.res.App {
		return Rewrite{}, fmt.Sprintf("Stasis(%s,%s) would not split into the app and its arguments", s.res.App, c.Data)
	}
	neu, err := eivr.ParseStasisArgs(fields[1:])
	if err != nil {
		return Rewrite{}, fmt.Sprintf("Stasis(%s,%s) would not parse: %v", s.res.App, c.Data, err)
	}
	if !reflect.DeepEqual(old.Argv, neu.Argv) || old.Options != neu.Options {
		return Rewrite{}, fmt.Sprintf("Stasis() would see argv %q options %+v instead of %q %+v: convert by hand", neu.Argv, neu.Options, old.Argv, old.Options)
	}
	return Rewrite{Wrapper: c.Wrapper, App: old}, ""
}

// includeDirective recognises #include / #tryinclude lines.
func includeDirective(line string) (name string, try, ok bool) {
	t := strings.TrimLeft(line, " \t")
	var rest string
	switch {
	case strings.HasPrefix(t, "#include"):
		rest = t[len("#include"):]
	case strings.HasPrefix(t, "#tryinclude"):
		rest, try = t[len("#tryinclude"):], true
	default:
		return "", false, false
	}
	if rest != "" && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '"' && rest[0] != '<' {
		return "", false, false
	}
	rest = strings.TrimSpace(rest)
	if i := strings.Index(rest, ";"); i >= 0 && !(strings.HasPrefix(rest, `"`) && strings.Index(rest[1:], `"`)+1 > i) {
		rest = strings.TrimSpace(rest[:i])
	}
	rest = strings.Trim(rest, `"<>`)
	if rest == "" {
		return "", false, false
	}
	return rest, try, true
}

// splitLines splits s after each '\n', keeping the terminators.
func splitLines(s string) []string {
	var lines []string
	for s != "" {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			lines = append(lines, s)
			break
		}
		lines = append(lines, s[:i+1])
		s = s[i+1:]
	}
	return lines
}
