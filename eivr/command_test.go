package eivr

import (
	"bytes"

	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// cmdLine is a Command with a comparable Param, for tables.
type cmdLine struct {
	letter byte
	param  string
}

func (c cmdLine) String() string { return fmt.Sprintf("%q,%q", c.letter, c.param) }

// readCommands runs Next to the end of rd.
func readCommands(t *testing.T, rd io.Reader) ([]cmdLine, error) {
	t.Helper()
	r := NewReader(rd)
	var got []cmdLine
	for {
		c, err := r.Next()
		if err != nil {
			return got, err
		}
		got = append(got, cmdLine{c.Letter, string(c.Param)})
	}
}

// TestCommandFraming_4_2: line reading and interpretation (eivr-protocol.md
// §4.2, §10 Q3–Q7). Rows marked 22.10.1 are eivr-10-L-P-unknown-short-D.log.
func TestCommandFraming_4_2(t *testing.T) {
	long := func(n int, b byte) string { return strings.Repeat(string(b), n) }
	tests := []struct {
		name string
		in   string
		want []cmdLine
	}{
		{"plain", "S,beep\n", []cmdLine{{'S', "beep"}}},
		{"CRLF (22.10.1)", "A,beep\r\n", []cmdLine{{'A', "beep"}}},
		{"trailing controls stripped", "S,beep \t\x01\x1f\n", []cmdLine{{'S', "beep"}}},
		{"leading blanks: ignored (22.10.1)", "   S,beep   \n", nil},
		{"leading tab: ignored", "\tS,beep\n", nil},
		{"too short (22.10.1)", "P\nP,\nS,\nxx\nx\n\r\n\n", nil},
		{"short after trimming", "E, \n", nil},
		{"unknown letters surfaced (22.10.1)", "Q,unknown-command\nZ,also-unknown\ns,beep\n,,,\n",
			[]cmdLine{{'Q', "unknown-command"}, {'Z', "also-unknown"}, {'s', "beep"}, {',', ","}}},
		{"byte 1 not checked", "S foo\nSxfoo\n", []cmdLine{{'S', "foo"}, {'S', "foo"}}},
		{"param from offset 2", "S,,foo\nS, foo\nE,a,b\n", []cmdLine{{'S', ",foo"}, {'S', " foo"}, {'E', "a,b"}}},
		{"one character suffices", "I,x\nT,x\nP,x\n", []cmdLine{{'I', "x"}, {'T', "x"}, {'P', "x"}}},
		{"NUL ends the line", "S,ab\x00cd\n\x00S,foo\nS,\x00abc\n", []cmdLine{{'S', "ab"}}},
		{"CR is not a line end", "S,beep\rA,x\r\n", []cmdLine{{'S', "beep\rA,x"}}},
		{"invalid UTF-8 passed raw", "S,\xff\xfe\n", []cmdLine{{'S', "\xff\xfe"}}},
		{"last line without newline", "S,a\nE,bye", []cmdLine{{'S', "a"}, {'E', "bye"}}},
		{"several lines at once", "S,a\nA,b\nA,c\n", []cmdLine{{'S', "a"}, {'A', "b"}, {'A', "c"}}},
		{"1022 bytes + LF: whole", "L," + long(1020, 'x') + "\n", []cmdLine{{'L', long(1020, 'x')}}},
		{"1023 bytes + LF: whole, then an empty line", "L," + long(1021, 'x') + "\nS,a\n",
			[]cmdLine{{'L', long(1021, 'x')}, {'S', "a"}}},
		{"2001-byte line: cut at 1023, the rest is another command (22.10.1 eivr-11)", "L," + long(1999, 'x') + "\n",
			[]cmdLine{{'L', long(1021, 'x')}, {'x', long(976, 'x')}}},
		{"the tail of a cut line may be a command (22.10.1 eivr-11)", "G," + strings.Repeat("PRESET,", 200)[:1021] + "PRESET,X\n",
			[]cmdLine{{'G', strings.Repeat("PRESET,", 200)[:1021]}, {'P', "ESET,X"}}},
		{"cut pieces of 1023 each", long(1023*3, 'S'), []cmdLine{{'S', long(1021, 'S')}, {'S', long(1021, 'S')}, {'S', long(1021, 'S')}}},
		{"trailing blanks of a cut piece", "S," + long(1021, ' '), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, rd := range chunkings(tt.in) {
				got, err := readCommands(t, rd.r)
				if err != io.EOF {
					t.Errorf("%s: error %v, want io.EOF", rd.name, err)
				}
				if !slices.Equal(got, tt.want) {
					t.Errorf("%s: %q\n got %v\nwant %v", rd.name, tt.in, got, tt.want)
				}
			}
		})
	}
}

type chunking struct {
	name string
	r    io.Reader
}

// chunkings gives s in several chunkings: the result must not depend on them.
func chunkings(s string) []chunking {
	return []chunking{
		{"whole", strings.NewReader(s)},
		{"one byte", iotest.OneByteReader(strings.NewReader(s))},
		{"half", iotest.HalfReader(strings.NewReader(s))},
		{"EOF with data", iotest.DataErrReader(strings.NewReader(s))},
	}
}

// TestParseCommand_4_2: the interpretation of one line.
func TestParseCommand_4_2(t *testing.T) {
	tests := []struct {
		line  string
		want  cmdLine
		ok    bool
		known bool
	}{
		{"S,beep\n", cmdLine{'S', "beep"}, true, true},
		{"X,bye", cmdLine{'X', "bye"}, true, true},
		{"D,12,100", cmdLine{'D', "12,100"}, true, true},
		{"q,x", cmdLine{'q', "x"}, true, false},
		{"\x7f,x", cmdLine{'\x7f', "x"}, true, false},
		{"\xc3,x", cmdLine{'\xc3', "x"}, true, false},
		{"S,", cmdLine{}, false, false},
		{" S,x", cmdLine{}, false, false},
		{"\x00S,x", cmdLine{}, false, false},
		{"", cmdLine{}, false, false},
	}
	for _, tt := range tests {
		c, ok := ParseCommand([]byte(tt.line))
		if got := (cmdLine{c.Letter, string(c.Param)}); got != tt.want || ok != tt.ok || c.Known() != tt.known {
			t.Errorf("ParseCommand(%q) = %v, %v (known %v); want %v, %v (known %v)", tt.line, got, ok, c.Known(), tt.want, tt.ok, tt.known)
		}
	}
	for _, l := range "SAIHEOVGLPTDX" {
		if !(Command{Letter: byte(l)}).Known() {
			t.Errorf("%c is not Known", l)
		}
	}
	var guarded, ending string
	for l := range 256 {
		c := Command{Letter: byte(l)}
		if c.UpGuarded() {
			guarded += string(c.Letter)
		}
		if c.EndsSession() {
			ending += string(c.Letter)
		}
	}
	if guarded != "AIOS" || ending != "EHX" {
		t.Errorf("Up-guarded %q, want AIOS (§6); ending %q, want EHX (§8.3)", guarded, ending)
	}
	if c := (Command{Letter: 'S', Param: []byte("foo,bar")}); c.File() != "foo,bar" || c.Message() != "foo,bar" || c.String() != "S,foo,bar" {
		t.Errorf("File %q Message %q String %q", c.File(), c.Message(), c.String())
	}
	if c := (Command{Letter: 0xc3, Param: []byte("\xa9")}); c.String() != "\xc3,\xa9" {
		t.Errorf("String of a non-ASCII letter %q, want the bytes as written", c.String())
	}
}

// TestCommandTable: one row per letter Asterisk executes (§6), each keyed
// by its own letter; Lookup, Known, UpGuarded and EndsSession read it.
func TestCommandTable(t *testing.T) {
	var letters string
	names := map[string]bool{}
	for c := range Commands() {
		letters += string(c.Letter)
		if got, ok := Lookup(c.Letter); !ok || got != c {
			t.Errorf("Lookup(%c) = %+v, %v; want its row %+v", c.Letter, got, ok, c)
		}
		if c.Name == "" || names[c.Name] {
			t.Errorf("%c: name %q empty or not unique", c.Letter, c.Name)
		}
		names[c.Name] = true
	}
	if letters != "ADEGHILOPSTVX" {
		t.Errorf("table letters %q, want ADEGHILOPSTVX", letters)
	}
	tests := []struct {
		letter byte
		known  bool
	}{
		{'S', true}, {'X', true}, {'A', true}, {'D', true},
		{'Q', false}, {'s', false}, {0, false}, {'Y', false}, {'Z', false}, {0xff, false}, {'B', false},
	}
	for _, tt := range tests {
		_, ok := Lookup(tt.letter)
		c := Command{Letter: tt.letter}
		if ok != tt.known || c.Known() != tt.known || (!tt.known && (c.Spec() != Spec{} || c.UpGuarded() || c.EndsSession())) {
			t.Errorf("letter %q: Lookup ok %v, Known %v, Spec %+v; want known %v", tt.letter, ok, c.Known(), c.Spec(), tt.known)
		}
	}
}

// chunkReader returns one queued chunk per Read, blocking until one is
// queued or it is closed: a client's pipe, with every write visible.
type chunkReader struct {
	chunks chan []byte
	mu     sync.Mutex
	reads  int
}

func newChunkReader() *chunkReader { return &chunkReader{chunks: make(chan []byte, 100)} }

func (c *chunkReader) Read(p []byte) (int, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	b, ok := <-c.chunks
	if !ok {
		return 0, io.EOF
	}
	if len(b) > len(p) {
		panic("chunk larger than the read buffer")
	}
	return copy(p, b), nil
}

func (c *chunkReader) Reads() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

// TestNoStall_Q1: lines written together are all returned without waiting
// for more input (§10 Q1, asterisk#2148: 22.10.1 ran only the first of
// S,beep A,hello-world A,beep written at once, eivr-00a).
func TestNoStall_Q1(t *testing.T) {
	src := newChunkReader()
	defer close(src.chunks)
	src.chunks <- []byte("S,beep\nA,hello-world\nA,beep\n")
	r := NewReader(src)
	for _, want := range []cmdLine{{'S', "beep"}, {'A', "hello-world"}, {'A', "beep"}} {
		c, err := r.Next()
		if err != nil || (cmdLine{c.Letter, string(c.Param)}) != want {
			t.Fatalf("Next = %v, %v; want %v", c, err, want)
		}
	}
	if n := src.Reads(); n != 1 {
		t.Errorf("the three commands took %d reads; want 1 (no waiting for more input)", n)
	}
}

// TestPartialLine_Q2: a line without '\n' does not hold back the complete
// lines before it, and completes when the rest arrives (§10 Q2: 22.10.1
// blocked the channel 3.2 s on "A,be", eivr-23).
func TestPartialLine_Q2(t *testing.T) {
	src := newChunkReader()
	src.chunks <- []byte("S,hello-world\nA,be")
	r := NewReader(src)
	c, err := r.Next()
	if err != nil || string(c.Param) != "hello-world" {
		t.Fatalf("Next = %v, %v; want S,hello-world", c, err)
	}
	type result struct {
		c   cmdLine
		err error
	}
	done := make(chan result)
	go func() {
		c, err := r.Next()
		done <- result{cmdLine{c.Letter, string(c.Param)}, err}
	}()
	src.chunks <- []byte("ep\n")
	select {
	case res := <-done:
		if res.err != nil || res.c != (cmdLine{'A', "beep"}) {
			t.Errorf("Next = %v, %v; want A,beep", res.c, res.err)
		}
	case <-time.After(testwait.Long):
		t.Fatal("the completed line was not returned")
	}
	close(src.chunks)
	if _, err := r.Next(); err != io.EOF {
		t.Errorf("at the end: %v, want io.EOF", err)
	}
}

// TestReaderErrors: EOF and read errors.
func TestReaderErrors(t *testing.T) {
	if _, err := NewReader(strings.NewReader("")).Next(); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF", err)
	}
	// a script that closes stdout at once after a partial line
	got, err := readCommands(t, strings.NewReader("E,bye"))
	if err != io.EOF || !slices.Equal(got, []cmdLine{{'E', "bye"}}) {
		t.Errorf("unterminated last line: %v, %v", got, err)
	}
	boom := errors.New("boom")
	r := NewReader(io.MultiReader(strings.NewReader("S,a\nA,b"), iotest.ErrReader(boom)))
	var cmds []cmdLine
	for {
		c, err := r.Next()
		if err != nil {
			if !errors.Is(err, boom) {
				t.Errorf("error %v, want boom", err)
			}
			break
		}
		cmds = append(cmds, cmdLine{c.Letter, string(c.Param)})
	}
	if !slices.Equal(cmds, []cmdLine{{'S', "a"}, {'A', "b"}}) {
		t.Errorf("before the error: %v", cmds)
	}
	if _, err := r.Next(); !errors.Is(err, boom) {
		t.Errorf("the error is not sticky: %v", err)
	}
	// a reader that returns nothing forever
	if _, err := NewReader(noProgressReader{}).Next(); err != io.ErrNoProgress {
		t.Errorf("zero reads: %v, want io.ErrNoProgress", err)
	}
}

type noProgressReader struct{}

func (noProgressReader) Read([]byte) (int, error) { return 0, nil }

// xReader is an endless (or n-byte) stream of one byte, without newline.
type xReader struct{ n int }

func (x *xReader) Read(p []byte) (int, error) {
	if x.n == 0 {
		return 0, io.EOF
	}
	n := min(len(p), x.n)
	for i := range n {
		p[i] = 'L'
	}
	x.n -= n
	return n, nil
}

// TestLongLine_10MB: a 10 MB line without newline is chopped into 1023-byte
// commands as it arrives, in constant memory.
func TestLongLine_10MB(t *testing.T) {
	size := 10 << 20
	var pieces, total int
	allocs := testing.AllocsPerRun(1, func() {
		pieces, total = 0, 0
		r := NewReader(&xReader{n: size})
		for {
			c, err := r.Next()
			if err != nil {
				break
			}
			if len(c.Param) > MaxParam {
				t.Fatalf("param of %d bytes", len(c.Param))
			}
			pieces++
			total += len(c.Param) + 2
		}
	})
	if want := (size + MaxLine - 1) / MaxLine; pieces != want || total != size {
		t.Errorf("%d commands of %d bytes in all; want %d of %d", pieces, total, want, size)
	}
	if allocs > 2 {
		t.Errorf("reading 10 MB allocated %v times; want the Reader only", allocs)
	}
}

// TestReaderLogs: what Asterisk does silently is logged, once per line and
// at most 20 times per Reader.
func TestReaderLogs(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	in := "   S,beep\nP\nS,a\x00b\nS,a\rb\nS,\xff\n" + strings.Repeat("L", 5000) + "\n\r\n"
	r := NewReader(strings.NewReader(in), ReaderLogger(log))
	for {
		if _, err := r.Next(); err != nil {
			break
		}
	}
	out := buf.String()
	for _, want := range []string{"white space", "shorter than 3", "NUL", "CR", "UTF-8", "longer than 1023"} {
		if strings.Count(out, want) != 1 {
			t.Errorf("log has %d lines about %q; want 1:\n%s", strings.Count(out, want), want, out)
		}
	}
	buf.Reset()
	r = NewReader(strings.NewReader(strings.Repeat(" x\n", 1000)), ReaderLogger(log))
	for {
		if _, err := r.Next(); err != nil {
			break
		}
	}
	if n := strings.Count(buf.String(), "\n"); n != maxWarnings+1 {
		t.Errorf("1000 bad lines gave %d log lines; want %d", n, maxWarnings+1)
	}
}

// TestSetVars_6_2 is the V table of §6.2 (22.10.1: eivr-09-V-then-G).
func TestSetVars_6_2(t *testing.T) {
	tests := []struct {
		param string
		want  []Var
		bad   int
	}{
		{"a=1,b=2", []Var{{"a", "1"}, {"b", "2"}}, 0},
		{"c=with=equals,d=,e", []Var{{"c", "with=equals"}, {"d", ""}, {"e", ""}}, 0},
		{"CALLERID(num)=777", []Var{{"CALLERID(num)", "777"}}, 0},
		{"FROMSCRIPT=value with spaces", []Var{{"FROMSCRIPT", "value with spaces"}}, 0},
		{"a=1, b=2", []Var{{"a", "1"}, {" b", "2"}}, 0}, // no trimming
		{"=nameless", nil, 1},
		{"a=1,,b=2", []Var{{"a", "1"}, {"b", "2"}}, 1},
		{"__INHERIT=x", []Var{{"__INHERIT", "x"}}, 0},
	}
	for _, tt := range tests {
		var got []Var
		bad := 0
		for v, err := range SetVars([]byte(tt.param)) {
			if err != nil {
				if !errors.Is(err, ErrEmptyVarName) {
					t.Errorf("V,%s: error %v, want ErrEmptyVarName", tt.param, err)
				}
				bad++
				continue
			}
			got = append(got, v)
		}
		if !slices.Equal(got, tt.want) || bad != tt.bad {
			t.Errorf("SetVars(%q) = %q and %d errors; want %q and %d", tt.param, got, bad, tt.want, tt.bad)
		}
	}
}

// TestGetNames_6_1: G names are split on every ',', nothing trimmed.
func TestGetNames_6_1(t *testing.T) {
	tests := map[string][]string{
		"a,b":                   {"a", "b"},
		"CHANNEL(state),PRESET": {"CHANNEL(state)", "PRESET"},
		"a,,b":                  {"a", "", "b"},
		"a,":                    {"a", ""},
		" a":                    {" a"},
	}
	for param, want := range tests {
		if got := slices.Collect(GetNames([]byte(param))); !slices.Equal(got, want) {
			t.Errorf("GetNames(%q) = %q, want %q", param, got, want)
		}
	}
}

// TestAutoclear_6: O takes the whole parameter, case-insensitively.
func TestAutoclear_6(t *testing.T) {
	tests := []struct {
		param  string
		on, ok bool
	}{
		{"autoclear", true, true},
		{"AutoClear", true, true},
		{"noautoclear", false, true},
		{"NOAUTOCLEAR", false, true},
		{"bogusoption", false, false}, // 22.10.1: logged only (eivr-03)
		{"autoclear ", false, false},  // (trailing blanks never reach it: the line is trimmed)
		{"autoclear,x", false, false},
	}
	for _, tt := range tests {
		if on, ok := Autoclear([]byte(tt.param)); on != tt.on || ok != tt.ok {
			t.Errorf("Autoclear(%q) = %v, %v; want %v, %v", tt.param, on, ok, tt.on, tt.ok)
		}
	}
}

// TestDTMFArgs_6_3: the D parameter (22.10.1: D,12 gave 100 ms digits 350 ms
// apart, i.e. 250 ms interval; D,34,100,200 gave 200 ms digits 300 ms apart).
func TestDTMFArgs_6_3(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		param              string
		digits             string
		interval, duration time.Duration
	}{
		{"12", "12", 250 * ms, 100 * ms},
		{"34,100,200", "34", 100 * ms, 200 * ms},
		{"5,50", "5", 50 * ms, 100 * ms},
		{"1,1s,2s", "1", time.Second, 2 * time.Second},
		{"1,1S,0.5s", "1", time.Second, 500 * ms},
		{"1,300ms,150MS", "1", 300 * ms, 150 * ms},
		{"1,1m", "1", time.Minute, 100 * ms},
		{"1,1h", "1", time.Hour, 100 * ms},
		{"1,2mx", "1", 2 * ms, 100 * ms},           // unit starting with m but not ms: milliseconds
		{"1,2 s", "1", 2 * time.Second, 100 * ms},  // white space before the unit
		{"1, 70", "1", 70 * ms, 100 * ms},          // and before the number
		{"1,0", "1", 250 * ms, 100 * ms},           // <= 0: default interval
		{"1,-5", "1", 250 * ms, 100 * ms},          //
		{"1,abc,xyz", "1", 250 * ms, 100 * ms},     // unparsable
		{"1,,50", "1", 250 * ms, 100 * ms},         // empty; duration below 100 ms raised
		{"1,10.9", "1", 10 * ms, 100 * ms},         // truncated toward zero
		{"1,1e3", "1", time.Second, 100 * ms},      // exponent
		{"1,100,200,300", "1", 100 * ms, 200 * ms}, // third field is the raw rest: "200,300"
		{`1\,2,100`, "1,2", 100 * ms, 100 * ms},    // the standard splitter: backslash
		{"w1W2fF", "w1W2fF", 250 * ms, 100 * ms},   // digits are passed as given
		{"1,99999999999", "1", 2147483647 * ms, 100 * ms},
	}
	for _, tt := range tests {
		d, i, du := DTMFArgs([]byte(tt.param))
		if d != tt.digits || i != tt.interval || du != tt.duration {
			t.Errorf("DTMFArgs(%q) = %q, %v, %v; want %q, %v, %v", tt.param, d, i, du, tt.digits, tt.interval, tt.duration)
		}
	}
}

// FuzzReader: no panic, every piece at most 1023 bytes ending at its only
// '\n' or cut, pieces concatenate to the input, Next agrees with ParseCommand
// and does not depend on how the input is chunked.
func FuzzReader(f *testing.F) {
	for _, s := range []string{
		"S,beep\nA,hello\n", "A,beep\r\n   S,x\n", "P\nxx\n,,,\n", "S,a\x00b\n", "S,beep\rA,x\r",
		strings.Repeat("L", 2500) + "\nS,a", "\xff\xfe\n\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(bytes.NewReader(in))
		var cat []byte
		var want []cmdLine
		for {
			p, err := r.ReadLine()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(p) == 0 || len(p) > MaxLine {
				t.Fatalf("piece of %d bytes", len(p))
			}
			if i := bytes.IndexByte(p, '\n'); i >= 0 && i != len(p)-1 {
				t.Fatalf("piece %q has a '\\n' before its end", p)
			}
			if p[len(p)-1] != '\n' && len(p) != MaxLine && len(cat)+len(p) != len(in) {
				t.Fatalf("piece %q neither ends a line, nor is cut, nor ends the input", p)
			}
			cat = append(cat, p...)
			if c, ok := ParseCommand(p); ok {
				want = append(want, cmdLine{c.Letter, string(c.Param)})
			}
		}
		if !bytes.Equal(cat, in) {
			t.Fatalf("pieces concatenate to %q, not the input %q", cat, in)
		}
		got, err := readCommands(t, iotest.OneByteReader(bytes.NewReader(in)))
		if err != io.EOF || !slices.Equal(got, want) {
			t.Fatalf("Next byte by byte = %v, %v; want %v", got, err, want)
		}
		for _, c := range got {
			if len(c.param) == 0 || len(c.param) > MaxParam || c.letter <= ' ' {
				t.Fatalf("command %v", c)
			}
			if p := c.param; p[len(p)-1] <= ' ' || strings.IndexByte(p, 0) >= 0 {
				t.Fatalf("param %q not trimmed or has a NUL", p)
			}
		}
	})
}

// lineSource is an endless stream of command lines, without allocation.
type lineSource struct {
	line []byte
	off  int
}

func (s *lineSource) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		c := copy(p[n:], s.line[s.off:])
		n += c
		s.off = (s.off + c) % len(s.line)
	}
	return n, nil
}

func BenchmarkReaderNext(b *testing.B) {
	r := NewReader(&lineSource{line: []byte("S,hello-world\n")})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Next(); err != nil {
			b.Fatal(err)
		}
	}
}
