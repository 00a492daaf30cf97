package eivr

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/internal/recordings"
)

// The recordings of a real Asterisk 22.10.1 running ExternalIVR()
// (../shared/testdata/asterisk/eivr, FINDINGS.md) are the oracle of this
// package. For every session of every scenario:
//
//   - the application data Asterisk logged parses into the argv the client
//     was started with, and its P replies are App.PReply;
//   - the bytes the client wrote (its transcript's SEND lines), fed through a
//     Reader one write per Read, give the lines Asterisk logged as "got
//     command", and Next gives the ones it executed, each as soon as its
//     write arrived. Where Asterisk stranded lines (§10 Q1) we return them at
//     once: the test checks that the difference is exactly that;
//   - every event Asterisk logged as "sent" parses with ParseEvent and
//     formats back byte for byte, and is what the client received.

// cliSession is one ExternalIVR() run in a .cli.log.
type cliSession struct {
	app, options string   // "received application and arguments" / "options"
	got          []string // "got command '…'"
	gotTimes     []string // when each was logged, "15:04:05.000"
	sent         []string // "sent '…'"
}

// readCLILog splits an Asterisk log slice into its ExternalIVR sessions.
// A record spans several lines when a logged value contains '\n'.
func readCLILog(path string) ([]cliSession, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var records []string
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.HasPrefix(line, "[") || len(records) == 0 {
			records = append(records, line)
		} else {
			records[len(records)-1] += line
		}
	}
	var sessions []cliSession
	for _, rec := range records {
		rec = strings.TrimSuffix(rec, "\n")
		value := func(marker string) (string, bool) {
			_, v, ok := strings.Cut(rec, marker)
			return v, ok
		}
		quoted := func(marker string) (string, bool) {
			v, ok := value(marker + " '")
			return strings.TrimSuffix(v, "'"), ok && strings.HasSuffix(v, "'")
		}
		if v, ok := value("ExternalIVR received application and arguments: "); ok {
			sessions = append(sessions, cliSession{app: v})
			continue
		}
		if len(sessions) == 0 {
			continue
		}
		s := &sessions[len(sessions)-1]
		if v, ok := value("ExternalIVR received options: "); ok {
			s.options = v
		} else if v, ok := quoted("got command"); ok {
			s.got = append(s.got, v)
			s.gotTimes = append(s.gotTimes, rec[12:24]) // "[2026-11-23 18:05:21.619]"
		} else if v, ok := quoted("app_externalivr.c: sent"); ok {
			s.sent = append(s.sent, v)
		}
	}
	return sessions, nil
}

// transcript is a client's view of one session (eivr-NN-*.log).
type transcript struct {
	argv  []string // the client's argv (START)
	sends [][]byte // its writes until Asterisk ended the session
	times []string // when each was written, "15:04:05.000"
	recv  []string // the lines it received
}

var transcriptLine = regexp.MustCompile(`^\s*[0-9.]+ ([0-9:.]+) ([A-Z]+)\s+(.*)$`)

func readTranscript(path string) (transcript, error) {
	f, err := os.Open(path)
	if err != nil {
		return transcript{}, err
	}
	defer f.Close()
	var tr transcript
	ended := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := transcriptLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		when, kind, rest := m[1], m[2], m[3]
		switch kind {
		case "START":
			_, list, _ := strings.Cut(rest, "argv=[")
			list, _, _ = strings.Cut(list, "]")
			for _, q := range regexp.MustCompile(`'([^']*)'`).FindAllStringSubmatch(list, -1) {
				tr.argv = append(tr.argv, q[1])
			}
		case "SEND":
			b, err := pyBytes(rest)
			if err != nil {
				return tr, fmt.Errorf("%s: %w", sc.Text(), err)
			}
			if !ended {
				tr.sends = append(tr.sends, b)
				tr.times = append(tr.times, when)
			}
		case "RECV":
			b, err := pyBytes(rest)
			if err != nil {
				return tr, fmt.Errorf("%s: %w", sc.Text(), err)
			}
			tr.recv = append(tr.recv, string(b))
			// H and E (two fields) are always the last event: Asterisk
			// reads nothing after them.
			if ev, err := ParseEvent(b); err == nil && ev.Data == "" && (ev.Tag == TagHangup || ev.Tag == TagExit) {
				ended = true
			}
		case "EOF", "EPIPE":
			ended = true
		}
	}
	return tr, sc.Err()
}

// pyBytes decodes a Python bytes literal such as b'S,beep\r\n' or b"it's".
func pyBytes(lit string) ([]byte, error) {
	if len(lit) < 3 || lit[0] != 'b' || (lit[1] != '\'' && lit[1] != '"') || lit[len(lit)-1] != lit[1] {
		return nil, fmt.Errorf("not a bytes literal: %s", lit)
	}
	s := lit[2 : len(lit)-1]
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			out = append(out, s[i])
			continue
		}
		i++
		if i == len(s) {
			return nil, fmt.Errorf("dangling backslash: %s", lit)
		}
		switch s[i] {
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case '\\', '\'', '"':
			out = append(out, s[i])
		case 'x':
			if i+2 >= len(s) {
				return nil, fmt.Errorf("short \\x escape: %s", lit)
			}
			v, err := strconv.ParseUint(s[i+1:i+3], 16, 8)
			if err != nil {
				return nil, err
			}
			out = append(out, byte(v))
			i += 2
		default:
			return nil, fmt.Errorf("unknown escape \\%c: %s", s[i], lit)
		}
	}
	return out, nil
}

// nativeStrip is the line as app_externalivr logs it after ast_strip (whose
// result it discards): cut at NUL; trailing bytes <= 0x20 removed unless the
// line is blank throughout, leading ones kept.
func nativeStrip(p []byte) string {
	if i := bytes.IndexByte(p, 0); i >= 0 {
		p = p[:i]
	}
	k := 0
	for k < len(p) && p[k] <= ' ' {
		k++
	}
	if k == len(p) {
		return string(p)
	}
	n := len(p)
	for n > k && p[n-1] <= ' ' {
		n--
	}
	return string(p[:n])
}

// executed is what Asterisk ran of the logged lines: at least 3 bytes, not
// starting with a blank (§4.2). Unknown letters included (our Known()==false).
func executed(got []string) []cmdLine {
	var out []cmdLine
	for _, g := range got {
		if len(g) >= 3 && g[0] > ' ' {
			out = append(out, cmdLine{g[0], g[2:]})
		}
	}
	return out
}

// writeReader returns one client write per Read and counts the Reads.
type writeReader struct {
	writes [][]byte
	reads  int
}

func (w *writeReader) Read(p []byte) (int, error) {
	w.reads++
	if len(w.writes) == 0 {
		return 0, io.EOF
	}
	n := copy(p, w.writes[0])
	if n < len(w.writes[0]) {
		w.writes[0] = w.writes[0][n:]
	} else {
		w.writes = w.writes[1:]
	}
	return n, nil
}

func TestRecordings_Asterisk22(t *testing.T) {
	dir, err := recordings.Dir()
	if err != nil {
		t.Skipf("recordings not found: %v", err)
	}
	logs, _ := filepath.Glob(filepath.Join(dir, "eivr", "eivr-*.cli.log"))
	if len(logs) < 20 {
		t.Fatalf("found %d .cli.log files in %s; want the 21 recorded scenarios", len(logs), dir)
	}
	for _, cliPath := range logs {
		base := strings.TrimSuffix(filepath.Base(cliPath), ".cli.log")
		t.Run(base, func(t *testing.T) {
			sessions, err := readCLILog(cliPath)
			if err != nil {
				t.Fatal(err)
			}
			if len(sessions) == 0 {
				t.Fatal("no ExternalIVR session in the log")
			}
			for k, s := range sessions {
				trPath := filepath.Join(dir, "eivr", base+".log")
				if k > 0 { // a second run in the same log (14: the h extension's 14d)
					m := regexp.MustCompile(`eivr-scen/([0-9a-z]+)\.txt`).FindStringSubmatch(s.app)
					if m == nil {
						t.Fatalf("session %d: no scenario in %q", k, s.app)
					}
					found, _ := filepath.Glob(filepath.Join(dir, "eivr", "eivr-"+m[1]+"-*[a-z].log"))
					found = slices.DeleteFunc(found, func(p string) bool { return strings.HasSuffix(p, ".cli.log") })
					if len(found) != 1 {
						t.Fatalf("session %d: transcripts %q", k, found)
					}
					trPath = found[0]
				}
				checkSession(t, s, trPath)
			}
		})
	}
}

func checkSession(t *testing.T, s cliSession, trPath string) {
	// Application data: field 1 as logged (already unescaped) + raw options.
	data := s.app + "," + s.options
	app, err := ParseAppData(data)
	if err != nil {
		t.Fatalf("ParseAppData(%q): %v", data, err)
	}
	wantOpts := Options{
		NoAnswer:     strings.Contains(s.options, "n"),
		IgnoreHangup: strings.Contains(s.options, "i"),
		RunDead:      strings.Contains(s.options, "d"),
	}
	if app.Options != wantOpts {
		t.Errorf("options %q parsed as %+v", s.options, app.Options)
	}
	sApp, err := ParseStasisArgs(stasisArgs(data))
	if err != nil || !slices.Equal(sApp.Argv, app.Argv) || sApp.Options != app.Options {
		t.Errorf("Stasis form of %q: %+v, %v; want %+v", data, sApp, err, app)
	}

	// Events: exact bytes, timestamp kept; P replies from the parsed argv.
	var sentLines []string
	for _, line := range s.sent {
		ev, err := ParseEvent([]byte(line))
		if err != nil {
			t.Errorf("sent %q: %v", line, err)
			continue
		}
		if got := string(AppendEvent(nil, ev.Tag, ev.Time(), ev.Data)); got != line+"\n" {
			t.Errorf("sent %q formats back as %q", line, got)
		}
		if ev.Tag == TagParams && ev.Data != app.PReply() {
			t.Errorf("P reply %q, PReply() = %q", ev.Data, app.PReply())
		}
		sentLines = append(sentLines, line+"\n")
	}

	if _, err := os.Stat(trPath); os.IsNotExist(err) {
		// 15: option d on a live channel; the client never started.
		if len(s.got) != 0 || len(s.sent) != 0 {
			t.Errorf("no transcript %s but %d commands, %d events", trPath, len(s.got), len(s.sent))
		}
		return
	}
	tr, err := readTranscript(trPath)
	if err != nil {
		t.Fatal(err)
	}
	if !app.IsTCP() && !slices.Equal(tr.argv, app.Argv) {
		t.Errorf("the client was started with argv %q; ParseAppData(%q) gives %q", tr.argv, data, app.Argv)
	}
	if !slices.Equal(tr.recv, sentLines) {
		t.Errorf("the client received\n%q\nAsterisk logged as sent\n%q", tr.recv, sentLines)
	}

	// Framing: every piece as Asterisk logs it, each returned as soon as
	// the write completing it was read.
	type piece struct {
		text  string
		write int // index of the write that completed it
	}
	var pieces []piece
	var ends []int // cumulative end offset of each write
	total := 0
	for _, w := range tr.sends {
		total += len(w)
		ends = append(ends, total)
	}
	wr := &writeReader{writes: slices.Clone(tr.sends)}
	r := NewReader(wr)
	offset := 0
	for {
		p, err := r.ReadLine()
		if err != nil {
			break
		}
		offset += len(p)
		w, _ := slices.BinarySearch(ends, offset)
		if wr.reads != w+1 {
			t.Errorf("line %q completed by write %d was returned after %d reads", p, w+1, wr.reads)
		}
		pieces = append(pieces, piece{nativeStrip(p), w})
	}
	var texts []string
	for _, p := range pieces {
		texts = append(texts, p.text)
	}
	extra := 0
	switch {
	case slices.Equal(texts, s.got):
	case len(texts) > len(s.got) && slices.Equal(texts[:len(s.got)], s.got) && len(s.got) > 0:
		// §10 Q1: Asterisk 15+ ran only the first of the lines one read
		// brought in; the rest waited for the client's next write, which
		// never came. So they must all have been written by the time
		// Asterisk ran its last line (same millisecond at the latest): we
		// return them at once.
		lastRun := s.gotTimes[len(s.got)-1]
		for _, p := range pieces[len(s.got):] {
			if when := tr.times[p.write]; when > lastRun {
				t.Errorf("line %q, written at %s, after Asterisk's last read at %s, was never run", p.text, when, lastRun)
			}
		}
		extra = len(texts) - len(s.got)
		t.Logf("§10 Q1: Asterisk stranded %q; we run them", texts[len(s.got):])
	default:
		t.Errorf("lines read from the client's writes\n%q\nAsterisk logged\n%q", texts, s.got)
	}

	// Commands: Next returns what Asterisk executed.
	got, err := readCommands(t, &writeReader{writes: slices.Clone(tr.sends)})
	if err != io.EOF {
		t.Errorf("Next: %v", err)
	}
	want := executed(s.got)
	if len(got) != len(want)+len(executed(texts[len(texts)-extra:])) || !slices.Equal(got[:min(len(got), len(want))], want) {
		t.Errorf("commands\n%v\nAsterisk executed\n%v", got, want)
	}
}

func TestPyBytes(t *testing.T) {
	for lit, want := range map[string]string{
		`b'S,beep\r\n'`:         "S,beep\r\n",
		`b"it's"`:               "it's",
		`b'\x00\xff\\\''`:       "\x00\xff\\'",
		`b'P,1\nP,2\nP,3\n'`:    "P,1\nP,2\nP,3\n",
		`b'   S,beep   \n'`:     "   S,beep   \n",
		`b'\t"quoted"'`:         "\t\"quoted\"",
		`b'A,hello'`:            "A,hello",
		`b'L,' + 'x' (invalid)`: "",
	} {
		got, err := pyBytes(lit)
		if want == "" {
			if err == nil {
				t.Errorf("pyBytes(%s) = %q, want an error", lit, got)
			}
			continue
		}
		if err != nil || string(got) != want {
			t.Errorf("pyBytes(%s) = %q, %v; want %q", lit, got, err, want)
		}
	}
}
