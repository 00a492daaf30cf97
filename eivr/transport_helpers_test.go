package eivr

import (
	"bufio"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"log/slog"
)

// Helpers of the transport tests: child scripts, captured logs, and the
// fd/process leak checks every transport test runs.

const testWait = 10 * time.Second // deadline of any single wait in a test

// script returns the absolute path of a child program in test/scripts/transport.
func script(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "test", "scripts", "transport", name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test script: %v", err)
	}
	return p
}

// checkFDs fails t if it ends with more open descriptors than it started with.
func checkFDs(t testing.TB) {
	t.Helper()
	before := openFDs(t)
	t.Cleanup(func() {
		after := openFDs(t)
		if len(after) > len(before) {
			var leaked []string
			for _, fd := range after {
				if !slices.Contains(before, fd) {
					target, _ := os.Readlink("/proc/self/fd/" + fd)
					leaked = append(leaked, fd+" -> "+target)
				}
			}
			t.Errorf("leaked file descriptors: %v", leaked)
		}
	})
}

func openFDs(t testing.TB) []string {
	t.Helper()
	d, err := os.Open("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count descriptors: %v", err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		t.Fatal(err)
	}
	fd := strconv.Itoa(int(d.Fd()))
	return slices.DeleteFunc(names, func(n string) bool { return n == fd })
}

// processState returns the state letter of /proc/<pid>/stat ('R', 'S', 'Z',
// ...) and its parent pid, or 0 when there is no such process.
func processState(pid int) (state byte, ppid int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	// "pid (comm) S ppid ...": comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	f := strings.Fields(s[i+1:])
	if len(f) < 2 {
		return 0, 0
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0][0], ppid
}

// childPids lists the processes whose parent is pid.
func childPids(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var kids []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if _, ppid := processState(p); ppid == pid {
			kids = append(kids, p)
		}
	}
	return kids
}

// checkGone fails t unless pid is neither running nor a zombie.
func checkGone(t testing.TB, pid int) {
	t.Helper()
	if st, _ := processState(pid); st != 0 && st != 'Z' {
		t.Errorf("process %d still exists, state %c", pid, st)
	} else if st == 'Z' {
		if _, ppid := processState(pid); ppid == os.Getpid() {
			t.Errorf("process %d is our unreaped zombie", pid)
		}
	}
}

// logRecorder is a slog handler that keeps every record for the test.
type logRecorder struct {
	mu      sync.Mutex
	recs    []logRec
	changed chan struct{} // closed and replaced on every record
}

type logRec struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

func newLogRecorder() *logRecorder { return &logRecorder{changed: make(chan struct{})} }

func (r *logRecorder) Logger() *slog.Logger { return slog.New(recHandler{rec: r}) }

func (r *logRecorder) add(rec logRec) {
	r.mu.Lock()
	r.recs = append(r.recs, rec)
	close(r.changed)
	r.changed = make(chan struct{})
	r.mu.Unlock()
}

// Records returns a copy of the records so far.
func (r *logRecorder) Records() []logRec {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.recs)
}

// Wait waits until a record satisfies ok and returns it.
func (r *logRecorder) Wait(t testing.TB, what string, ok func(logRec) bool) logRec {
	t.Helper()
	deadline := time.NewTimer(testWait)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		for _, rec := range r.recs {
			if ok(rec) {
				r.mu.Unlock()
				return rec
			}
		}
		changed := r.changed
		r.mu.Unlock()
		select {
		case <-changed:
		case <-deadline.C:
			t.Fatalf("no log record %s within %v; got %v", what, testWait, r.Records())
		}
	}
}

// WaitStderr waits for the stderr line line.
func (r *logRecorder) WaitStderr(t testing.TB, line string) logRec {
	t.Helper()
	return r.Wait(t, "stderr "+strconv.Quote(line), func(rec logRec) bool {
		return rec.Msg == "stderr" && rec.Attrs["line"] == line
	})
}

type recHandler struct {
	rec   *logRecorder
	attrs []slog.Attr
}

func (h recHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h recHandler) Handle(_ context.Context, r slog.Record) error {
	m := make(map[string]string)
	for _, a := range h.attrs {
		m[a.Key] = a.Value.String()
	}
	r.Attrs(func(a slog.Attr) bool {
		m[a.Key] = a.Value.String()
		return true
	})
	h.rec.add(logRec{Level: r.Level, Msg: r.Message, Attrs: m})
	return nil
}

func (h recHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return recHandler{rec: h.rec, attrs: append(slices.Clip(h.attrs), as...)}
}

func (h recHandler) WithGroup(string) slog.Handler { return h }

// testProgram is a started program with what the tests look at.
type testProgram struct {
	*program
	logs *logRecorder
}

// startTest starts argv with short test timeouts (grace and kill wait of
// 100 ms unless cfg says otherwise), checks fds around the test and, at its
// end, closes the program and checks that it is gone.
func startTest(t *testing.T, argv []string, cfg ProgramConfig) testProgram {
	t.Helper()
	checkFDs(t)
	logs := newLogRecorder()
	if cfg.Logger == nil {
		cfg.Logger = logs.Logger()
	}
	if cfg.Grace == 0 {
		cfg.Grace = 100 * time.Millisecond
	}
	if cfg.KillWait == 0 {
		cfg.KillWait = 100 * time.Millisecond
	}
	c, err := StartProgram(context.Background(), argv, cfg)
	if err != nil {
		t.Fatalf("StartProgram(%q): %v", argv, err)
	}
	p := c.(*program)
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
		checkGone(t, p.pid)
	})
	return testProgram{program: p, logs: logs}
}

// closeProgram closes p and returns how long Close took.
func (p testProgram) closeNow(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	if err := p.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return time.Since(start)
}

// exitSignal returns the signal that killed the program (after Close), or -1.
func (p testProgram) exitSignal(t *testing.T) syscall.Signal {
	t.Helper()
	st := p.cmd.ProcessState
	if st == nil {
		t.Fatal("program not reaped")
	}
	ws := st.Sys().(syscall.WaitStatus)
	if !ws.Signaled() {
		return -1
	}
	return ws.Signal()
}

// waitDone waits for c.Done and returns c.Err.
func waitDone(t *testing.T, c interface {
	Done() <-chan struct{}
	Err() error
}) error {
	t.Helper()
	select {
	case <-c.Done():
	case <-time.After(testWait):
		t.Fatalf("Done not closed within %v", testWait)
	}
	err := c.Err()
	if err == nil {
		t.Fatal("Err() == nil after Done")
	}
	return err
}

// readLines reads n lines from c's command stream.
func readLines(t *testing.T, br *bufio.Reader, n int) []string {
	t.Helper()
	var lines []string
	for range n {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read line %d: %v (got %q)", len(lines)+1, err, lines)
		}
		lines = append(lines, l)
	}
	return lines
}

// errorsIsAny reports whether err wraps one of targets.
func errorsIsAny(err error, targets ...error) bool {
	for _, target := range targets {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}
