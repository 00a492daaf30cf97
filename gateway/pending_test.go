package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// startLogged is startHarness with the session's log in JSON lines.
func startLogged(t *testing.T, state string, tweak func(*sessionEnv, *fakeOps)) (*harness, *logLines) {
	t.Helper()
	ops := newFakeOps()
	conn := newFakeConn()
	env := testEnv(ops, conn, allSounds{})
	if tweak != nil {
		tweak(env, ops)
	}
	logs := &logLines{changed: make(chan struct{}, 1)}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := newSession(env, log, "s1", ari.Channel{ID: "c1", State: state, Language: "en"}, appSpec{preply: "/x"}, 64)
	ctx, cancel := context.WithCancel(context.Background())
	h := &harness{t: t, ops: ops, conn: conn, s: s, out: make(chan outcome, 1), ctx: ctx, stop: cancel}
	go func() { h.out <- s.run(ctx, context.Background()) }()
	t.Cleanup(func() {
		cancel()
		conn.cmdW.Close()
		select {
		case <-h.out:
		case <-time.After(5 * time.Second):
			t.Error("session did not end")
		}
	})
	return h, logs
}

// drainCalls empties the fake's call log until the test ends (floods make
// more calls than it buffers) and counts the sets.
func drainCalls(t *testing.T, ops *fakeOps) *atomic.Int64 {
	var sets atomic.Int64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case c := <-ops.calls:
				if len(c) > 4 && c[:4] == "set " {
					sets.Add(1)
				}
			case <-stop:
				return
			}
		}
	}()
	t.Cleanup(func() { close(stop); <-done })
	return &sets
}

// TestVFloodThrottledAtBound: a client writing V as fast as it can is
// held by back-pressure once maxPending calls are pending; nothing is
// dropped, and the dialplan sees every variable after E (issue 13 item 1).
func TestVFloodThrottledAtBound(t *testing.T) {
	const bound, n = 4, 600
	gate := make(chan struct{})
	h, logs := startLogged(t, "Up", func(env *sessionEnv, ops *fakeOps) {
		env.maxPending = bound
		ops.setGate = gate // every set blocks, as behind a playing file
	})
	drainCalls(t, h.ops)
	var written atomic.Int64
	wrote := make(chan error, 1)
	go func() {
		for i := range n {
			if _, err := fmt.Fprintf(h.conn.cmdW, "V,X%d=%d\n", i, i); err != nil {
				wrote <- err
				return
			}
			written.Add(1)
		}
		_, err := io.WriteString(h.conn.cmdW, "E,done\n")
		wrote <- err
	}()
	logs.wait(t, "pending channel operations at the bound")
	select {
	case err := <-wrote:
		t.Fatalf("the flooding client was not throttled: all %d lines written (%v)", n, err)
	default:
	}
	if w := written.Load(); w >= n {
		t.Fatalf("%d of %d lines written while the sets are blocked", w, n)
	}
	h.ops.mu.Lock()
	h.ops.setGate = nil
	h.ops.mu.Unlock()
	close(gate)
	if err := <-wrote; err != nil {
		t.Fatal(err)
	}
	h.expectLines("E,ts")
	o := h.outcome()
	if !errors.Is(o.cause, ErrClientExit) {
		t.Fatalf("outcome %+v", o)
	}
	if h.s.ctlPeak > bound {
		t.Errorf("%d control calls pending at once, bound %d", h.s.ctlPeak, bound)
	}
	h.ops.mu.Lock()
	defer h.ops.mu.Unlock()
	if len(h.ops.vars) != n {
		t.Errorf("%d of %d variables set before the dialplan continued", len(h.ops.vars), n)
	}
	for i := range n {
		if v := h.ops.vars[fmt.Sprintf("X%d", i)]; v != fmt.Sprint(i) {
			t.Fatalf("X%d = %q, want %d", i, v, i)
		}
	}
}

// TestVSameNameCoalesced: sets of one name queued behind a blocked one are
// merged into one call with the newest value; G reads the newest value.
func TestVSameNameCoalesced(t *testing.T) {
	gate := make(chan struct{})
	h, _ := startLogged(t, "Up", func(env *sessionEnv, ops *fakeOps) {
		env.maxPending = 4
		ops.setGate = gate
	})
	h.cmd("V,A=0")
	h.expectCalls("set A=0") // running, blocked
	for i := 1; i <= 100; i++ {
		h.cmd(fmt.Sprintf("V,A=%d", i))
	}
	h.cmd("G,A")
	h.expectLines("G,ts,A=100")
	close(gate)
	h.expectCalls("set A=100") // the 100 queued sets as one
	h.cmd("E,x")
	h.expectLines("E,ts")
	h.expectCalls("continue")
	h.outcome()
	if h.s.ctlPeak > 2 {
		t.Errorf("%d control calls pending at once for one name, want 2", h.s.ctlPeak)
	}
}

// TestFlushGivesUpWithoutProgress: sets that never complete (Asterisk
// stuck) hold the end only for flushTimeout without progress; they are
// counted as lost and the dialplan continues.
func TestFlushGivesUpWithoutProgress(t *testing.T) {
	gate := make(chan struct{})
	defer close(gate)
	var stats lifeStats
	h, logs := startLogged(t, "Up", func(env *sessionEnv, ops *fakeOps) {
		env.flushTimeout = 100 * time.Millisecond
		env.stats = &stats
		ops.setGate = gate
	})
	h.cmd("V,A=1,B=2", "E,x")
	h.expectLines("E,ts")
	h.expectCalls("set A=1")
	logs.wait(t, "pending channel operations did not finish in time")
	h.expectCalls("continue")
	if o := h.outcome(); !errors.Is(o.cause, ErrClientExit) {
		t.Fatalf("outcome %+v", o)
	}
	if n := stats.varsLost.Load(); n != 2 {
		t.Errorf("VarsLost = %d, want 2", n)
	}
}
