package ari

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"time"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// ErrNoType is returned (wrapped) by Decode for a JSON object without a
// "type" field: it is not an ARI message.
var ErrNoType = errors.New("ari: event has no type")

// DecodeError reports a frame Decode could not use: malformed JSON
// (Field == "") or a known field with a value of the wrong JSON type.
type DecodeError struct {
	Offset int    // byte offset in the frame where the problem was found
	Field  string // the field with a wrong type; "" for a syntax error
	Msg    string
}

func (e *DecodeError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("ari: decode event: field %q: %s (offset %d)", e.Field, e.Msg, e.Offset)
	}
	return fmt.Sprintf("ari: decode event: %s (offset %d)", e.Msg, e.Offset)
}

// maxDepth bounds the nesting of skipped values (as encoding/json does).
const maxDepth = 10000

// Decode parses one ARI event frame into ev (overwriting it). Unknown types
// are KindOther with Type/Application/AsteriskID/Timestamp/Raw filled, never
// an error. ev may keep references into frame: the caller must not modify
// frame afterwards.
//
// Errors are *DecodeError for malformed JSON, a top-level value that is not
// an object, or a modelled field with a value of the wrong JSON type (then
// the rest of the frame is still decoded, as encoding/json does, and ev holds
// what could be read); and ErrNoType for an object without "type". JSON null
// leaves a field zero. Keys match exactly (encoding/json would also accept
// other letter cases; Asterisk never sends them). Timestamps are returned in
// UTC; an unparsable timestamp leaves the field zero without an error.
func Decode(frame []byte, ev *Event) error {
	_, err := decode(frame, ev, nil)
	return err
}

// decode is Decode; it also returns the number of bytes of the frame that
// the event's strings alias (at least: repeated keys count twice), which
// is what compact moves. With x, the optional channels and Args are
// decoded into x's room (no allocation; compact copies them into the
// event's box) as far as it goes, on the heap beyond.
func decode(frame []byte, ev *Event, x *extras) (int, error) {
	*ev = Event{Raw: frame}
	s := scanner{b: frame, x: x}
	if x != nil {
		x.nch = 0
	}
	err := s.event(ev)
	ev.Kind = kindOf(ev.Type)
	if err != nil {
		return s.aliased, err
	}
	s.ws()
	if s.i < len(s.b) {
		return s.aliased, s.syntax(s.i, fmt.Sprintf("invalid character %q after the event object", s.b[s.i]))
	}
	if s.typeErr != nil {
		return s.aliased, s.typeErr
	}
	if ev.Type == "" && !s.sawType {
		return s.aliased, ErrNoType
	}
	return s.aliased, nil
}

type scanner struct {
	b       []byte
	i       int
	depth   int
	typeErr *DecodeError // first wrong-type field; decoding goes on
	sawType bool
	aliased int     // bytes of the string values returned that alias b
	x       *extras // room for optional channels and Args; nil: allocate them
}

// extras is the read loop's scratch room for the parts only some events
// carry: the optional channels (ReplaceChannel, Peer, Caller), Args and
// the Playback.
// An event decoded with it refers to it until compact has copied it.
type extras struct {
	ch   [3]Channel
	nch  int // channels of ch in use
	args [8]string
	pb   Playback
}

// alias counts v's bytes in aliased when v points into the frame (an
// unescaped string; strSlow's are copies).
func (s *scanner) alias(v string) {
	if len(v) > 0 && uintptr(unsafe.Pointer(unsafe.StringData(v)))-uintptr(unsafe.Pointer(unsafe.SliceData(s.b))) < uintptr(len(s.b)) {
		s.aliased += len(v)
	}
}

func (s *scanner) syntax(off int, msg string) *DecodeError {
	return &DecodeError{Offset: off, Msg: msg}
}

func (s *scanner) eof() *DecodeError {
	return s.syntax(len(s.b), "unexpected end of JSON input")
}

// ws skips JSON whitespace.
func (s *scanner) ws() {
	for s.i < len(s.b) && s.b[s.i] <= ' ' && isWS(s.b[s.i]) {
		s.i++
	}
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// peek skips whitespace and returns the next byte, or an EOF error.
func (s *scanner) peek() (byte, error) {
	s.ws()
	if s.i >= len(s.b) {
		return 0, s.eof()
	}
	return s.b[s.i], nil
}

// wrongType records a type error for field and skips the value.
func (s *scanner) wrongType(field, want string) error {
	off := s.i
	got := "value"
	switch s.b[s.i] {
	case '"':
		got = "string"
	case '{':
		got = "object"
	case '[':
		got = "array"
	case 't', 'f':
		got = "boolean"
	default:
		got = "number"
	}
	if err := s.skip(); err != nil {
		return err
	}
	if s.typeErr == nil {
		s.typeErr = &DecodeError{Offset: off, Field: field, Msg: "want " + want + ", got " + got}
	}
	return nil
}

// isNull consumes a null literal if one is next.
func (s *scanner) isNull() (bool, error) {
	if s.b[s.i] != 'n' {
		return false, nil
	}
	return true, s.literal("null")
}

func (s *scanner) literal(lit string) error {
	if len(s.b)-s.i < len(lit) {
		return s.eof()
	}
	if string(s.b[s.i:s.i+len(lit)]) != lit {
		return s.syntax(s.i, "invalid literal, want "+lit)
	}
	s.i += len(lit)
	return nil
}

// objStart consumes '{'. The caller has checked it is there.
func (s *scanner) objStart() error {
	s.i++
	s.depth++
	if s.depth > maxDepth {
		return s.syntax(s.i, "nesting too deep")
	}
	return nil
}

// nextKey returns the next key of the current object and positions the
// scanner at its value; ok is false at the closing '}'.
func (s *scanner) nextKey(first bool) (key string, ok bool, err error) {
	c, err := s.peek()
	if err != nil {
		return "", false, err
	}
	if c == '}' {
		s.i++
		s.depth--
		return "", false, nil
	}
	if !first {
		if c != ',' {
			return "", false, s.syntax(s.i, fmt.Sprintf("invalid character %q after object value, want ',' or '}'", c))
		}
		s.i++
		if c, err = s.peek(); err != nil {
			return "", false, err
		}
	}
	if c != '"' {
		return "", false, s.syntax(s.i, fmt.Sprintf("invalid character %q, want an object key", c))
	}
	if key, err = s.str(); err != nil {
		return "", false, err
	}
	if c, err = s.peek(); err != nil {
		return "", false, err
	}
	if c != ':' {
		return "", false, s.syntax(s.i, fmt.Sprintf("invalid character %q after object key, want ':'", c))
	}
	s.i++
	if _, err = s.peek(); err != nil {
		return "", false, err
	}
	return key, true, nil
}

// str reads a string; s.b[s.i] is '"'. Strings without escapes or invalid
// UTF-8 alias the frame. Eight bytes at a time: the first special byte of
// a word ('"', '\\', a control character or a non-ASCII byte) is found
// from the word's mask, not byte by byte.
func (s *scanner) str() (string, error) {
	start := s.i + 1
	j := start
	for {
		if j+8 <= len(s.b) {
			m := specialMask(binary.LittleEndian.Uint64(s.b[j:]))
			if m == 0 {
				j += 8
				continue
			}
			j += bits.TrailingZeros64(m) >> 3
		} else {
			for j < len(s.b) && !specialByte(s.b[j]) {
				j++
			}
			if j == len(s.b) {
				return "", s.eof()
			}
		}
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			if j == start {
				return "", nil
			}
			return unsafe.String(&s.b[start], j-start), nil
		case c == '\\':
			return s.strSlow(start)
		case c < 0x20:
			return "", s.syntax(j, "control character in string")
		default: // non-ASCII: valid UTF-8 stays in place
			r, n := utf8.DecodeRune(s.b[j:])
			if r == utf8.RuneError && n == 1 {
				return s.strSlow(start)
			}
			j += n
		}
	}
}

const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// specialMask has the high bit set in the byte of x that is the first '"',
// '\\', < 0x20 or >= 0x80 (little-endian order); bytes after it may be
// flagged too (borrows), bytes before it never are. Zero when none is.
func specialMask(x uint64) uint64 {
	quote := x ^ (ones * '"')
	bslash := x ^ (ones * '\\')
	return ((x - ones*0x20) | (quote - ones) | (bslash - ones) | x) & highs
}

// special reports whether any byte of x is '"', '\\', < 0x20 or >= 0x80.
func special(x uint64) bool { return specialMask(x) != 0 }

func specialByte(c byte) bool { return c == '"' || c == '\\' || c < 0x20 || c >= 0x80 }

// strSlow unescapes a string starting at start (just after the quote),
// replacing invalid UTF-8 and unpaired surrogates with U+FFFD as
// encoding/json does.
func (s *scanner) strSlow(start int) (string, error) {
	buf := make([]byte, 0, 32)
	j := start
	for j < len(s.b) {
		c := s.b[j]
		switch {
		case c == '"':
			s.i = j + 1
			return string(buf), nil
		case c < 0x20:
			return "", s.syntax(j, "control character in string")
		case c == '\\':
			if j+1 >= len(s.b) {
				return "", s.eof()
			}
			e := s.b[j+1]
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(s.b[j+2:])
				if !ok {
					return "", s.syntax(j, "invalid \\u escape in string")
				}
				j += 6
				if utf16.IsSurrogate(r) {
					if j+1 < len(s.b) && s.b[j] == '\\' && s.b[j+1] == 'u' {
						if r2, ok := hex4(s.b[j+2:]); ok {
							if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
								buf = utf8.AppendRune(buf, d)
								j += 6
								continue
							}
						}
					}
					r = utf8.RuneError
				}
				buf = utf8.AppendRune(buf, r)
				continue
			default:
				return "", s.syntax(j, fmt.Sprintf("invalid escape %q in string", "\\"+string(rune(e))))
			}
			j += 2
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			j++
		default:
			r, n := utf8.DecodeRune(s.b[j:])
			if r == utf8.RuneError && n == 1 {
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, s.b[j:j+n]...)
			}
			j += n
		}
	}
	return "", s.eof()
}

func hex4(b []byte) (rune, bool) {
	if len(b) < 4 {
		return 0, false
	}
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// number scans a JSON number and reports whether it is an integer (no
// fraction, no exponent).
func (s *scanner) number() (lit []byte, isInt bool, err error) {
	start, j := s.i, s.i
	isInt = true
	if j < len(s.b) && s.b[j] == '-' {
		j++
	}
	if j >= len(s.b) {
		return nil, false, s.eof()
	}
	switch c := s.b[j]; {
	case c == '0':
		j++
	case '1' <= c && c <= '9':
		for j < len(s.b) && '0' <= s.b[j] && s.b[j] <= '9' {
			j++
		}
	default:
		return nil, false, s.syntax(j, fmt.Sprintf("invalid character %q in number", c))
	}
	if j < len(s.b) && s.b[j] == '.' {
		isInt = false
		j++
		d := j
		for j < len(s.b) && '0' <= s.b[j] && s.b[j] <= '9' {
			j++
		}
		if j == d {
			if j >= len(s.b) {
				return nil, false, s.eof()
			}
			return nil, false, s.syntax(j, "missing digits after decimal point")
		}
	}
	if j < len(s.b) && (s.b[j] == 'e' || s.b[j] == 'E') {
		isInt = false
		j++
		if j < len(s.b) && (s.b[j] == '+' || s.b[j] == '-') {
			j++
		}
		d := j
		for j < len(s.b) && '0' <= s.b[j] && s.b[j] <= '9' {
			j++
		}
		if j == d {
			if j >= len(s.b) {
				return nil, false, s.eof()
			}
			return nil, false, s.syntax(j, "missing digits in exponent")
		}
	}
	s.i = j
	return s.b[start:j], isInt, nil
}

// skipStr skips a string, validating its escapes. Eight bytes at a time
// like str: a word without '"', '\\', a control character or a non-ASCII
// byte is passed whole (the unmodelled keys of a channel and an event's
// other unmodelled values are skipped here).
func (s *scanner) skipStr() error {
	for j := s.i + 1; j < len(s.b); j++ {
		for j+8 <= len(s.b) {
			m := specialMask(binary.LittleEndian.Uint64(s.b[j:]))
			if m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				break
			}
			j += 8
		}
		if j >= len(s.b) {
			break
		}
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return nil
		case c < 0x20:
			return s.syntax(j, "control character in string")
		case c == '\\':
			if j+1 >= len(s.b) {
				return s.eof()
			}
			switch s.b[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j++
			case 'u':
				if _, ok := hex4(s.b[j+2:]); !ok {
					if len(s.b) < j+6 {
						return s.eof()
					}
					return s.syntax(j, "invalid \\u escape in string")
				}
				j += 5
			default:
				return s.syntax(j, "invalid escape in string")
			}
		}
	}
	return s.eof()
}

// skip skips one value of any type, validating it.
func (s *scanner) skip() error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	switch c {
	case '"':
		return s.skipStr()
	case '{':
		if err := s.objStart(); err != nil {
			return err
		}
		for first := true; ; first = false {
			_, ok, err := s.nextKey(first)
			if err != nil || !ok {
				return err
			}
			if err := s.skip(); err != nil {
				return err
			}
		}
	case '[':
		return s.array(func() error { return s.skip() })
	case 't':
		return s.literal("true")
	case 'f':
		return s.literal("false")
	case 'n':
		return s.literal("null")
	default:
		_, _, err := s.number()
		return err
	}
}

// array walks an array; s.b[s.i] is '['. elem is called positioned on each
// element (whitespace skipped).
func (s *scanner) array(elem func() error) error {
	s.i++
	s.depth++
	if s.depth > maxDepth {
		return s.syntax(s.i, "nesting too deep")
	}
	for first := true; ; first = false {
		c, err := s.peek()
		if err != nil {
			return err
		}
		if c == ']' {
			s.i++
			s.depth--
			return nil
		}
		if !first {
			if c != ',' {
				return s.syntax(s.i, fmt.Sprintf("invalid character %q after array element, want ',' or ']'", c))
			}
			s.i++
			if _, err := s.peek(); err != nil {
				return err
			}
		}
		if err := elem(); err != nil {
			return err
		}
	}
}

// Typed field readers. Each is positioned on the value (whitespace
// skipped); null leaves the destination unchanged.

func (s *scanner) strField(dst *string, field string) error {
	v, ok, err := s.strValue(field)
	if ok {
		s.alias(v)
		*dst = v
	}
	return err
}

// strValue reads a string value; ok is false for null or a wrong type.
func (s *scanner) strValue(field string) (v string, ok bool, err error) {
	if s.b[s.i] != '"' {
		if null, err := s.isNull(); null || err != nil {
			return "", false, err
		}
		return "", false, s.wrongType(field, "string")
	}
	v, err = s.str()
	return v, err == nil, err
}

func (s *scanner) intField(dst *int64, field string) error {
	c := s.b[s.i]
	if c != '-' && (c < '0' || c > '9') {
		if null, err := s.isNull(); null || err != nil {
			return err
		}
		return s.wrongType(field, "number")
	}
	off := s.i
	lit, isInt, err := s.number()
	if err != nil {
		return err
	}
	if !isInt {
		if s.typeErr == nil {
			s.typeErr = &DecodeError{Offset: off, Field: field, Msg: "want an integer, got " + string(lit)}
		}
		return nil
	}
	v, ok := atoi64(lit)
	if !ok {
		if s.typeErr == nil {
			s.typeErr = &DecodeError{Offset: off, Field: field, Msg: "integer " + string(lit) + " out of range"}
		}
		return nil
	}
	*dst = v
	return nil
}

func (s *scanner) intFieldInt(dst *int, field string) error {
	v := int64(*dst)
	if err := s.intField(&v, field); err != nil {
		return err
	}
	if int64(int(v)) != v { // 32-bit platforms
		if s.typeErr == nil {
			s.typeErr = &DecodeError{Offset: s.i, Field: field, Msg: "integer out of range"}
		}
		return nil
	}
	*dst = int(v)
	return nil
}

func atoi64(lit []byte) (int64, bool) {
	neg := lit[0] == '-'
	if neg {
		lit = lit[1:]
	}
	if len(lit) > 18 { // may overflow: let strconv decide
		s := unsafe.String(&lit[0], len(lit))
		if neg {
			v, err := strconv.ParseInt("-"+s, 10, 64)
			return v, err == nil
		}
		v, err := strconv.ParseInt(s, 10, 64)
		return v, err == nil
	}
	var v int64
	for _, c := range lit {
		v = v*10 + int64(c-'0')
	}
	if neg {
		v = -v
	}
	return v, true
}

func (s *scanner) boolField(dst *bool, field string) error {
	switch s.b[s.i] {
	case 't':
		*dst = true
		return s.literal("true")
	case 'f':
		*dst = false
		return s.literal("false")
	case 'n':
		return s.literal("null")
	}
	return s.wrongType(field, "boolean")
}

func (s *scanner) timeField(dst *time.Time, field string) error {
	v, _, err := s.strValue(field) // parsed, not kept: not counted
	if err != nil {
		return err
	}
	if v != "" {
		*dst = parseTime(v)
	}
	return nil
}

func (s *scanner) stringsField(dst *[]string, field string) error {
	if s.b[s.i] != '[' {
		if null, err := s.isNull(); null || err != nil {
			if null {
				*dst = nil
			}
			return err
		}
		return s.wrongType(field, "array of strings")
	}
	out := (*dst)[:0]
	if out == nil {
		if s.x != nil {
			out = s.x.args[:0:len(s.x.args)] // beyond it, append moves it to the heap
		} else {
			out = make([]string, 0, 4)
		}
	}
	err := s.array(func() error {
		var v string
		if err := s.strField(&v, field); err != nil {
			return err
		}
		out = append(out, v)
		return nil
	})
	*dst = out
	return err
}

// strMap reads an object of strings (null values read as ""); null
// leaves dst unchanged.
func (s *scanner) strMap(dst *map[string]string, field string) error {
	if ok, err := s.object(field); !ok || err != nil {
		return err
	}
	m := make(map[string]string)
	*dst = m
	for first := true; ; first = false {
		key, ok, err := s.nextKey(first)
		if err != nil || !ok {
			return err
		}
		var v string
		if err := s.strField(&v, field); err != nil {
			return err
		}
		s.alias(key)
		m[key] = v
	}
}

// object is the prologue of every nested object reader: it handles null and
// wrong types and reports whether an object follows.
func (s *scanner) object(field string) (bool, error) {
	if s.b[s.i] == '{' {
		return true, s.objStart()
	}
	if null, err := s.isNull(); null || err != nil {
		return false, err
	}
	return false, s.wrongType(field, "object")
}

func (s *scanner) event(ev *Event) error {
	c, err := s.peek()
	if err != nil {
		return err
	}
	if c != '{' {
		return s.syntax(s.i, "event is not a JSON object")
	}
	if err := s.objStart(); err != nil {
		return err
	}
	for first := true; ; first = false {
		key, ok, err := s.nextKey(first)
		if err != nil || !ok {
			return err
		}
		switch key {
		case "type":
			s.sawType = true
			err = s.strField(&ev.Type, key)
		case "application":
			err = s.strField(&ev.Application, key)
		case "asterisk_id":
			err = s.strField(&ev.AsteriskID, key)
		case "timestamp":
			err = s.timeField(&ev.Timestamp, key)
		case "channel":
			err = s.channel(&ev.Channel, key)
		case "replace_channel":
			err = s.optChannel(&ev.ReplaceChannel, key)
		case "args":
			err = s.stringsField(&ev.Args, key)
		case "playback":
			err = s.optPlayback(&ev.Playback, key)
		case "digit":
			err = s.strField(&ev.Digit, key)
		case "duration_ms", "duration":
			err = s.intFieldInt(&ev.DurationMs, key)
		case "variable":
			err = s.strField(&ev.Variable, key)
		case "value":
			err = s.strField(&ev.Value, key)
		case "cause":
			err = s.intFieldInt(&ev.Cause, key)
		case "cause_txt":
			err = s.strField(&ev.CauseTxt, key)
		case "tech_cause":
			err = s.intFieldInt(&ev.TechCause, key)
		case "soft":
			err = s.boolField(&ev.Soft, key)
		case "peer":
			err = s.optChannel(&ev.Peer, key)
		case "caller":
			err = s.optChannel(&ev.Caller, key)
		case "dialstatus":
			err = s.strField(&ev.DialStatus, key)
		case "dialstring":
			err = s.strField(&ev.DialString, key)
		case "forward":
			err = s.strField(&ev.Forward, key)
		case "musicclass":
			err = s.strField(&ev.MusicClass, key)
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

// optChannel decodes an optional channel, allocated only when the frame
// has one (null and absent leave it nil; a repeated key reuses it).
func (s *scanner) optChannel(dst **Channel, field string) error {
	if s.b[s.i] != '{' {
		var none Channel
		return s.channel(&none, field) // null, or a wrong type
	}
	if *dst == nil {
		if x := s.x; x != nil && x.nch < len(x.ch) {
			x.ch[x.nch] = Channel{}
			*dst = &x.ch[x.nch]
			x.nch++
		} else {
			*dst = new(Channel)
		}
	}
	return s.channel(*dst, field)
}

func (s *scanner) channel(ch *Channel, field string) error {
	if ok, err := s.object(field); !ok || err != nil {
		return err
	}
	for first := true; ; first = false {
		key, ok, err := s.nextKey(first)
		if err != nil || !ok {
			return err
		}
		switch key {
		case "id":
			err = s.strField(&ch.ID, key)
		case "name":
			err = s.strField(&ch.Name, key)
		case "state":
			err = s.strField(&ch.State, key)
		case "language":
			err = s.strField(&ch.Language, key)
		case "caller":
			err = s.callerID(&ch.Caller, key)
		case "connected":
			err = s.callerID(&ch.Connected, key)
		case "dialplan":
			err = s.dialplan(&ch.Dialplan, key)
		case "channelvars":
			err = s.strMap(&ch.ChannelVars, key)
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

func (s *scanner) callerID(c *CallerID, field string) error {
	if ok, err := s.object(field); !ok || err != nil {
		return err
	}
	for first := true; ; first = false {
		key, ok, err := s.nextKey(first)
		if err != nil || !ok {
			return err
		}
		switch key {
		case "name":
			err = s.strField(&c.Name, key)
		case "number":
			err = s.strField(&c.Number, key)
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

func (s *scanner) dialplan(d *DialplanCEP, field string) error {
	if ok, err := s.object(field); !ok || err != nil {
		return err
	}
	for first := true; ; first = false {
		key, ok, err := s.nextKey(first)
		if err != nil || !ok {
			return err
		}
		switch key {
		case "context":
			err = s.strField(&d.Context, key)
		case "exten":
			err = s.strField(&d.Exten, key)
		case "priority":
			err = s.intField(&d.Priority, key)
		case "app_name":
			err = s.strField(&d.AppName, key)
		case "app_data":
			err = s.strField(&d.AppData, key)
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

// optPlayback decodes an optional playback like optChannel.
func (s *scanner) optPlayback(dst **Playback, field string) error {
	if s.b[s.i] != '{' {
		var none Playback
		return s.playback(&none, field) // null, or a wrong type
	}
	if *dst == nil {
		if x := s.x; x != nil {
			x.pb = Playback{}
			*dst = &x.pb
		} else {
			*dst = new(Playback)
		}
	}
	return s.playback(*dst, field)
}

func (s *scanner) playback(p *Playback, field string) error {
	if ok, err := s.object(field); !ok || err != nil {
		return err
	}
	for first := true; ; first = false {
		key, ok, err := s.nextKey(first)
		if err != nil || !ok {
			return err
		}
		switch key {
		case "id":
			err = s.strField(&p.ID, key)
		case "media_uri":
			err = s.strField(&p.MediaURI, key)
		case "next_media_uri":
			err = s.strField(&p.NextMediaURI, key)
		case "target_uri":
			err = s.strField(&p.TargetURI, key)
		case "language":
			err = s.strField(&p.Language, key)
		case "state":
			err = s.strField(&p.State, key)
		default:
			err = s.skip()
		}
		if err != nil {
			return err
		}
	}
}

// TimeLayout is the layout of ARI dates (AST_ISO8601_FORMAT):
// millisecond resolution, numeric offset without a colon.
const TimeLayout = "2006-01-02T15:04:05.000-0700"

// parseTime parses an ARI date, without time.Parse for the usual
// "2026-11-23T18:02:35.545+0000" form. The result is in UTC; zero if the
// value cannot be parsed.
func parseTime(v string) time.Time {
	if len(v) == len(TimeLayout) && v[4] == '-' && v[7] == '-' && v[10] == 'T' &&
		v[13] == ':' && v[16] == ':' && v[19] == '.' && (v[23] == '+' || v[23] == '-') {
		y, ok1 := digits(v[0:4])
		mo, ok2 := digits(v[5:7])
		d, ok3 := digits(v[8:10])
		h, ok4 := digits(v[11:13])
		mi, ok5 := digits(v[14:16])
		sec, ok6 := digits(v[17:19])
		ms, ok7 := digits(v[20:23])
		oh, ok8 := digits(v[24:26])
		om, ok9 := digits(v[26:28])
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8 && ok9 &&
			mo >= 1 && mo <= 12 && d >= 1 && d <= daysIn(mo, y) && h < 24 && mi < 60 && sec < 60 && oh < 24 && om < 60 {
			off := (oh*60 + om) * 60
			if v[23] == '-' {
				off = -off
			}
			if y < 1 {
				return time.Date(y, time.Month(mo), d, h, mi, sec, ms*1e6, time.UTC).Add(-time.Duration(off) * time.Second)
			}
			secs := daysFromCivil(y, mo, d)*86400 + int64(h*3600+mi*60+sec-off)
			return time.Unix(secs, int64(ms)*1e6).UTC()
		}
	}
	t, err := time.Parse(TimeLayout, v)
	if err != nil {
		if t, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return time.Time{}
		}
	}
	return t.UTC()
}

// daysFromCivil is the number of days from 1970-01-01 to y-m-d of the
// proleptic Gregorian calendar (y >= 1), without time.Date's
// normalisation: the date is valid already.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400 // y >= 0
	yoe := y - era*400
	mp := (m + 9) % 12 // March = 0
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

func digits(v string) (int, bool) {
	n := 0
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

func daysIn(m, y int) int {
	switch m {
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}
