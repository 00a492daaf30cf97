package eivr

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// TestEventFormat_4_1: "%c,%10d[,data]\n" with a 32-bit timestamp
// (eivr-protocol.md §4.1, §10 Q15, Q32). 22.10.1 rows are from the recordings.
func TestEventFormat_4_1(t *testing.T) {
	tests := []struct {
		tag  byte
		ts   time.Time
		data string
		want string
	}{
		{'F', time.Unix(1795457122, 0), "beep", "F,1795457122,beep\n"}, // 22.10.1
		{'H', time.Unix(1795457145, 0), "", "H,1795457145\n"},          // 22.10.1
		{'5', time.Unix(1795457219, 0), "", "5,1795457219\n"},          // 22.10.1: DTMF
		{'I', time.Unix(1795457345, 0), DataHangup, "I,1795457345,HANGUP\n"},
		{'Z', time.Unix(1795457345, 999_999_999), "", "Z,1795457345\n"}, // whole seconds, not rounded
		{'H', time.Unix(999999999, 0), "", "H, 999999999\n"},            // before 2001-09-09: space padded
		{'H', time.Unix(5, 0), "", "H,         5\n"},
		{'H', time.Unix(0, 0), "", "H,         0\n"},
		{'H', time.Unix(-1, 0), "", "H,        -1\n"},
		{'H', time.Unix(math.MaxInt32, 0), "", "H,2147483647\n"},
		{'H', time.Unix(math.MaxInt32+1, 0), "", "H,-2147483648\n"}, // 2038: the int32 wraps
		{'G', time.Unix(1795457000, 0), "a=1,b=x\ny", "G,1795457000,a=1,b=x\ny\n"},
		{'P', time.Unix(1795457000, 0), ",a", "P,1795457000,,a\n"},
	}
	for _, tt := range tests {
		got := AppendEvent([]byte("prefix:"), tt.tag, tt.ts, tt.data)
		if string(got) != "prefix:"+tt.want {
			t.Errorf("AppendEvent(%q, %v, %q) = %q, want %q", tt.tag, tt.ts.Unix(), tt.data, got, tt.want)
		}
	}
}

// TestEvents_5: tags and the D ambiguity (§5).
func TestEvents_5(t *testing.T) {
	for _, c := range "0123456789*#ABCD" {
		if !IsDTMF(byte(c)) {
			t.Errorf("IsDTMF(%c) = false", c)
		}
	}
	for _, c := range "EFGHIPTZabcd,X" {
		if IsDTMF(byte(c)) {
			t.Errorf("IsDTMF(%c) = true", c)
		}
	}
	digit, err1 := ParseEvent([]byte("D,1795457219\n"))
	dropped, err2 := ParseEvent([]byte("D,1795457219,beep\n"))
	if err1 != nil || err2 != nil || digit.Data != "" || dropped.Data != "beep" {
		t.Errorf("D,<ts> = %+v, %v; D,<ts>,beep = %+v, %v", digit, err1, dropped, err2)
	}
}

// TestParseEvent: the client side; anything not written as Asterisk does is rejected.
func TestParseEvent(t *testing.T) {
	good := map[string]Event{
		"F,1795457122,beep\n":         {'F', 1795457122, "beep"},
		"F,1795457122,beep":           {'F', 1795457122, "beep"},
		"H,         5\n":              {'H', 5, ""},
		"H,-2147483648\n":             {'H', math.MinInt32, ""},
		"G,1795457000,a=1,b=2\n":      {'G', 1795457000, "a=1,b=2"},
		"T,1795457000,x\r\n":          {'T', 1795457000, "x\r"},
		"P,1795457000,,a\n":           {'P', 1795457000, ",a"},
		"G,1795457000,a=line1\nb=2\n": {'G', 1795457000, "a=line1\nb=2"},
	}
	for line, want := range good {
		ev, err := ParseEvent([]byte(line))
		if err != nil || ev != want {
			t.Errorf("ParseEvent(%q) = %+v, %v; want %+v", line, ev, err, want)
		}
		if !bytes.Equal(ev.Append(nil), []byte(strings.TrimSuffix(line, "\n")+"\n")) {
			t.Errorf("ParseEvent(%q).Append = %q", line, ev.Append(nil))
		}
	}
	for _, line := range []string{
		"", "H", "H,", "H1795457145", "H,1795457145,", "H,5\n", "H,0000000005\n", "H,+795457145",
		"H,        +5", "H, 1795457145", "H,2147483648", "H,-2147483649", "H,17954571x5", "H,        5 ",
	} {
		if ev, err := ParseEvent([]byte(line)); !errors.Is(err, ErrBadEvent) {
			t.Errorf("ParseEvent(%q) = %+v, %v; want ErrBadEvent", line, ev, err)
		}
	}
	if got := (Event{Unix: 1795457122}).Time(); !got.Equal(time.Unix(1795457122, 0)) {
		t.Errorf("Time() = %v", got)
	}
}

// TestGetReply_6_1: name=value items joined by ',', cut at 2047 bytes, one
// trailing ',' removed (§6.1, §10 Q13).
func TestGetReply_6_1(t *testing.T) {
	reply := func(kv ...string) string {
		var g GetReply
		for i := 0; i < len(kv); i += 2 {
			g.Add(kv[i], kv[i+1])
		}
		return g.String()
	}
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"none", reply(), ""},
		{"22.10.1 eivr-09", reply("a", "1", "b", "2"), "a=1,b=2"},
		{"22.10.1 functions unevaluated", reply("CHANNEL(state)", "", "PRESET", ""), "CHANNEL(state)=,PRESET="},
		{"empty names", reply("a", "", "", ""), "a=,="},
		{"raw values", reply("a", "x,y\nz"), "a=x,y\nz"},
		{"value ending in ','", reply("a", "x,"), "a=x,"},
		{"cap", reply("a", strings.Repeat("v", 3000)), "a=" + strings.Repeat("v", MaxGReply-2)},
		{"cap between items", reply("a", strings.Repeat("v", MaxGReply-3), "b", "1"), "a=" + strings.Repeat("v", MaxGReply-3)},
		{"cap cutting a name", reply("a", strings.Repeat("v", MaxGReply-4), "bcd", "1"), "a=" + strings.Repeat("v", MaxGReply-4) + ",b"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: %q (%d bytes), want %q (%d bytes)", tt.name, abbrevMiddle(tt.got), len(tt.got), abbrevMiddle(tt.want), len(tt.want))
		}
	}
	var g GetReply
	g.Add("x", "1")
	g.Reset()
	g.Add("y", "2")
	if g.String() != "y=2" {
		t.Errorf("after Reset: %q", g.String())
	}
}

func abbrevMiddle(s string) string {
	if len(s) > 40 {
		return s[:20] + "…" + s[len(s)-20:]
	}
	return s
}

func FuzzAppendEvent(f *testing.F) {
	f.Add(byte('F'), int64(1795457122), "beep")
	f.Add(byte('H'), int64(-1), "")
	f.Add(byte('G'), int64(1<<40), "a=1,\nb")
	f.Fuzz(func(t *testing.T, tag byte, sec int64, data string) {
		line := AppendEvent(nil, tag, time.Unix(sec, 0), data)
		ev, err := ParseEvent(line)
		if err != nil {
			t.Fatalf("ParseEvent(AppendEvent(%q, %d, %q) = %q): %v", tag, sec, data, line, err)
		}
		if ev.Tag != tag || ev.Unix != int32(sec) || ev.Data != data {
			t.Fatalf("round trip of %q, %d, %q: %+v", tag, sec, data, ev)
		}
		if !bytes.Equal(ev.Append(nil), line) {
			t.Fatalf("Append %q, want %q", ev.Append(nil), line)
		}
	})
}

func FuzzParseEvent(f *testing.F) {
	for _, s := range []string{"F,1795457122,beep\n", "H,         5", "H,-2147483648", "G,1795457000,a=1,b\n2\n", "x,y"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		ev, err := ParseEvent(line)
		if err != nil {
			return
		}
		want := append(bytes.TrimSuffix(bytes.Clone(line), []byte{'\n'}), '\n')
		if got := ev.Append(nil); !bytes.Equal(got, want) {
			t.Fatalf("ParseEvent(%q) = %+v, which formats as %q", line, ev, got)
		}
	})
}

func BenchmarkAppendEvent(b *testing.B) {
	buf := make([]byte, 0, 128)
	ts := time.Unix(1795457122, 0)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEvent(buf[:0], TagFinished, ts, "hello-world")
	}
}

// BenchmarkAppendEventNow includes reading the clock, as a session does.
func BenchmarkAppendEventNow(b *testing.B) {
	buf := make([]byte, 0, 128)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEvent(buf[:0], '5', time.Now(), "")
	}
}
