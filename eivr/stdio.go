package eivr

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Defaults of ProgramConfig.
const (
	// DefaultGrace is how long Close lets a program's process group finish
	// its own work after its streams are closed: legacy scripts often write
	// records after the call.
	DefaultGrace = 30 * time.Second
	// DefaultKillWait is how long Close waits after SIGTERM before SIGKILL,
	// and at most after SIGKILL for the child to be reaped.
	DefaultKillWait = 2 * time.Second
	// DefaultPath is PATH in the default environment of a program.
	DefaultPath = "/usr/local/bin:/usr/bin:/bin"

	// maxStderrLine is the line cut of the stderr reader, the same 1023
	// bytes as for commands (§4.2, §4.3).
	maxStderrLine = 1023
	// stderrBurst and stderrRate bound how many stderr lines of one
	// program are logged: a burst of 100, then 20 a second; the lines over
	// that are counted, not logged, and the count is logged ("stderr lines
	// suppressed", field suppressed) before the next line logged and when
	// stderr ends.
	stderrBurst = 100
	stderrRate  = 20
	// groupPoll is how often Close checks whether the children a program
	// left behind have exited, once the program itself has.
	groupPoll = 20 * time.Millisecond
)

// ProgramConfig says how StartProgram runs a local program. The zero value
// is ready to use.
type ProgramConfig struct {
	// Dir is the working directory of the program, against which a relative
	// program path is resolved (execv semantics, §3.1). "" = the gateway's own.
	Dir string

	// Env is the program's whole environment, "KEY=value" strings. nil means a
	// minimal one: PATH=DefaultPath plus HOME, USER and LOGNAME of the user
	// the program runs as. Asterisk passes its own environment instead; pass
	// os.Environ() (plus e.g. AST_SYSTEMNAME=...) for that. A non-nil empty
	// slice is an empty environment.
	Env []string

	// User, if set, is the user name (or numeric uid) the program runs as,
	// with that user's primary and (when the gateway runs as root)
	// supplementary groups. Changing user needs root or CAP_SETUID. ""
	// keeps the gateway's own user, as Asterisk does.
	User string

	// Grace is how long Close waits, after closing the program's streams, for
	// the program and every process left in its process group to exit on
	// their own before it sends SIGTERM. 0 = DefaultGrace (30 s).
	Grace time.Duration

	// KillWait is how long Close waits after SIGTERM before SIGKILL, and at
	// most after SIGKILL for the program to be reaped. 0 = DefaultKillWait.
	KillWait time.Duration

	// FlushTimeout bounds how long Close waits for queued events to be
	// written. 0 = DefaultFlushTimeout.
	FlushTimeout time.Duration

	// QueueBytes bounds the event queue (see Conn.Send). 0 = DefaultQueueBytes.
	QueueBytes int

	// Logger receives the program's stderr lines (at Info, message
	// "stderr", field "line"; a line longer than 1023 bytes is logged cut,
	// with cut=true, and its rest dropped; beyond a burst of 100 lines, 20 a
	// second, lines are counted and the count logged at Warn, message
	// "stderr lines suppressed", field "suppressed") and how the program ended; every
	// record carries peer=<pid>. Give it the session's fields (channel, ...).
	// nil discards.
	Logger *slog.Logger
}

// program is the Conn of a local program.
type program struct {
	stream
	cfg   ProgramConfig
	log   *slog.Logger
	cmd   *exec.Cmd
	pid   int // also the process group id (Setpgid)
	argv0 string

	stdin, stdout, stderr *os.File // our ends of the pipes

	stderrDone chan struct{} // readStderr returned
	exited     chan struct{} // the child was reaped; waitErr and cmd.ProcessState are set
	waitErr    error

	closer closeState
}

// StartProgram starts a local ExternalIVR program as app_externalivr does
// (eivr-protocol.md §3.1): argv[0] is the path exactly as written (no shell,
// no PATH search; relative to cfg.Dir), argv the whole argument vector;
// stdin carries events, stdout commands, and every stderr line is logged.
//
// The program runs in its own process group with default signal
// dispositions (so SIGPIPE kills it when it writes after its streams were
// closed, as on Asterisk; the gateway must not ignore SIGPIPE itself) and no
// descriptor but the three pipes, provided the process has none open without
// close-on-exec: Go opens its own with it, but a descriptor inherited from
// the parent would reach the program (cmd/eivr-gateway marks them all
// close-on-exec at start-up). ctx only bounds the start: the program's
// life ends with Close, which must be called.
//
// Errors: a path that does not exist or is not executable, a bad Dir or an
// unknown User fail here (wrapping fs.ErrNotExist, fs.ErrPermission,
// user.UnknownUserError...). Native Asterisk reports those from the forked
// child on its stderr instead; the session ends the same way.
func StartProgram(ctx context.Context, argv []string, cfg ProgramConfig) (Conn, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, errors.New("start program: empty program path")
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("start program %q: %w", argv[0], err)
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.KillWait <= 0 {
		cfg.KillWait = DefaultKillWait
	}
	if cfg.FlushTimeout <= 0 {
		cfg.FlushTimeout = DefaultFlushTimeout
	}

	attr := &syscall.SysProcAttr{Setpgid: true}
	env := cfg.Env
	if cfg.User != "" || env == nil {
		u, cred, err := lookupUser(cfg.User)
		if err != nil {
			return nil, fmt.Errorf("start program %q: %w", argv[0], err)
		}
		attr.Credential = cred
		if env == nil {
			env = defaultEnv(u)
		}
	}

	var p program
	var pipes [6]*os.File // child stdin, our stdin; our stdout, child stdout; our stderr, child stderr
	for i := 0; i < len(pipes); i += 2 {
		r, w, err := os.Pipe()
		if err != nil {
			closeFiles(pipes[:i])
			return nil, fmt.Errorf("start program %q: pipes: %w", argv[0], err)
		}
		pipes[i], pipes[i+1] = r, w
	}
	childIn, childOut, childErr := pipes[0], pipes[3], pipes[5]
	p.stdin, p.stdout, p.stderr = pipes[1], pipes[2], pipes[4]

	p.cmd = &exec.Cmd{ // not exec.Command: no PATH search, argv[0] as written
		Path:        argv[0],
		Args:        argv,
		Dir:         cfg.Dir,
		Env:         env,
		Stdin:       childIn,
		Stdout:      childOut,
		Stderr:      childErr,
		SysProcAttr: attr,
	}
	err := p.cmd.Start()
	closeFiles([]*os.File{childIn, childOut, childErr})
	if err != nil {
		closeFiles([]*os.File{p.stdin, p.stdout, p.stderr})
		return nil, fmt.Errorf("start program %q: %w", argv[0], err)
	}

	p.cfg = cfg
	p.argv0 = argv[0]
	p.pid = p.cmd.Process.Pid
	p.log = discardIfNil(cfg.Logger).With("peer", p.pid)
	p.stderrDone = make(chan struct{})
	p.exited = make(chan struct{})
	p.stream.init(p.stdout, p.stdin, cfg.QueueBytes)
	go p.wait()
	go p.readStderr()
	p.log.Debug("program started", "path", argv[0])
	return &p, nil
}

// wait reaps the child as soon as it exits, whether or not Close was
// called, so it never lingers as a zombie.
func (p *program) wait() {
	defer close(p.exited)
	waitExit(p.pid)
	p.waitErr = p.cmd.Wait()
}

// waitExit returns once process pid has exited (a zombie that cmd.Wait then
// reaps at once). It waits on a pidfd through the runtime's poller, so that
// no OS thread is blocked per child: Go's own Wait blocks one in waitid(2),
// and a Go program dies beyond 10000 threads. Where pidfds are missing
// (Linux < 5.10) it returns at once and cmd.Wait blocks a thread instead.
func waitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.O_NONBLOCK)
	if err != nil {
		return
	}
	f := os.NewFile(uintptr(fd), "pidfd")
	defer f.Close()
	rc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Read(func(fd uintptr) bool { // false: wait until readable (exited)
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		return err != nil || info.Signo != 0
	})
}

// readStderr logs every stderr line, whitespace trimmed at both ends (§4.3),
// and ends the session at EOF (§10 Q25). Lines are framed like commands, at
// most 1023 bytes; the rest of a longer line is dropped, not logged as more
// lines the way native does, so that a 10 MB line makes one record. Lines
// beyond stderrBurst + stderrRate per second are counted, not logged.
func (p *program) readStderr() {
	defer close(p.stderrDone)
	lim := stderrLimiter{tokens: stderrBurst, last: time.Now()}
	defer lim.flush(p.log)
	br := bufio.NewReaderSize(p.stderr, maxStderrLine)
	skip := false // dropping the rest of a line cut at maxStderrLine
	for {
		line, err := br.ReadSlice('\n')
		cut := errors.Is(err, bufio.ErrBufferFull)
		switch {
		case skip || len(line) == 0:
		case !lim.allow(time.Now(), p.log):
		case cut:
			p.log.Info("stderr", "line", string(bytes.TrimSpace(line)), "cut", true)
		default:
			p.log.Info("stderr", "line", string(bytes.TrimSpace(line)))
		}
		skip = cut
		switch {
		case err == nil, cut:
			continue
		case p.isClosing():
			return
		case errors.Is(err, io.EOF):
			p.end(ErrStderrEOF)
		default:
			p.end(fmt.Errorf("read stderr: %w", err))
		}
		return
	}
}

// stderrLimiter is a token bucket over the stderr lines of one program
// (stderrBurst, stderrRate); owned by readStderr.
type stderrLimiter struct {
	tokens     float64
	last       time.Time
	suppressed int // lines not logged since the last report
}

// allow reports whether a line read at now may be logged; before the first
// line allowed after suppressed ones it logs their count.
func (l *stderrLimiter) allow(now time.Time, log *slog.Logger) bool {
	l.tokens = min(stderrBurst, l.tokens+now.Sub(l.last).Seconds()*stderrRate)
	l.last = now
	if l.tokens < 1 {
		l.suppressed++
		return false
	}
	l.tokens--
	l.flush(log)
	return true
}

// flush logs the count of suppressed lines, if any.
func (l *stderrLimiter) flush(log *slog.Logger) {
	if l.suppressed > 0 {
		log.Warn("stderr lines suppressed", "suppressed", l.suppressed, "limit", fmt.Sprintf("%d then %d/s", stderrBurst, stderrRate))
		l.suppressed = 0
	}
}

// Close implements Conn. See the package documentation (conn.go) for the
// sequence; ProgramConfig gives the timeouts.
func (p *program) Close(ctx context.Context) error {
	return p.closer.do(ctx, func() error { return p.close(ctx) })
}

func (p *program) close(ctx context.Context) error {
	// §8.3 order: the event stream first (the client reads its last event,
	// then EOF), then the command and stderr streams.
	_ = p.closeEvents(ctx, p.cfg.FlushTimeout, p.stdin.Close)
	_ = p.stdout.Close()
	_ = p.stderr.Close()
	<-p.stderrDone

	signalled := ""
	if !p.waitGone(ctx, p.cfg.Grace) {
		signalled = "SIGTERM"
		_ = syscall.Kill(-p.pid, syscall.SIGTERM)
		// KillWait even when ctx has ended: a moment to handle SIGTERM.
		if !p.waitGone(context.Background(), p.cfg.KillWait) {
			signalled = "SIGKILL"
			_ = syscall.Kill(-p.pid, syscall.SIGKILL)
			t := time.NewTimer(p.cfg.KillWait)
			defer t.Stop()
			select {
			case <-p.exited:
			case <-t.C:
				// Only a process stuck in the kernel gets here; wait keeps
				// running and reaps it when it finally dies.
				return fmt.Errorf("program %d (%s) not reaped %v after SIGKILL", p.pid, p.argv0, p.cfg.KillWait)
			}
		}
	}
	<-p.exited
	status := "unknown"
	if st := p.cmd.ProcessState; st != nil {
		status = st.String()
	} else if p.waitErr != nil {
		status = p.waitErr.Error()
	}
	if signalled != "" {
		p.log.Warn("program stopped", "status", status, "signal", signalled, "grace", p.cfg.Grace)
	} else {
		p.log.Debug("program exited", "status", status)
	}
	return nil
}

// waitGone waits until the program was reaped and its process group is
// empty, at most d or until ctx ends. It reports whether all are gone.
func (p *program) waitGone(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	exited := p.exited
	var tick <-chan time.Time
	for {
		select {
		case <-exited:
			if !groupAlive(p.pid) {
				return true
			}
			exited = nil
			tk := time.NewTicker(groupPoll)
			defer tk.Stop()
			tick = tk.C
		case <-tick:
			if !groupAlive(p.pid) {
				return true
			}
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

// groupAlive reports whether process group pgid still has a member.
// (Zombies count: under an init that does not reap, left-behind children
// cost the whole grace period, then a useless signal, nothing worse.)
func groupAlive(pgid int) bool {
	err := syscall.Kill(-pgid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// lookupUser returns the user named name (or with uid name), the current
// user when name is "", and the credential to run as it (nil for "").
func lookupUser(name string) (*user.User, *syscall.Credential, error) {
	if name == "" {
		u, err := user.Current()
		if err != nil {
			return nil, nil, nil // the default environment just lacks HOME/USER
		}
		return u, nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		if _, nerr := strconv.ParseUint(name, 10, 32); nerr == nil {
			u, err = user.LookupId(name)
		}
	}
	if err != nil {
		return nil, nil, fmt.Errorf("program user %q: %w", name, err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, fmt.Errorf("program user %q: %w", name, err)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
	if os.Geteuid() == 0 {
		cred.NoSetGroups = false
		ids, _ := u.GroupIds() // none found: primary group only
		for _, id := range ids {
			if g, err := strconv.ParseUint(id, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(g))
			}
		}
	}
	return u, cred, nil
}

// MinimalEnv is the environment of a program whose ProgramConfig.Env is
// nil: PATH=DefaultPath plus HOME, USER and LOGNAME of the user named name
// (or with uid name; "" = the gateway's own user). A user that cannot be
// looked up leaves PATH alone. Callers that add entries to the minimal
// environment start from it.
func MinimalEnv(name string) []string {
	u, _, err := lookupUser(name)
	if err != nil {
		u = nil
	}
	return defaultEnv(u)
}

// defaultEnv is the minimal environment of ProgramConfig.Env == nil.
func defaultEnv(u *user.User) []string {
	env := []string{"PATH=" + DefaultPath}
	if u != nil {
		env = append(env, "HOME="+u.HomeDir, "USER="+u.Username, "LOGNAME="+u.Username)
	}
	return env
}

func closeFiles(fs []*os.File) {
	for _, f := range fs {
		if f != nil {
			_ = f.Close()
		}
	}
}
