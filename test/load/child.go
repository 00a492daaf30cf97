package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/reorder"
)

// childEnv names the environment variable that turns this binary (the
// program or the test binary) into the gateway child; its value is the
// JSON of childConfig.
const childEnv = "EIVR_LOAD_GATEWAY"

const app = "eivr"

type childConfig struct {
	URL      string
	Programs []string
	TCPHosts []string
}

// gwStats is what the child reports on "stats" (after a GC).
type gwStats struct {
	HeapAlloc  uint64 // live heap after GC
	StackInuse uint64
	Sys        uint64
	Goroutines int
	Sessions   int
	CPU        time.Duration // user+sys of the gateway process since start
	MaxRSSKiB  int64
	ARI        ari.Stats
}

// isChild reports whether this process was started as the gateway child.
func isChild() bool { return os.Getenv(childEnv) != "" }

// runChild runs the gateway until stdin closes, answering "stats" lines on
// stdout. Logs (warnings and worse) go to stderr.
func runChild() int {
	var cfg childConfig
	if err := json.Unmarshal([]byte(os.Getenv(childEnv)), &cfg); err != nil {
		fmt.Fprintln(os.Stderr, "load child:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	client, err := ari.NewClient(ari.Config{
		URL: cfg.URL, Username: "asterisk", Password: "asterisk", Apps: []string{app},
		Logger: log, BackoffMin: 20 * time.Millisecond, BackoffMax: 200 * time.Millisecond,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "load child:", err)
		return 2
	}
	defer client.Close()
	gw, err := gateway.New(gateway.Config{
		Apps:   []gateway.AppConfig{{Name: app, Programs: cfg.Programs, TCPHosts: cfg.TCPHosts, Grace: time.Second}},
		Logger: log,
	}, client)
	if err != nil {
		fmt.Fprintln(os.Stderr, "load child:", err)
		return 2
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gateway.NewPipeline(client, gw, reorder.Config{}).Run(ctx) }()

	out := json.NewEncoder(os.Stdout)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		switch in.Text() {
		case "ready":
			for !gw.Ready() {
				time.Sleep(5 * time.Millisecond)
			}
			fmt.Println(`"ready"`)
		case "stats":
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			var ru syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
			out.Encode(gwStats{
				HeapAlloc: ms.HeapAlloc, StackInuse: ms.StackInuse, Sys: ms.Sys,
				Goroutines: runtime.NumGoroutine(), Sessions: gw.Sessions(),
				CPU:       time.Duration(ru.Utime.Nano() + ru.Stime.Nano()),
				MaxRSSKiB: ru.Maxrss, ARI: client.Stats(),
			})
		}
	}
	cancel()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "load child: gateway:", err)
		return 1
	}
	return 0
}

// child is the parent's handle on the gateway process.
type child struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *json.Decoder
	mu  sync.Mutex
}

func startChild(cfg childConfig, stderr io.Writer) (*child, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	js, _ := json.Marshal(cfg)
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+string(js))
	cmd.Stderr = stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, in: in, out: json.NewDecoder(out)}
	var ready string
	if err := c.ask("ready", &ready); err != nil {
		c.stop()
		return nil, fmt.Errorf("gateway child: %w", err)
	}
	return c, nil
}

func (c *child) ask(q string, v any) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.in, q+"\n"); err != nil {
		return err
	}
	return c.out.Decode(v)
}

func (c *child) stats() (gwStats, error) {
	var s gwStats
	err := c.ask("stats", &s)
	return s, err
}

// stop closes the child's stdin (it drains and exits) and waits for it,
// killing it after 30 s.
func (c *child) stop() error {
	c.in.Close()
	done := make(chan error, 1)
	go func() { done <- c.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		return fmt.Errorf("gateway child did not exit: %w", <-done)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	return len(p), nil
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b)
}
