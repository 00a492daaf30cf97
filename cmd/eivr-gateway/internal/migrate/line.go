package migrate

import (
	"strings"
)

// LineKind says what a dialplan line is.
type LineKind uint8

const (
	LineOther LineKind = iota // anything but an extension line
	LineExten                 // exten => ext,prio,App(data)
	LineSame                  // same => prio,App(data)
)

// Line is what ParseLine found on one line of extensions.conf.
type Line struct {
	Kind  LineKind
	Exten string // the extension of an exten line ("100", "h", "_X.")
	Calls []Call // ExternalIVR calls on the line, in order
}

// Call locates one ExternalIVR application call on a line. Offsets are
// byte offsets into the line as given to ParseLine.
type Call struct {
	Name    int    // start of the application name ("ExternalIVR", any case)
	NameEnd int    // just after the name
	Open    int    // the '(' opening the data
	Close   int    // the ')' closing the data (the last one, as Asterisk reads it)
	Data    string // the data as the application sees it (\; unescaped), variables unexpanded
	Wrapper string // "" for a plain call, else the wrapping application (ExecIf, Exec, TryExec)
	// OldSyntax is set for the pre-1.6 form "ExternalIVR,data", which is
	// reported, not rewritten (Open and Close are then -1).
	OldSyntax bool
}

// appName is the application rewritten, compared case-insensitively as
// Asterisk compares application names.
const appName = "externalivr"

// ParseLine finds the ExternalIVR calls on one line of extensions.conf
// (without its line terminator). inBlock says whether the line starts inside
// a ;-- block comment --;; ParseLine returns whether the next line does.
// Comments are never rewritten: only the code before the first unescaped
// ';' counts.
func ParseLine(s string, inBlock bool) (Line, bool) {
	code, inBlock := codePart(s, inBlock)
	var ln Line
	i := skipBlank(code, 0)
	word := i
	for i < len(code) && isWordByte(code[i]) {
		i++
	}
	switch strings.ToLower(code[word:i]) {
	case "exten":
		ln.Kind = LineExten
	case "same":
		ln.Kind = LineSame
	default:
		return ln, inBlock
	}
	i = skipBlank(code, i)
	if i >= len(code) || code[i] != '=' {
		return Line{}, inBlock
	}
	i++
	if i < len(code) && code[i] == '>' { // "=>" and "=" are the same to Asterisk
		i++
	}
	i = skipBlank(code, i)
	// exten: ext,prio,app ; same: prio,app
	fields := 1
	if ln.Kind == LineExten {
		fields = 2
		comma := strings.IndexByte(code[i:], ',')
		if comma < 0 {
			return Line{}, inBlock
		}
		ln.Exten = strings.TrimSpace(code[i : i+comma])
		if slash := strings.IndexByte(ln.Exten, '/'); slash >= 0 { // 100/callerid
			ln.Exten = ln.Exten[:slash]
		}
	}
	for f := 0; f < fields; f++ {
		comma := strings.IndexByte(code[i:], ',')
		if comma < 0 {
			return ln, inBlock
		}
		i += comma + 1
	}
	ln.Calls = findCalls(code, skipBlank(code, i), "")
	return ln, inBlock
}

// findCalls parses "App(data)" at code[i:] (data up to the last ')' of
// code) and returns the ExternalIVR calls in it, looking inside ExecIf,
// Exec and TryExec.
func findCalls(code string, i int, wrapper string) []Call {
	start := i
	for i < len(code) && isWordByte(code[i]) {
		i++
	}
	name, nameEnd := strings.ToLower(code[start:i]), i
	if name == "" {
		return nil
	}
	j := skipBlank(code, i)
	if j >= len(code) || code[j] != '(' {
		if name == appName && wrapper == "" && j < len(code) && code[j] == ',' {
			return []Call{{Name: start, NameEnd: nameEnd, Open: -1, Close: -1, Data: unescapeSemicolons(code[j+1:]), OldSyntax: true}}
		}
		return nil
	}
	open := j
	closing := strings.LastIndexByte(code, ')')
	if closing < open {
		if name == appName {
			// Asterisk warns and takes the rest; we report it.
			return []Call{{Name: start, NameEnd: nameEnd, Open: open, Close: -1, Data: unescapeSemicolons(code[open+1:]), Wrapper: wrapper}}
		}
		return nil
	}
	switch name {
	case appName:
		return []Call{{Name: start, NameEnd: nameEnd, Open: open, Close: closing, Data: unescapeSemicolons(code[open+1 : closing]), Wrapper: wrapper}}
	case "exec", "tryexec":
		if wrapper != "" {
			return nil
		}
		return findCalls(code[:closing], skipBlank(code, open+1), displayName(name))
	case "execif":
		if wrapper != "" {
			return nil
		}
		// ExecIf(<expr>?<app>(<args>)[:<app>(<args>)]): the first '?'
		// ends the expression, a ':' outside parentheses and quotes
		// separates the two applications.
		body := code[:closing]
		q := strings.IndexByte(body[open+1:], '?')
		if q < 0 {
			return nil
		}
		q += open + 1
		colon := topLevelColon(body, q+1)
		calls := findCalls(body[:colon], skipBlank(body, q+1), "ExecIf")
		if colon < len(body) {
			calls = append(calls, findCalls(body, skipBlank(body, colon+1), "ExecIf")...)
		}
		return calls
	}
	return nil
}

func displayName(lower string) string {
	if lower == "tryexec" {
		return "TryExec"
	}
	return "Exec"
}

// topLevelColon returns the index of the first ':' in s[i:] outside
// parentheses, brackets and quotes (backslash escapes honoured), or len(s).
func topLevelColon(s string, i int) int {
	depth, quote := 0, false
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			quote = !quote
		case '(', '[':
			if !quote {
				depth++
			}
		case ')', ']':
			if !quote && depth > 0 {
				depth--
			}
		case ':':
			if depth == 0 && !quote {
				return i
			}
		}
	}
	return len(s)
}

// codePart returns the code of a line: the text before its first ';' that
// is not escaped as "\;", outside ;-- block comments --;.
func codePart(s string, inBlock bool) (string, bool) {
	if inBlock {
		end := strings.Index(s, "--;")
		if end < 0 {
			return "", true
		}
		// Text after the end of a block comment is not code we touch.
		return "", false
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case ';':
			if strings.HasPrefix(s[i:], ";--") {
				return s[:i], !strings.Contains(s[i+3:], "--;")
			}
			return s[:i], false
		}
	}
	return s, false
}

func unescapeSemicolons(s string) string {
	return strings.ReplaceAll(s, `\;`, ";")
}

func skipBlank(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}
