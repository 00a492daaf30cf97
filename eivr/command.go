package eivr

import (
	"bytes"
	"context"
	"io"
	"iter"
	"log/slog"
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Command letters (eivr-protocol.md §6). The parameter of every command is
// the rest of the line from byte 2; byte 1 is not checked. Each letter has
// its row in the command table (commandTable below): adding a letter is its
// constant and its row.
const (
	CmdPlay      byte = 'S' // S,<file>: interrupt, then play file (Up-guard)
	CmdAppend    byte = 'A' // A,<file>: append file to the playlist (Up-guard)
	CmdInterrupt byte = 'I' // I,<any>: interrupt the playlist (Up-guard)
	CmdHangup    byte = 'H' // H,<message>: send H, end the session, hang up
	CmdExit      byte = 'E' // E,<message>: send E, end the session, continue the dialplan
	CmdOption    byte = 'O' // O,autoclear | O,noautoclear (Up-guard)
	CmdSetVars   byte = 'V' // V,n1=v1,n2=v2...: set variables
	CmdGetVars   byte = 'G' // G,n1,n2...: reply G,<ts>,n1=v1,n2=v2...
	CmdLog       byte = 'L' // L,<message>: log it
	CmdParams    byte = 'P' // P,<any>: reply P,<ts>,<argv joined>
	CmdAnswer    byte = 'T' // T,<any>: answer, start the generator
	CmdSendDTMF  byte = 'D' // D,digits[,interval[,duration]]: send DTMF (undocumented)
	CmdExitQuiet byte = 'X' // X,<message>: deprecated exit, no event
)

// Spec is what the protocol says about one command letter.
type Spec struct {
	// Letter is the command letter (a Cmd* constant).
	Letter byte
	// Name is a short lower-case name for logs ("play", "exit", ...).
	Name string
	// UpGuarded: Asterisk refuses the command with a bare "Z,<ts>" when
	// the channel is not Up or is hung up (§6).
	UpGuarded bool
	// EndsSession: the command ends the session, E and X continuing the
	// dialplan and H hanging up (§8.3).
	EndsSession bool
}

// commandTable is the protocol's one command table, indexed by letter:
// every letter Asterisk executes has a row, every other letter is ignored
// without a reply (§4.2, §10 Q7). It is never written.
var commandTable = [...]Spec{
	CmdPlay:      {Letter: CmdPlay, Name: "play", UpGuarded: true},
	CmdAppend:    {Letter: CmdAppend, Name: "append", UpGuarded: true},
	CmdInterrupt: {Letter: CmdInterrupt, Name: "interrupt", UpGuarded: true},
	CmdHangup:    {Letter: CmdHangup, Name: "hangup", EndsSession: true},
	CmdExit:      {Letter: CmdExit, Name: "exit", EndsSession: true},
	CmdOption:    {Letter: CmdOption, Name: "option", UpGuarded: true},
	CmdSetVars:   {Letter: CmdSetVars, Name: "set"},
	CmdGetVars:   {Letter: CmdGetVars, Name: "get"},
	CmdLog:       {Letter: CmdLog, Name: "log"},
	CmdParams:    {Letter: CmdParams, Name: "params"},
	CmdAnswer:    {Letter: CmdAnswer, Name: "answer"},
	CmdSendDTMF:  {Letter: CmdSendDTMF, Name: "dtmf"},
	CmdExitQuiet: {Letter: CmdExitQuiet, Name: "exit-quiet", EndsSession: true},
}

// Lookup returns the row of letter in the command table; ok is false for
// a letter Asterisk does not execute.
func Lookup(letter byte) (spec Spec, ok bool) {
	if int(letter) >= len(commandTable) || commandTable[letter].Letter == 0 {
		return Spec{}, false
	}
	return commandTable[letter], true
}

// Commands iterates the command table in letter order.
func Commands() iter.Seq[Spec] {
	return func(yield func(Spec) bool) {
		for _, c := range commandTable {
			if c.Letter != 0 && !yield(c) {
				return
			}
		}
	}
}

// MaxLine is the longest piece of a command line Asterisk reads at once
// (§4.2, §10 Q3): a longer line is cut every MaxLine bytes and each piece is
// a command of its own. We keep the cut for parity.
const MaxLine = 1023

// MaxParam is the longest parameter a command can have (MaxLine minus the
// letter and the byte after it).
const MaxParam = MaxLine - 2

// Command is one command line from the client.
type Command struct {
	// Letter is byte 0 of the line, one of the Cmd* constants when Known.
	Letter byte
	// Param is the line from byte 2 on, trailing bytes <= 0x20 removed;
	// never empty. From a Reader it aliases the Reader's buffer and is valid
	// only until the next call of Next or ReadLine.
	Param []byte
}

// Known reports whether the letter is a command Asterisk executes (it has
// a row in the command table). Native Asterisk ignores other letters
// silently (§4.2, §10 Q7); so should the caller, after logging them.
func (c Command) Known() bool {
	_, ok := Lookup(c.Letter)
	return ok
}

// Spec is the row of the command's letter (the zero Spec when not Known).
func (c Command) Spec() Spec {
	s, _ := Lookup(c.Letter)
	return s
}

// UpGuarded reports whether Asterisk refuses the command with a bare
// "Z,<ts>" when the channel is not Up or is hung up: S, A, I and O (§6).
func (c Command) UpGuarded() bool { return c.Spec().UpGuarded }

// EndsSession reports whether the command ends the session: E and X (the
// dialplan continues) and H (it hangs up) (§8.3).
func (c Command) EndsSession() bool { return c.Spec().EndsSession }

// File is the file name of S and A: the whole parameter, commas included
// (S,foo,bar names "foo,bar"), no extension expected (§6, §7.6).
func (c Command) File() string { return string(c.Param) }

// Message is the text of E, H, X and L: the whole parameter, for the log.
func (c Command) Message() string { return string(c.Param) }

// String is the command as the client wrote it (byte 1 shown as ','),
// byte for byte, for logs and transcripts.
func (c Command) String() string {
	b := make([]byte, 0, 2+len(c.Param))
	b = append(b, c.Letter, ',')
	return string(append(b, c.Param...))
}

// ParseCommand interprets one line as Asterisk does (§4.2): the line ends at
// its first NUL byte; trailing bytes <= 0x20 (spaces, tabs, CR, LF, other
// controls) are removed; what is left must be at least 3 bytes long and
// must not start with a byte <= 0x20 (leading whitespace is not removed:
// the line is ignored, §10 Q4). The letter is byte 0, the parameter starts
// at byte 2 (§10 Q6). ok is false for an ignored line. Letters Asterisk does
// not know are returned with Known() == false. Param aliases line.
func ParseCommand(line []byte) (cmd Command, ok bool) {
	line = trimLine(line)
	if len(line) < 3 || line[0] <= ' ' {
		return Command{}, false
	}
	return Command{Letter: line[0], Param: line[2:len(line):len(line)]}, true
}

// trimLine cuts line at its first NUL and removes its trailing bytes <= 0x20.
func trimLine(line []byte) []byte {
	if i := bytes.IndexByte(line, 0); i >= 0 {
		line = line[:i]
	}
	n := len(line)
	for n > 0 && line[n-1] <= ' ' {
		n--
	}
	return line[:n]
}

// readBufSize is the Reader's buffer, as large as Asterisk's (§4.2): a few
// lines per read, never a whole long line (at most MaxLine bytes of a line
// are ever buffered unreturned, so a read always has room for 1025 more).
const readBufSize = 2048

// maxWarnings bounds the warnings one Reader logs about malformed lines, so a
// client writing garbage cannot flood the log.
const maxWarnings = 20

// Reader reads commands from a client's command stream with Asterisk's
// framing (§4.2): a line ends at '\n' or after MaxLine bytes, or at the end
// of the stream. Unlike Asterisk 15+ it returns every complete line as soon
// as it is buffered (no "one line per wake-up" stall, §10 Q1), and a partial
// line blocks only the goroutine calling Next (§10 Q2).
//
// Memory is bounded (one 2 KiB buffer): a 10 MB line without '\n' is chopped
// into 1023-byte commands as it arrives, never held whole. A Reader is for one
// goroutine. Next and ReadLine block in the underlying Read; to stop them,
// close the stream (the transport's Close does).
type Reader struct {
	rd       io.Reader
	log      *slog.Logger
	buf      [readBufSize]byte
	r, w     int   // unread bytes are buf[r:w]
	err      error // first read error, returned once buf is drained
	cont     bool  // the last piece returned continues a line cut at MaxLine
	cut      bool  // the last piece returned was cut at MaxLine
	warnings int
}

// ReaderOption configures a Reader.
type ReaderOption func(*Reader)

// ReaderLogger makes the Reader log, as Warn, the lines Asterisk would
// silently cut, truncate or ignore (a line longer than MaxLine, a NUL byte, a
// CR inside a line, invalid UTF-8, leading whitespace, a too-short line);
// at most 20 per Reader. Nil (the default) logs nothing.
func ReaderLogger(l *slog.Logger) ReaderOption {
	return func(r *Reader) { r.log = l }
}

// NewReader returns a Reader of the command stream rd.
func NewReader(rd io.Reader, opts ...ReaderOption) *Reader {
	r := &Reader{rd: rd}
	for _, o := range opts {
		o(r)
	}
	return r
}

// Next returns the next command, skipping the lines Asterisk ignores (see
// ParseCommand). At the end of the stream it returns io.EOF (after the last
// command, even one without '\n'); other read errors are returned as they
// are. It does not allocate. The command's Param is valid until the next call.
func (r *Reader) Next() (Command, error) {
	for {
		line, err := r.ReadLine()
		if err != nil {
			return Command{}, err
		}
		cmd, ok := ParseCommand(line)
		if r.log != nil {
			r.check(line, cmd, ok)
		}
		if ok {
			return cmd, nil
		}
	}
}

// ReadLine returns the next raw piece of the stream as Asterisk's line
// reader cuts it: up to and including the next '\n', at most MaxLine bytes,
// or the unterminated rest at the end of the stream. The pieces concatenate
// to the stream. The slice is valid until the next call. This is also the
// framing of a program's stderr (§4.3).
func (r *Reader) ReadLine() ([]byte, error) {
	for {
		data := r.buf[r.r:r.w]
		var piece []byte
		if i := bytes.IndexByte(data[:min(len(data), MaxLine)], '\n'); i >= 0 {
			piece = data[:i+1]
		} else if len(data) >= MaxLine || (r.err != nil && len(data) > 0) {
			piece = data[:min(len(data), MaxLine)]
		} else if r.err != nil {
			return nil, r.err
		} else {
			r.fill()
			continue
		}
		r.r += len(piece)
		r.cont = r.cut
		r.cut = len(piece) == MaxLine && piece[MaxLine-1] != '\n'
		return piece, nil
	}
}

// fill moves the unread bytes to the front of the buffer and reads more.
func (r *Reader) fill() {
	if r.r > 0 {
		r.w = copy(r.buf[:], r.buf[r.r:r.w])
		r.r = 0
	}
	for range 100 {
		n, err := r.rd.Read(r.buf[r.w:])
		r.w += n
		if err != nil {
			r.err = err
			return
		}
		if n > 0 {
			return
		}
	}
	r.err = io.ErrNoProgress
}

// check logs what Asterisk would have done silently with line.
func (r *Reader) check(line []byte, cmd Command, ok bool) {
	if r.cont {
		return // the rest of a cut line: reported with its first piece
	}
	if r.cut {
		r.warn("command line longer than 1023 bytes: cut, the rest is read as further commands, as Asterisk does", line)
	}
	if bytes.IndexByte(line, 0) >= 0 {
		r.warn("command line contains a NUL byte: the line ends there, as in Asterisk", line)
	}
	if !ok {
		t := trimLine(line)
		if len(t) == 0 {
			return // blank (or NUL-first) line
		}
		if t[0] <= ' ' {
			r.warn("command line starts with white space: ignored, as Asterisk does", line)
		} else {
			r.warn("command line shorter than 3 bytes: ignored, as Asterisk does", line)
		}
		return
	}
	if bytes.IndexByte(cmd.Param, '\r') >= 0 {
		r.warn("command contains a CR: lines end only at LF, as in Asterisk", line)
	}
	if !utf8.Valid(cmd.Param) {
		r.warn("command is not valid UTF-8: passed on as raw bytes", line)
	}
}

func (r *Reader) warn(msg string, line []byte) {
	ctx := context.Background()
	if r.warnings > maxWarnings || !r.log.Enabled(ctx, slog.LevelWarn) {
		return
	}
	r.warnings++
	if r.warnings > maxWarnings {
		r.log.WarnContext(ctx, "client keeps writing malformed command lines: no more of them are logged")
		return
	}
	const show = 80
	s := line
	if len(s) > show {
		s = s[:show]
	}
	r.log.WarnContext(ctx, msg, slog.String("cmd", strconv.Quote(string(s))), slog.Int("len", len(line)))
}

// Var is one item of a V command.
type Var struct{ Name, Value string }

// SetVars iterates the items of a V parameter (§6.2): split on every ','
// (values cannot contain commas), each item split at its first '=' (an item
// without '=' sets the name to ""), nothing trimmed. An item with an empty
// name is yielded with an error wrapping ErrEmptyVarName instead (native
// Asterisk's behaviour is undefined there); the caller logs it and goes on.
func SetVars(param []byte) iter.Seq2[Var, error] {
	return func(yield func(Var, error) bool) {
		for item := range bytes.SplitSeq(param, []byte{','}) {
			name, value, _ := bytes.Cut(item, []byte{'='})
			if len(name) == 0 {
				if !yield(Var{Value: string(value)}, parseError(string(item), ErrEmptyVarName, "")) {
					return
				}
				continue
			}
			if !yield(Var{Name: string(name), Value: string(value)}, nil) {
				return
			}
		}
	}
}

// GetNames iterates the variable names of a G parameter (§6.1): split on
// every ',', nothing trimmed; empty names are yielded too (they reply "=").
func GetNames(param []byte) iter.Seq[string] {
	return func(yield func(string) bool) {
		for name := range bytes.SplitSeq(param, []byte{','}) {
			if !yield(string(name)) {
				return
			}
		}
	}
}

// Autoclear interprets an O parameter (§6): "autoclear" turns autoclear on,
// "noautoclear" off (ASCII case-insensitive, the whole parameter); ok is
// false for anything else, which Asterisk only logs (no Z, §10 Q7).
func Autoclear(param []byte) (on, ok bool) {
	switch {
	case asciiEqualFold(param, "autoclear"):
		return true, true
	case asciiEqualFold(param, "noautoclear"):
		return false, true
	}
	return false, false
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range len(b) {
		c, d := b[i], s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// DTMF defaults of the D command (§6.3).
const (
	DefaultDTMFInterval = 250 * time.Millisecond // when none, unparsable or <= 0
	MinDTMFDuration     = 100 * time.Millisecond // shorter durations are raised to it
)

// DTMFArgs interprets a D parameter "digits[,interval[,duration]]" (§6.3):
// split with the standard splitter into at most 3 fields; interval and
// duration are numbers with an optional unit ms (default), s, m or h,
// case-insensitive. An interval that is missing, unparsable or <= 0 is
// DefaultDTMFInterval; a duration below MinDTMFDuration is raised to it.
// digits is returned as given: the sender plays 0-9 * # a-d A-D as digits,
// f/F as a flash, w/W as 0.5 s/1 s pauses and skips anything else.
func DTMFArgs(param []byte) (digits string, interval, duration time.Duration) {
	f := SplitAppArgs(string(param), 3)
	var intervalMS, durationMS int
	if len(f) > 0 {
		digits = f[0]
	}
	if len(f) > 1 && f[1] != "" {
		if ms, ok := parseTimelen(f[1]); ok {
			intervalMS = ms
		}
	}
	if len(f) > 2 && f[2] != "" {
		if ms, ok := parseTimelen(f[2]); ok {
			durationMS = ms
		}
	}
	interval = time.Duration(intervalMS) * time.Millisecond
	if intervalMS <= 0 {
		interval = DefaultDTMFInterval
	}
	duration = time.Duration(durationMS) * time.Millisecond
	if duration < MinDTMFDuration {
		duration = MinDTMFDuration
	}
	return digits, interval, duration
}

// parseTimelen reads a time length in milliseconds as Asterisk's
// ast_app_parse_timelen does: sscanf "%30lf%9s" (white space skipped, a
// decimal number of at most 30 bytes, then an optional unit word of which
// only the first two bytes matter), scaled, capped at INT_MAX and truncated
// toward zero. ok is false when no number is found. Hexadecimal numbers,
// which glibc would accept, are not.
func parseTimelen(s string) (ms int, ok bool) {
	i := skipSpace(s, 0)
	num := s[i:min(len(s), i+30)]
	n := floatPrefix(num)
	if n == 0 {
		return 0, false
	}
	// The prefix is a valid number: ParseFloat can only report a range
	// error, with ±Inf or 0 as C's strtod would give.
	amount, _ := strconv.ParseFloat(num[:n], 64)
	j := skipSpace(s, i+n)
	unit := s[j:]
	for k := range min(len(unit), 9) {
		if isSpace(unit[k]) {
			unit = unit[:k]
			break
		}
	}
	if len(unit) > 0 {
		switch unit[0] {
		case 'h', 'H':
			amount *= 3600 * 1000
		case 's', 'S':
			amount *= 1000
		case 'm', 'M':
			if len(unit) == 1 {
				amount *= 60 * 1000
			} // "ms" and anything else starting with m: milliseconds
		}
	}
	switch {
	case math.IsNaN(amount):
		return 0, true // C leaves this undefined; treat it as nothing
	case amount > math.MaxInt32:
		return math.MaxInt32, true
	case amount < math.MinInt32:
		return math.MinInt32, true
	}
	return int(amount), true
}

// floatPrefix returns the length of the longest prefix of s that strtod
// would read as a decimal number, infinity or NaN (0 if none).
func floatPrefix(s string) int {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	for _, word := range []string{"infinity", "inf", "nan"} {
		if len(s)-i >= len(word) && asciiEqualFold([]byte(s[i:i+len(word)]), word) {
			return i + len(word)
		}
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return 0
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			i = j
		}
	}
	return i
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isSpace(c byte) bool { return c == ' ' || ('\t' <= c && c <= '\r') }

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}
