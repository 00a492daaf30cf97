package eivr

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// Tests of the local-program transport, eivr-protocol.md §3.1, §4.3, §8.3
// and the quirks Q25, Q27, Q28, Q34 of §10, with real child programs from
// test/scripts/transport.

// §3.1: argv exactly as given, relative path against Dir, and the default
// (minimal) or given environment.
func TestProgram_3_1_ArgvDirEnv(t *testing.T) {
	dir := filepath.Dir(script(t, "env.sh"))
	cur, err := user.Current()
	if err != nil {
		t.Skipf("current user: %v", err)
	}
	tests := []struct {
		name    string
		argv    []string
		env     []string
		wantEnv []string // PWD excluded: sh exports it
	}{
		{
			name:    "default environment",
			argv:    []string{"./env.sh", "a b", "c,d", ""},
			wantEnv: []string{"HOME=" + cur.HomeDir, "LOGNAME=" + cur.Username, "PATH=" + DefaultPath, "USER=" + cur.Username},
		},
		{
			name:    "given environment",
			argv:    []string{"./env.sh", `"quoted"`},
			env:     []string{"FOO=bar", "PATH=/bin:/usr/bin"},
			wantEnv: []string{"FOO=bar", "PATH=/bin:/usr/bin"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startTest(t, tt.argv, ProgramConfig{Dir: dir, Env: tt.env})
			br := bufio.NewReader(p.Commands())
			var args, env []string
			var pwd string
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				l = strings.TrimSuffix(l, "\n")
				if l == "end" {
					break
				}
				k, v, _ := strings.Cut(l, "=")
				switch k {
				case "arg":
					args = append(args, v)
				case "pwd":
					pwd = v
				case "env":
					if !strings.HasPrefix(v, "PWD=") {
						env = append(env, v)
					}
				}
			}
			if !slices.Equal(args, tt.argv) {
				t.Errorf("argv = %q, want %q", args, tt.argv)
			}
			if pwd != dir {
				t.Errorf("working directory = %q, want %q", pwd, dir)
			}
			if !slices.Equal(env, tt.wantEnv) {
				t.Errorf("environment = %q, want %q", env, tt.wantEnv)
			}
		})
	}
}

// §3.1: the program runs as ProgramConfig.User.
func TestProgram_3_1_User(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("changing user needs root")
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Skipf("no user nobody: %v", err)
	}
	// The checkout (or its temporary clone) may sit in a directory only root
	// can enter, and the child changes user before it changes directory and
	// execs: give it a copy of the script in a directory anybody can read.
	dir, err := os.MkdirTemp("", "eivr-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	src, err := os.ReadFile(script(t, "env.sh"))
	if err != nil {
		t.Fatal(err)
	}
	prog := filepath.Join(dir, "env.sh")
	if err := os.WriteFile(prog, src, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p := startTest(t, []string{prog}, ProgramConfig{User: "nobody", Dir: dir})
	br := bufio.NewReader(p.Commands())
	want := "uid=" + nobody.Uid + "\n"
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("no uid line: %v", err)
		}
		if strings.HasPrefix(l, "uid=") {
			if l != want {
				t.Errorf("got %q, want %q", l, want)
			}
			break
		}
	}
}

// §3.1: what cannot be started fails StartProgram with a clear error and
// leaves nothing open. No shell and no PATH search: "sh" is looked up in Dir
// only, as execv does.
func TestProgram_3_1_StartErrors(t *testing.T) {
	tmp := t.TempDir()
	notExec := filepath.Join(tmp, "not-executable.sh")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\nexit 0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		argv []string
		cfg  ProgramConfig
		want func(error) bool
	}{
		{"nonexistent path", []string{filepath.Join(tmp, "nope")}, ProgramConfig{},
			func(err error) bool { return errors.Is(err, fs.ErrNotExist) }},
		{"not executable", []string{notExec}, ProgramConfig{},
			func(err error) bool { return errors.Is(err, fs.ErrPermission) }},
		{"directory", []string{tmp}, ProgramConfig{},
			func(err error) bool { return errors.Is(err, fs.ErrPermission) }},
		{"no PATH search", []string{"sh", "-c", "exit 0"}, ProgramConfig{Dir: tmp},
			func(err error) bool { return errors.Is(err, fs.ErrNotExist) }},
		{"no shell", []string{"/bin/true; echo"}, ProgramConfig{},
			func(err error) bool { return errors.Is(err, fs.ErrNotExist) }},
		{"bad working directory", []string{"/bin/true"}, ProgramConfig{Dir: filepath.Join(tmp, "nope")},
			func(err error) bool { return errors.Is(err, fs.ErrNotExist) }},
		{"unknown user", []string{"/bin/true"}, ProgramConfig{User: "no-such-user-eivr"},
			func(err error) bool { var u user.UnknownUserError; return errors.As(err, &u) }},
		{"empty argv", nil, ProgramConfig{}, func(err error) bool { return err != nil }},
		{"empty path", []string{""}, ProgramConfig{}, func(err error) bool { return err != nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFDs(t)
			c, err := StartProgram(context.Background(), tt.argv, tt.cfg)
			if err == nil {
				c.Close(context.Background())
				t.Fatalf("StartProgram(%q) succeeded", tt.argv)
			}
			if !tt.want(err) {
				t.Errorf("StartProgram(%q) = %v: not the expected kind of error", tt.argv, err)
			}
			if len(tt.argv) > 0 && tt.argv[0] != "" && !strings.Contains(err.Error(), tt.argv[0]) {
				t.Errorf("error %q does not name the program %q", err, tt.argv[0])
			}
		})
	}
}

// §3.1, §4.1, §4.3: events reach the program whole and in order, its
// commands come back on Commands, its stderr lines are logged with its pid.
func TestProgram_3_1_EchoEventsAndStderr(t *testing.T) {
	p := startTest(t, []string{script(t, "echo.pl")}, ProgramConfig{Grace: 5 * time.Second})
	events := []string{"1,1795457122\n", "F,1795457122,beep\n", "G,1795457122,a=b,c=\n"}
	for _, ev := range events {
		if err := p.Send([]byte(ev)); err != nil {
			t.Fatalf("Send(%q): %v", ev, err)
		}
	}
	got := readLines(t, bufio.NewReader(p.Commands()), len(events))
	if !slices.Equal(got, events) {
		t.Errorf("echoed %q, want %q", got, events)
	}
	for _, ev := range events {
		rec := p.logs.WaitStderr(t, "got "+strings.TrimSuffix(ev, "\n"))
		if rec.Attrs["peer"] != strconv.Itoa(p.pid) {
			t.Errorf("stderr record %v: peer is not the pid %d", rec, p.pid)
		}
	}
	if d := p.closeNow(t); d > 4*time.Second {
		t.Errorf("Close took %v for a program that exits at EOF", d)
	}
	if sig := p.exitSignal(t); sig != -1 {
		t.Errorf("echo.pl killed by %v, want a clean exit at EOF", sig)
	}
	if !errors.Is(p.Err(), ErrConnClosed) {
		t.Errorf("Err() = %v, want ErrConnClosed", p.Err())
	}
	if err := p.Send([]byte("H,1\n")); !errors.Is(err, ErrConnClosed) {
		t.Errorf("Send after Close = %v, want ErrConnClosed", err)
	}
	if _, err := p.Commands().Read(make([]byte, 10)); !errors.Is(err, ErrConnClosed) {
		t.Errorf("Read after Close = %v, want ErrConnClosed", err)
	}
}

// §4.1: lines sent from many goroutines at once reach the program whole,
// never interleaved, each goroutine's in its order.
func TestProgram_4_1_NoInterleaving(t *testing.T) {
	// The queue holds the whole burst: this test is about order, not Q27.
	p := startTest(t, []string{script(t, "echo.pl")}, ProgramConfig{QueueBytes: 4 << 20})
	const senders, each = 8, 200
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				line := fmt.Sprintf("G,1795457122,sender%d=%d%s\n", g, i, strings.Repeat("x", 50+g*100))
				if err := p.Send([]byte(line)); err != nil {
					t.Errorf("Send: %v", err)
					return
				}
			}
		})
	}
	next := make([]int, senders)
	br := bufio.NewReader(p.Commands())
	for range senders * each {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		var g, i int
		var pad string
		if _, err := fmt.Sscanf(l, "G,1795457122,sender%d=%d%s\n", &g, &i, &pad); err != nil || pad != strings.Repeat("x", 50+g*100) {
			t.Fatalf("mangled line %q (%v)", l, err)
		}
		if i != next[g] {
			t.Fatalf("sender %d: line %d after %d", g, i, next[g]-1)
		}
		next[g]++
	}
	wg.Wait()
}

// §4.3: stderr lines are trimmed at both ends and cut at 1023 bytes (the
// rest of a longer line is dropped: one record, however long the line); a
// last line without newline is still logged.
func TestProgram_4_3_StderrFraming(t *testing.T) {
	prog := `print STDERR "  spaced\t \r\n", "x" x 2100, "\n", "y" x 1023, "\n", "z" x (10<<20), "\n", "\x00nul and \xff bytes\n", "cr\ronly\r", "last without newline"; close STDERR; sleep 1000 while 1`
	p := startTest(t, []string{"/usr/bin/perl", "-e", prog}, ProgramConfig{})
	if err := waitDone(t, p); !errors.Is(err, ErrStderrEOF) {
		t.Errorf("Err() = %v, want ErrStderrEOF", err)
	}
	var lines []string
	for _, rec := range p.logs.Records() {
		if rec.Msg == "stderr" {
			l := rec.Attrs["line"]
			if rec.Attrs["cut"] == "true" {
				l += " [cut]"
			}
			lines = append(lines, l)
		}
	}
	want := []string{"spaced", strings.Repeat("x", 1023) + " [cut]", strings.Repeat("y", 1023) + " [cut]",
		strings.Repeat("z", 1023) + " [cut]", "\x00nul and \xff bytes", "cr\ronly\rlast without newline"}
	if !slices.Equal(lines, want) {
		short := func(ls []string) (out []string) {
			for _, l := range ls {
				if len(l) > 40 {
					l = l[:20] + "..." + l[len(l)-15:]
				}
				out = append(out, l)
			}
			return out
		}
		t.Errorf("stderr lines %q,\nwant %q", short(lines), short(want))
	}
}

// §8.3: a program that exits at once ends the session (Done), its command
// stream ends, and the next event writes fail with EPIPE.
func TestProgram_8_3_ExitAtOnce(t *testing.T) {
	p := startTest(t, []string{script(t, "exit-at-once.sh")}, ProgramConfig{})
	if err := waitDone(t, p); !errorsIsAny(err, ErrStderrEOF, ErrClientEOF) {
		t.Errorf("Err() = %v, want ErrStderrEOF or ErrClientEOF", err)
	}
	if b, err := io.ReadAll(p.Commands()); err != nil || len(b) != 0 {
		t.Errorf("Commands: %q, %v; want EOF", b, err)
	}
	// The writer finds out at its next write; poll (a burst of Sends could
	// fill the queue before the writer thread even runs: ErrSlowClient).
	var err error
	testwait.For(testWait, func() bool {
		err = p.Send([]byte("F,1795457122,beep\n"))
		return err != nil
	})
	if !errors.Is(err, syscall.EPIPE) {
		t.Errorf("Send to an exited program = %v, want EPIPE", err)
	}
	p.closeNow(t)
	if st := p.cmd.ProcessState; st.ExitCode() != 3 {
		t.Errorf("exit status %v, want 3", st)
	}
}

// A crashing program ends its session like one that exits; it is reaped.
func TestProgram_8_3_Crash(t *testing.T) {
	p := startTest(t, []string{script(t, "crash.sh")}, ProgramConfig{})
	waitDone(t, p)
	p.closeNow(t)
	if sig := p.exitSignal(t); sig != syscall.SIGSEGV {
		t.Errorf("exit signal %v, want SIGSEGV", sig)
	}
}

// §8.3: after Close the program sees EOF on stdin, and writing to stdout
// kills it with SIGPIPE as on Asterisk (default disposition in the child).
func TestProgram_8_3_WriteAfterEOFGetsSIGPIPE(t *testing.T) {
	p := startTest(t, []string{script(t, "write-after-eof.sh")}, ProgramConfig{Grace: 5 * time.Second})
	if d := p.closeNow(t); d > 4*time.Second {
		t.Errorf("Close took %v: the program did not die of SIGPIPE on its own", d)
	}
	if sig := p.exitSignal(t); sig != syscall.SIGPIPE {
		t.Errorf("exit signal %v, want SIGPIPE", sig)
	}
}

// §10 Q25: a program that closes its stderr ends the session although it
// still runs; at Close it sees EOF and exits on its own.
func TestProgram_Q25_CloseStderr(t *testing.T) {
	p := startTest(t, []string{script(t, "close-stderr.sh")}, ProgramConfig{Grace: 5 * time.Second})
	if err := waitDone(t, p); !errors.Is(err, ErrStderrEOF) {
		t.Errorf("Err() = %v, want ErrStderrEOF", err)
	}
	if st, _ := processState(p.pid); st == 0 || st == 'Z' {
		t.Fatalf("program no longer running (state %q) after closing stderr", st)
	}
	if d := p.closeNow(t); d > 4*time.Second {
		t.Errorf("Close took %v for a program that exits at EOF", d)
	}
	if st := p.cmd.ProcessState; !st.Success() {
		t.Errorf("exit status %v, want 0", st)
	}
}

// §10 Q28: a program that ignores EOF gets the grace period, then SIGTERM;
// one that also ignores SIGTERM gets SIGKILL. Both are reaped.
func TestProgram_Q28_GraceThenSignals(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantSig syscall.Signal
	}{
		{"SIGTERM after grace", nil, syscall.SIGTERM},
		{"SIGKILL when SIGTERM is ignored", []string{"ignore-term"}, syscall.SIGKILL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const grace = 200 * time.Millisecond
			p := startTest(t, append([]string{script(t, "hang.pl")}, tt.args...), ProgramConfig{Grace: grace})
			p.logs.WaitStderr(t, "ready")
			if d := p.closeNow(t); d < grace {
				t.Errorf("Close took %v, less than the grace period %v", d, grace)
			}
			if sig := p.exitSignal(t); sig != tt.wantSig {
				t.Errorf("exit signal %v, want %v", sig, tt.wantSig)
			}
			p.logs.Wait(t, "program stopped", func(r logRec) bool {
				return r.Msg == "program stopped" && r.Attrs["signal"] == signalName(tt.wantSig)
			})
		})
	}
}

func signalName(s syscall.Signal) string {
	if s == syscall.SIGKILL {
		return "SIGKILL"
	}
	return "SIGTERM"
}

// §10 Q28: a child left behind in the program's process group does not
// outlive the grace period.
func TestProgram_Q28_BackgroundChildKilled(t *testing.T) {
	p := startTest(t, []string{script(t, "background.sh")}, ProgramConfig{})
	l := readLines(t, bufio.NewReader(p.Commands()), 1)[0]
	child, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(l, "child=")))
	if err != nil {
		t.Fatalf("bad child line %q", l)
	}
	p.closeNow(t)
	if st, _ := processState(child); st != 0 && st != 'Z' {
		t.Errorf("background child %d still running (state %c)", child, st)
	}
}

// A Close whose ctx has ended skips the grace period.
func TestProgram_CloseExpiredContext(t *testing.T) {
	p := startTest(t, []string{script(t, "hang.pl")}, ProgramConfig{Grace: time.Minute, KillWait: 5 * time.Second})
	p.logs.WaitStderr(t, "ready")
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if err := p.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("Close with an expired ctx took %v", d)
	}
	if sig := p.exitSignal(t); sig != syscall.SIGTERM {
		t.Errorf("exit signal %v, want SIGTERM", sig)
	}
}

// Close is idempotent and safe from several goroutines: all get its result.
func TestProgram_CloseConcurrent(t *testing.T) {
	p := startTest(t, []string{script(t, "hang.pl")}, ProgramConfig{})
	p.logs.WaitStderr(t, "ready")
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := p.Close(context.Background()); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
	wg.Wait()
	if st := p.cmd.ProcessState; st == nil {
		t.Error("Close returned before the program was reaped")
	}
}

// §10 Q27: a program that never reads gets a bounded queue, then
// ErrSlowClient (sticky), Done; Close still reaps it.
func TestProgram_Q27_SlowClient(t *testing.T) {
	p := startTest(t, []string{script(t, "no-read.pl")}, ProgramConfig{QueueBytes: 4096})
	p.logs.WaitStderr(t, "ready")
	line := []byte("F,1795457122," + strings.Repeat("x", 100) + "\n")
	var err error
	sent := 0
	for sent < 100<<20 { // far beyond any pipe buffer
		if err = p.Send(line); err != nil {
			break
		}
		sent += len(line)
		runtime.Gosched()
	}
	if !errors.Is(err, ErrSlowClient) {
		t.Fatalf("Send after %d bytes = %v, want ErrSlowClient", sent, err)
	}
	if err := waitDone(t, p); !errors.Is(err, ErrSlowClient) {
		t.Errorf("Err() = %v, want ErrSlowClient", err)
	}
	if err2 := p.Send([]byte("H,1\n")); err2 != err {
		t.Errorf("Send on a broken conn = %v, want the first error %v", err2, err)
	}
	p.closeNow(t)
	if sig := p.exitSignal(t); sig != syscall.SIGTERM {
		t.Errorf("exit signal %v, want SIGTERM after the grace period", sig)
	}
}

// §10 Q34: a program flooding its stdout is read only as fast as we read:
// it blocks in its own writes (the pipe is full) and nothing piles up in
// the gateway. After Close its next write kills it with SIGPIPE.
func TestProgram_Q34_FloodBackPressure(t *testing.T) {
	p := startTest(t, []string{script(t, "flood.pl")}, ProgramConfig{Grace: 5 * time.Second})
	br := bufio.NewReaderSize(p.Commands(), 64)
	const readLinesN = 20000
	for i := range readLinesN {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("P,flood %d\n", i); l != want {
			t.Fatalf("line %d = %q, want %q", i, l, want)
		}
	}
	// We stopped reading: the program must end up blocked in its own write
	// to the full pipe (a flood that is not held back never blocks).
	wchan := func() string {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/wchan", p.pid))
		return string(b)
	}
	// wchan is pipe_write, or anon_pipe_write on newer kernels.
	if !testwait.For(testwait.Long, func() bool { return strings.HasSuffix(wchan(), "pipe_write") }) {
		t.Fatalf("the flooder is not blocked writing to its stdout: wchan %q", wchan())
	}
	wrote := 0
	for _, r := range p.logs.Records() {
		if n, err := strconv.Atoi(strings.TrimPrefix(r.Attrs["line"], "wrote ")); err == nil {
			wrote = max(wrote, n)
		}
	}
	// At most what we read, what the pipe (64 KiB, >= 14-byte lines) and our
	// 64-byte buffer hold, plus the 1000 lines between progress reports.
	if limit := readLinesN + (64<<10)/14 + 1000 + 10; wrote > limit {
		t.Errorf("program wrote %d lines while we read %d: not held back (limit %d)", wrote, readLinesN, limit)
	}
	if d := p.closeNow(t); d > 4*time.Second {
		t.Errorf("Close took %v: the flooder did not die of SIGPIPE", d)
	}
	if sig := p.exitSignal(t); sig != syscall.SIGPIPE {
		t.Errorf("exit signal %v, want SIGPIPE", sig)
	}
}

// §4.2, §8.3: a program that closes its stdout at once ends the session
// (native: "Child process went away") though it still runs; Close reaps it.
func TestProgram_8_3_CloseStdoutAtOnce(t *testing.T) {
	p := startTest(t, []string{"/bin/sh", "-c", "exec >&-; while read -r l; do :; done"}, ProgramConfig{Grace: 5 * time.Second})
	if b, err := io.ReadAll(p.Commands()); err != nil || len(b) != 0 {
		t.Errorf("Commands: %q, %v; want EOF", b, err)
	}
	if err := waitDone(t, p); !errors.Is(err, ErrClientEOF) {
		t.Errorf("Err() = %v, want ErrClientEOF", err)
	}
	if d := p.closeNow(t); d > 4*time.Second {
		t.Errorf("Close took %v for a program that exits at EOF", d)
	}
	if st := p.cmd.ProcessState; !st.Success() {
		t.Errorf("exit status %v, want 0", st)
	}
}

// Waiting for many programs parks goroutines, not OS threads (a Go program
// dies beyond 10000 threads; each blocked waitid(2) would hold one).
func TestProgram_WaitHoldsNoThread(t *testing.T) {
	threads := func() int {
		b, _ := os.ReadFile("/proc/self/status")
		for l := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(l, "Threads:"); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				return n
			}
		}
		t.Skip("no thread count in /proc/self/status")
		return 0
	}
	checkFDs(t)
	const n = 40
	before := threads()
	for range n {
		c, err := StartProgram(context.Background(), []string{"/bin/sleep", "1000"}, ProgramConfig{Grace: time.Millisecond, KillWait: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := c.Close(context.Background()); err != nil {
				t.Error(err)
			}
			checkGone(t, c.(*program).pid)
		})
	}
	// Barrier: every program's wait has reached its blocking point. A wait
	// blocked in a system call holds an OS thread from then on.
	testwait.Until(t, testwait.Long, fmt.Sprintf("%d waits blocked", n), func() bool { return blockedWaits() >= n })
	if after := threads(); after-before >= n/2 {
		t.Errorf("%d threads with %d programs running, %d before", after, n, before)
	}
}

// blockedWaits counts the goroutines in (*program).wait that are blocked:
// parked on the poller ([IO wait]) or in a system call ([syscall]).
func blockedWaits() int {
	buf := make([]byte, 1<<16)
	for {
		if n := runtime.Stack(buf, true); n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		head, _, _ := strings.Cut(g, "\n")
		if strings.Contains(g, "eivr.(*program).wait(") &&
			(strings.Contains(head, "[IO wait") || strings.Contains(head, "[syscall")) {
			count++
		}
	}
	return count
}

// A program flooding stderr is logged at a bounded rate (it was every line:
// 20 009 records in 0.2 s): every line is either logged or counted in a
// "stderr lines suppressed" record (issue 13 item 14).
func TestProgram_StderrRateLimited(t *testing.T) {
	const n = 20000
	prog := fmt.Sprintf(`print STDERR "line $_\n" for 1..%d; close STDERR; sleep 1000 while 1`, n)
	start := time.Now()
	p := startTest(t, []string{"/usr/bin/perl", "-e", prog}, ProgramConfig{Grace: 100 * time.Millisecond})
	if err := waitDone(t, p); !errors.Is(err, ErrStderrEOF) {
		t.Errorf("Err() = %v, want ErrStderrEOF", err)
	}
	elapsed := time.Since(start)
	// Close returns once the stderr reader did, with its last count logged.
	p.closeNow(t)
	logged, suppressed := 0, 0
	for _, r := range p.logs.Records() {
		switch r.Msg {
		case "stderr":
			logged++
		case "stderr lines suppressed":
			k, err := strconv.Atoi(r.Attrs["suppressed"])
			if err != nil || k <= 0 {
				t.Errorf("suppressed record %v", r.Attrs)
			}
			suppressed += k
		}
	}
	if max := stderrBurst + int(elapsed.Seconds()*stderrRate) + 1; logged > max {
		t.Errorf("%d lines logged in %v, more than the limit %d", logged, elapsed, max)
	}
	if logged < stderrBurst {
		t.Errorf("%d lines logged, want at least the burst %d", logged, stderrBurst)
	}
	if logged+suppressed != n {
		t.Errorf("%d logged + %d suppressed = %d, want every one of the %d lines", logged, suppressed, logged+suppressed, n)
	}
}
