package transcript

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// fakeCall drives an Observer as a session would.
type fakeCall struct {
	obs   gateway.Observer
	info  gateway.SessionInfo
	start time.Time
}

func newFakeCall(obs gateway.Observer, app, id string) *fakeCall {
	start := time.Now()
	c := &fakeCall{obs: obs, start: start, info: gateway.SessionInfo{
		App: app, Channel: "ch-" + id, ChannelName: "PJSIP/1000-" + id, Session: id,
		CallerNum: "1000", Target: "/ivr/menu.pl", Argv: []string{"/ivr/menu.pl", "hello-world"},
		Options: "i", Started: start,
	}}
	obs.SessionStarted(c.info)
	return c
}

func (c *fakeCall) at(ms int) time.Time { return c.start.Add(time.Duration(ms) * time.Millisecond) }

func (c *fakeCall) cmd(ms int, line string) {
	c.obs.SessionLine(gateway.WireLine{Channel: c.info.Channel, Session: c.info.Session, Line: line, At: c.at(ms)})
}

func (c *fakeCall) event(ms int, line string) {
	c.obs.SessionLine(gateway.WireLine{Channel: c.info.Channel, Session: c.info.Session, Sent: true, Line: line, At: c.at(ms)})
}

func (c *fakeCall) play(ms int, file string, started, interrupted bool) {
	c.obs.SessionPlayback(gateway.PlaybackNote{Channel: c.info.Channel, Session: c.info.Session, File: file,
		Started: started, Interrupted: interrupted, At: c.at(ms)})
}

func (c *fakeCall) end(ms int, cause error) {
	c.obs.SessionEnded(gateway.Report{App: c.info.App, Channel: c.info.Channel, Session: c.info.Session,
		Served: true, Cause: cause, Started: c.start, Duration: time.Duration(ms) * time.Millisecond})
}

func closeRecorder(t *testing.T, r *Recorder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testwait.Long)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func readOnly(t *testing.T, dir string) (*Transcript, string) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("files in %s: %v, want one", dir, files)
	}
	f, err := os.Open(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return tr, files[0]
}

func TestRecorderWritesACall(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "transcripts")
	r, err := New(map[string]AppConfig{"eivr": {Dir: dir, Redaction: Redaction{DTMF: true, Vars: []string{"pin"}}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newFakeCall(r, "eivr", "s1")
	other := newFakeCall(r, "not-recorded", "s2") // an app without transcripts
	c.cmd(1, "O,autoclear")
	c.cmd(2, "S,hello-world")
	c.play(3, "hello-world", true, false)
	c.event(1500, "1,1732355012")
	c.event(1501, "T,1732355012,hello-world")
	c.play(1502, "hello-world", false, true)
	c.cmd(1600, "V,PIN=1234,LANG=en")
	c.cmd(1601, "G,PIN,LANG")
	c.event(1602, "G,1732355013,PIN=12,34,LANG=en")
	c.cmd(1603, "D,5678,100")
	c.event(2000, "H,1732355014")
	c.end(2001, gateway.ErrHangup)
	other.cmd(1, "S,x")
	other.end(2, nil)
	closeRecorder(t, r)

	tr, path := readOnly(t, dir)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode: %v %v, want 0600", fi.Mode(), err)
	}
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode: %v %v, want 0700", fi.Mode(), err)
	}
	h := tr.Header
	if h.App != "eivr" || h.Session != "s1" || h.Options != "i" || strings.Join(h.Argv, " ") != "/ivr/menu.pl hello-world" || !h.Redaction.DTMF {
		t.Errorf("header %+v", h)
	}
	var got []string
	for _, rec := range tr.Records {
		s := fmt.Sprintf("%d %s", rec.US/1000, rec.Type)
		switch rec.Type {
		case TypeCommand, TypeEvent:
			s += " " + rec.Line
			if rec.Caller != "" {
				s += " caller=" + rec.Caller
			}
		case TypePlay, TypePlayed:
			s += " " + rec.File
			if rec.Interrupted {
				s += " interrupted"
			}
		case TypeEnd:
			s += fmt.Sprintf(" served=%v cause=%v dropped=%d", rec.Served, rec.Cause != "", rec.Dropped)
		}
		got = append(got, s)
	}
	want := []string{
		"1 command O,autoclear",
		"2 command S,hello-world",
		"3 play hello-world",
		"1500 event X,1732355012 caller=dtmf",
		"1501 event T,1732355012,hello-world",
		"1502 played hello-world interrupted",
		"1600 command V,PIN=[redacted],LANG=en",
		"1601 command G,PIN,LANG",
		"1602 event G,1732355013,PIN=[redacted],LANG=en",
		"1603 command D,XXXX,100",
		"2000 event H,1732355014 caller=hangup",
		`2001 end served=true cause=true dropped=0`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if st := r.Stats(); st.Files != 1 || st.Records != 11 || st.Dropped != 0 || st.Errors != 0 {
		t.Errorf("stats %+v", st)
	}
}

// An H event after the script's H command is its echo, not the caller.
func TestRecorderHEcho(t *testing.T) {
	dir := t.TempDir()
	r, err := New(map[string]AppConfig{"eivr": {Dir: dir}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newFakeCall(r, "eivr", "s1")
	c.event(1, "5,1732355012")
	c.cmd(2, "H,bye")
	c.event(3, "H,1732355012")
	c.end(4, gateway.ErrClientHangup)
	closeRecorder(t, r)
	tr, _ := readOnly(t, dir)
	if tr.Records[0].Caller != CallerDTMF || tr.Records[0].Line != "5,1732355012" || tr.Records[2].Caller != "" {
		t.Errorf("records %+v", tr.Records)
	}
}

// A full queue drops records without blocking; the end record says how
// many, and the log too.
func TestRecorderQueueFullDrops(t *testing.T) {
	dir := t.TempDir()
	var logBuf syncBuffer
	r, err := newRecorder(map[string]AppConfig{"eivr": {Dir: dir, Queue: 4}}, slog.New(slog.NewTextHandler(&logBuf, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// No writer yet: nothing leaves the queue.
	c := newFakeCall(r, "eivr", "s1") // the header: 1
	for i := range 10 {
		c.cmd(i, fmt.Sprintf("L,line %d", i)) // 3 fit, 7 dropped
	}
	c.end(20, nil) // always queued
	go r.writer()
	closeRecorder(t, r)
	tr, _ := readOnly(t, dir)
	if len(tr.Records) != 4 {
		t.Fatalf("records %+v, want 3 lines and the end", tr.Records)
	}
	end, ok := tr.End()
	if !ok || end.Dropped != 7 {
		t.Errorf("end %+v, want dropped 7", end)
	}
	if st := r.Stats(); st.Dropped != 7 {
		t.Errorf("stats %+v", st)
	}
	if !strings.Contains(logBuf.String(), "records dropped") || !strings.Contains(logBuf.String(), "session=s1") {
		t.Errorf("log: %s", logBuf.String())
	}
}

func TestRecorderSizeBound(t *testing.T) {
	dir := t.TempDir()
	const maxBytes = 4096
	r, err := New(map[string]AppConfig{"eivr": {Dir: dir, MaxBytes: maxBytes}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newFakeCall(r, "eivr", "s1")
	for i := range 200 {
		c.cmd(i, "L,"+strings.Repeat("x", 50))
	}
	c.end(300, nil)
	closeRecorder(t, r)
	tr, path := readOnly(t, dir)
	fi, _ := os.Stat(path)
	if fi.Size() > maxBytes {
		t.Errorf("size %d > %d", fi.Size(), maxBytes)
	}
	end, ok := tr.End()
	if !ok || !end.Truncated || end.Dropped == 0 || end.Dropped+int64(len(tr.Records)-1) != 200 {
		t.Errorf("end %+v with %d records", end, len(tr.Records))
	}
}

// Sessions still running when the recorder closes get an end record
// saying so.
func TestRecorderCloseEndsOpenFiles(t *testing.T) {
	dir := t.TempDir()
	r, err := New(map[string]AppConfig{"eivr": {Dir: dir}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newFakeCall(r, "eivr", "s1")
	c.cmd(1, "S,x")
	closeRecorder(t, r)
	c.cmd(2, "S,y") // after Close: ignored
	c.end(3, nil)
	tr, _ := readOnly(t, dir)
	end, ok := tr.End()
	if !ok || !strings.Contains(end.Cause, "closed") || len(tr.Records) != 2 {
		t.Errorf("records %+v", tr.Records)
	}
}

func TestRotation(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-48 * time.Hour)
	for i := range 6 {
		p := filepath.Join(dir, fmt.Sprintf("2026010%dT000000.000000Z-s%d.jsonl", i+1, i))
		if err := os.WriteFile(p, []byte("{}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if i == 4 { // recent by name, old by age
			if err := os.Chtimes(p, old, old); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := New(map[string]AppConfig{"eivr": {Dir: dir, Keep: 3, MaxAge: 24 * time.Hour}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	closeRecorder(t, r)
	var left []string
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := "20260104T000000.000000Z-s3.jsonl 20260106T000000.000000Z-s5.jsonl notes.txt"
	if strings.Join(left, " ") != want {
		t.Errorf("left %v, want %s", left, want)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, c := range map[string]AppConfig{
		"no dir":    {},
		"negative":  {Dir: t.TempDir(), Keep: -1},
		"too small": {Dir: t.TempDir(), MaxBytes: 100},
	} {
		if _, err := New(map[string]AppConfig{"eivr": c}, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// BenchmarkSessionLine is the cost a session pays per line recorded.
func BenchmarkSessionLine(b *testing.B) {
	r, err := New(map[string]AppConfig{"eivr": {Dir: b.TempDir(), Queue: 1 << 20, MaxBytes: 1 << 30}}, nil)
	if err != nil {
		b.Fatal(err)
	}
	c := newFakeCall(r, "eivr", "s1")
	l := gateway.WireLine{Channel: c.info.Channel, Session: "s1", Sent: true, Line: "F,1732355012,hello-world", At: time.Now()}
	b.ReportAllocs()
	for b.Loop() {
		r.SessionLine(l)
	}
	b.StopTimer()
	c.end(1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.Close(ctx); err != nil {
		b.Fatal(err)
	}
}
