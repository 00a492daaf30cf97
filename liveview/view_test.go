package liveview

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/gateway"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// clock is a settable clock for Options.Now.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func info(n int) gateway.SessionInfo {
	return gateway.SessionInfo{
		App: "eivr", Channel: fmt.Sprintf("ch-%d", n), ChannelName: fmt.Sprintf("PJSIP/100%d-0000000%d", n, n),
		Session: fmt.Sprintf("s%d", n), CallerNum: "100" + fmt.Sprint(n), CallerName: "Alice",
		Target: "/usr/lib/ivr/menu.pl", Argv: []string{"/usr/lib/ivr/menu.pl", "hello"}, Started: t0,
	}
}

func sessions(cs []Call) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Session+":"+c.State)
	}
	return strings.Join(s, " ")
}

func TestViewModel(t *testing.T) {
	errHung := errors.New("caller hung up")
	tests := []struct {
		name string
		opt  Options
		run  func(v *View, c *clock)
		want string // sessions:state of the snapshot, oldest first
	}{
		{"started", Options{}, func(v *View, c *clock) {
			v.SessionStarted(info(1))
		}, "s1:in script"},
		{"playing then played", Options{}, func(v *View, c *clock) {
			v.SessionStarted(info(1))
			v.SessionPlayback(gateway.PlaybackNote{Session: "s1", File: "hello", Started: true})
			v.SessionStarted(info(2))
			v.SessionPlayback(gateway.PlaybackNote{Session: "s2", File: "beep", Started: true})
			v.SessionPlayback(gateway.PlaybackNote{Session: "s2", File: "beep"})
		}, "s1:playing hello s2:in script"},
		{"ended lingers", Options{Linger: 10 * time.Second}, func(v *View, c *clock) {
			v.SessionStarted(info(1))
			v.SessionEnded(gateway.Report{Session: "s1", Served: true, Cause: errHung, Started: t0})
			c.add(9 * time.Second)
		}, "s1:ended"},
		{"ended goes after linger", Options{Linger: 10 * time.Second}, func(v *View, c *clock) {
			v.SessionStarted(info(1))
			v.SessionStarted(info(2))
			v.SessionEnded(gateway.Report{Session: "s1", Served: true, Started: t0})
			c.add(10 * time.Second)
		}, "s2:in script"},
		{"refused shows", Options{}, func(v *View, c *clock) {
			v.SessionEnded(gateway.Report{Session: "s9", Channel: "ch-9", App: "eivr", Status: "NOTALLOWED"})
		}, "s9:refused"},
		{"max calls drops the oldest ended first", Options{MaxCalls: 2}, func(v *View, c *clock) {
			v.SessionStarted(info(1))
			v.SessionStarted(info(2))
			v.SessionEnded(gateway.Report{Session: "s2", Served: true})
			v.SessionStarted(info(3))
		}, "s1:in script s3:in script"},
		{"max calls then drops the oldest live", Options{MaxCalls: 2}, func(v *View, c *clock) {
			v.SessionStarted(info(1))
			v.SessionStarted(info(2))
			v.SessionStarted(info(3))
		}, "s2:in script s3:in script"},
		{"lines of an unknown session are ignored", Options{}, func(v *View, c *clock) {
			v.SessionLine(gateway.WireLine{Session: "nope", Line: "S,beep"})
			v.SessionPlayback(gateway.PlaybackNote{Session: "nope", File: "beep", Started: true})
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &clock{t: t0}
			tt.opt.Now = c.now
			v := New(tt.opt)
			tt.run(v, c)
			if got := sessions(v.Snapshot()); got != tt.want {
				t.Errorf("snapshot %q, want %q", got, tt.want)
			}
		})
	}
}

func TestViewLines(t *testing.T) {
	v := New(Options{MaxLines: 3, Redact: func(w gateway.WireLine) gateway.WireLine {
		if w.Sent && len(w.Line) > 0 && w.Line[0] >= '0' && w.Line[0] <= '9' {
			w.Line = "*" + w.Line[1:]
		}
		return w
	}})
	v.SessionStarted(info(1))
	v.SessionLine(gateway.WireLine{Session: "s1", Line: "S,hello"})
	v.SessionPlayback(gateway.PlaybackNote{Session: "s1", File: "hello", Started: true})
	v.SessionLine(gateway.WireLine{Session: "s1", Sent: true, Line: "4,1764763200"})
	v.SessionPlayback(gateway.PlaybackNote{Session: "s1", File: "hello", Interrupted: true})
	snap := v.Snapshot()
	if len(snap) != 1 {
		t.Fatalf("snapshot: %+v", snap)
	}
	var got []string
	for _, l := range snap[0].Lines {
		got = append(got, l.Dir+" "+l.Text)
	}
	want := "note playing hello|to *,1764763200|note stopped hello"
	if strings.Join(got, "|") != want || snap[0].Dropped != 1 {
		t.Errorf("lines %q (dropped %d), want %q (dropped 1)", strings.Join(got, "|"), snap[0].Dropped, want)
	}
	if snap[0].Args[0] != "hello" || snap[0].CallerNum != "1001" || snap[0].State != "in script" {
		t.Errorf("call %+v", snap[0])
	}
}

// next returns the subscriber's next event; the test fails if none is
// queued (every event here is queued by a call that already returned).
func next(t *testing.T, s *Sub) Event {
	t.Helper()
	select {
	case ev, ok := <-s.Events():
		if !ok {
			t.Fatalf("stream closed: %v", s.Err())
		}
		return ev
	default:
		t.Fatal("no event queued")
	}
	return Event{}
}

func TestViewSubscribe(t *testing.T) {
	v := New(Options{})
	v.SessionStarted(info(1))
	v.SessionLine(gateway.WireLine{Session: "s1", Line: "S,hello"})
	s, err := v.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	hello := next(t, s)
	if hello.Type != "hello" || len(hello.Calls) != 1 || len(hello.Calls[0].Lines) != 1 || hello.Linger != DefaultLinger.Milliseconds() {
		t.Fatalf("hello %+v", hello)
	}
	v.SessionLine(gateway.WireLine{Session: "s1", Sent: true, Line: "1,1764763200"})
	v.SessionEnded(gateway.Report{Session: "s1", Served: true, Status: "SUCCESS"})
	line, ended := next(t, s), next(t, s)
	if line.Type != "line" || line.Line.Text != "1,1764763200" || line.Line.Dir != "to" || line.Seq != hello.Seq+1 {
		t.Errorf("line %+v (hello seq %d)", line, hello.Seq)
	}
	if ended.Type != "call" || ended.Call.State != "ended" || ended.Call.Status != "SUCCESS" || ended.Seq != line.Seq+1 {
		t.Errorf("ended %+v", ended)
	}
}

func TestViewCutsSlowSubscriber(t *testing.T) {
	v := New(Options{Buffer: 4})
	slow, err := v.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	fast, err := v.Subscribe()
	if err != nil {
		t.Fatal(err)
	}
	defer fast.Close()
	v.SessionStarted(info(1))
	next(t, fast) // hello
	next(t, fast) // the call
	for i := range 10 {
		v.SessionLine(gateway.WireLine{Session: "s1", Line: fmt.Sprintf("L,%d", i)})
		next(t, fast)
	}
	n := 0
	for range slow.Events() { // closed once cut off: the loop ends
		n++
	}
	if !errors.Is(slow.Err(), ErrSlow) || n != 5 {
		t.Errorf("slow subscriber: %d events then %v, want 5 then ErrSlow", n, slow.Err())
	}
	slow.Close() // after being cut off: nothing
	v.Close()
	if _, ok := <-fast.Events(); ok || !errors.Is(fast.Err(), ErrClosed) {
		t.Errorf("after Close: %v", fast.Err())
	}
	if _, err := v.Subscribe(); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v", err)
	}
}

// TestViewConcurrent: sessions and subscribers at once (for -race).
func TestViewConcurrent(t *testing.T) {
	v := New(Options{MaxCalls: 8, MaxLines: 16})
	var wg sync.WaitGroup
	for n := range 8 {
		wg.Go(func() {
			v.SessionStarted(info(n))
			for i := range 50 {
				v.SessionLine(gateway.WireLine{Session: info(n).Session, Line: fmt.Sprint("L,", i)})
			}
			v.SessionEnded(gateway.Report{Session: info(n).Session, Served: true})
		})
	}
	for range 2 {
		wg.Go(func() {
			s, err := v.Subscribe()
			if err != nil {
				t.Error(err)
				return
			}
			defer s.Close()
			for range 20 {
				v.Snapshot()
			}
		})
	}
	wg.Wait()
	if got := len(v.Snapshot()); got != 8 {
		t.Errorf("%d calls kept, want 8", got)
	}
}
