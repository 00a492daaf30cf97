package eivr

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/eivr-gateway/eivr-gateway/internal/astargs"
)

// MaxArgv is the most argv elements (program or URL included) an application
// string may yield (eivr-protocol.md §2.3).
const MaxArgv = 32

// MaxPReply is the length cap of the P reply's data: Asterisk builds it in a
// 100-byte string (§6, §10 Q12; 22.10.1 sent exactly 99 bytes).
const MaxPReply = 99

// tcpPrefix is the exact, case-sensitive prefix of a TCP target (§3).
const tcpPrefix = "ivr://"

// Options are the ExternalIVR() options (§2.4).
type Options struct {
	NoAnswer     bool // n: do not answer, no generator until T
	IgnoreHangup bool // i: on hangup send I,<ts>,HANGUP once and keep going
	RunDead      bool // d: run on a hung-up channel, never check for hangup
}

// App is a parsed application string: what to run and how.
type App struct {
	// Argv is the program path or "ivr://host[:port]" followed by its
	// arguments, exactly as Asterisk would exec or report them with P.
	// Never empty; at most MaxArgv elements.
	Argv []string

	Options Options

	// Warnings lists what the parser ignored as native Asterisk does
	// (text after the last ')', extraneous option fields, unknown option
	// letters, an option argument without ')'), one sentence each, for the
	// caller to log.
	Warnings []string
}

// IsTCP reports whether the target is an ivr:// server rather than a
// program: argv[0] starts with exactly "ivr://" (lower case, §3).
func (a App) IsTCP() bool {
	return len(a.Argv) > 0 && strings.HasPrefix(a.Argv[0], tcpPrefix)
}

// PReply is the data of the reply to P: argv joined by ",", cut to
// MaxPReply bytes, possibly in the middle of an argument or of a UTF-8
// sequence, as Asterisk does (§6, §10 Q12).
func (a App) PReply() string {
	s := strings.Join(a.Argv, ",")
	if len(s) > MaxPReply {
		s = s[:MaxPReply]
	}
	return s
}

// HostPort splits an ivr:// target into the host and port to dial, as
// Asterisk's ast_sockaddr_split_hostport does (§3.2):
//
//	name, 1.2.3.4      host as given, default port
//	name:p             name, p
//	[v6]  [v6]:p       v6, default or p
//	v6 (2+ colons)     the whole string, default port
//	[v6 (no ']')       v6, default port
//	[v6]junk           v6 (junk ignored), default port
//
// The port is returned as written (a number or a service name for the
// resolver); an empty port ("host:") and a numeric port 0 mean DefaultPort,
// as they do with glibc's getaddrinfo.
func (a App) HostPort() (host, port string, err error) {
	if !a.IsTCP() {
		target := ""
		if len(a.Argv) > 0 {
			target = a.Argv[0]
		}
		return "", "", parseError(target, ErrNotTCP, "")
	}
	hp := a.Argv[0][len(tcpPrefix):]
	if strings.HasPrefix(hp, "[") {
		rest := hp[1:]
		if end := strings.IndexByte(rest, ']'); end >= 0 {
			host = rest[:end]
			if after := rest[end+1:]; strings.HasPrefix(after, ":") {
				port = after[1:]
			}
		} else {
			host = rest
		}
	} else {
		host = hp
		if strings.Count(hp, ":") == 1 {
			host, port, _ = strings.Cut(hp, ":")
		}
	}
	if host == "" {
		return "", "", parseError(a.Argv[0], ErrEmptyHost, "")
	}
	if n, err := strconv.ParseUint(port, 10, 64); port == "" || (err == nil && n == 0) {
		port = DefaultPort
	}
	return host, port, nil
}

// ParseAppData parses the dialplan form of the application data,
// "target(args),options", exactly as ExternalIVR() does (§2.2–§2.4): a first
// split into target and options (the options are the raw rest, cut at their
// first ','), then the target is cut from its first '(' to its last ')' and
// split again into at most 32 argv elements, quotes and backslashes being
// processed in both passes. Errors are *ParseError naming data and wrapping
// ErrEmptyData, ErrMissingParen, ErrNoTarget or ErrTooManyArgs.
func ParseAppData(data string) (App, error) {
	s := cutNUL(data)
	if s == "" {
		return App{}, parseError(data, ErrEmptyData, "")
	}
	f := SplitAppArgs(s, 2)
	opts, hasOpts := "", len(f) > 1
	if hasOpts {
		opts = f[1]
	}
	return parseApp(data, f[0], opts, hasOpts, nil)
}

// ParseStasisArgs parses the Stasis form: the args of a StasisStart event
// for Stasis(<app>,target(args),options) (ari-mapping.md §2.1). Stasis()
// splits its data with the same splitter as ExternalIVR's first pass, so
// args[0] is the target already unescaped once, args[1] the options and
// args[2:] what ExternalIVR would have ignored as extraneous. ExternalIVR's
// second pass then runs on args[0]; the options are cut at their first ','
// as ExternalIVR cuts its raw options field. Stasis unescapes the options,
// which ExternalIVR does not: this changes nothing for the letters n, i, d.
// Errors are as for ParseAppData, naming the args joined by ','.
func ParseStasisArgs(args []string) (App, error) {
	input := strings.Join(args, ",")
	if len(args) == 0 {
		return App{}, parseError(input, ErrEmptyData, "no Stasis arguments")
	}
	var warnings []string
	if len(args) > 2 {
		warnings = append(warnings, fmt.Sprintf("extraneous arguments %q ignored", args[2:]))
	}
	opts, hasOpts := "", len(args) > 1
	if hasOpts {
		opts = cutNUL(args[1])
	}
	return parseApp(input, cutNUL(args[0]), opts, hasOpts, warnings)
}

// parseApp is the second pass (§2.3) and the option parsing (§2.4).
func parseApp(input, target, opts string, hasOpts bool, warnings []string) (App, error) {
	if open := strings.IndexByte(target, '('); open >= 0 {
		// The first '(' opens the arguments and becomes a separator; the
		// last ')' after it closes them; anything after it is dropped.
		closing := strings.LastIndexByte(target[open+1:], ')')
		if closing < 0 {
			return App{}, parseError(input, ErrMissingParen, "")
		}
		closing += open + 1
		if dropped := target[closing+1:]; dropped != "" {
			warnings = append(warnings, fmt.Sprintf("text %q after the last ')' ignored", dropped))
		}
		target = target[:open] + "," + target[open+1:closing]
	}
	argv := SplitAppArgs(target, MaxArgv)
	if len(argv) == 0 {
		return App{}, parseError(input, ErrNoTarget, "")
	}
	if len(argv) == MaxArgv && len(SplitAppArgs(target, MaxArgv+1)) > MaxArgv {
		return App{}, parseError(input, ErrTooManyArgs, "")
	}
	app := App{Argv: argv, Warnings: warnings}
	if hasOpts {
		// "Get rid of any extraneous arguments": only the text before the
		// options' first ',' counts.
		if before, extra, found := strings.Cut(opts, ","); found {
			app.Warnings = append(app.Warnings, fmt.Sprintf("extraneous options %q ignored", extra))
			opts = before
		}
		app.Options, app.Warnings = parseOptions(opts, app.Warnings)
	}
	return app, nil
}

// parseOptions reads the option letters as ast_app_parse_options does:
// byte by byte, case-sensitive; a '(' right after a letter starts an
// argument that is skipped up to its matching ')'; without one, parsing
// stops there and that letter does not count (§2.4). Bytes other than n, i,
// d are ignored with a warning. (Asterisk masks each byte to 7 bits first,
// so that e.g. 0xEE would count as 'n'; we treat bytes >= 0x80 as the
// unknown letters they are.)
func parseOptions(s string, warnings []string) (Options, []string) {
	var o Options
	for i := 0; i < len(s); {
		c := s[i]
		i++
		if i < len(s) && s[i] == '(' {
			end, ok := skipOptionArg(s, i+1)
			if !ok {
				warnings = append(warnings, fmt.Sprintf("option %q: argument %q without ')': options from there on ignored", c, s[i+1:]))
				break
			}
			i = end + 1
		}
		switch c {
		case 'n':
			o.NoAnswer = true
		case 'i':
			o.IgnoreHangup = true
		case 'd':
			o.RunDead = true
		default:
			warnings = append(warnings, fmt.Sprintf("unrecognized option %q ignored", c))
		}
	}
	return o, warnings
}

// skipOptionArg finds the ')' that closes an option argument starting at
// s[k], following ast_app_parse_options: nested parentheses count unless
// quoted, quotes count only when the argument starts with '"', a backslash
// hides the next byte. ok is false when no closing ')' is found.
func skipOptionArg(s string, k int) (end int, ok bool) {
	paren, quote := 1, false
	parseQuotes := k < len(s) && s[k] == '"'
	for ; k < len(s); k++ {
		switch c := s[k]; {
		case c == '(' && !quote:
			paren++
		case c == ')' && !quote:
			paren--
		case c == '"' && parseQuotes:
			quote = !quote
		case c == '\\':
			k++ // the backslash hides the next byte, quoted or not
		}
		if paren == 0 {
			return k, true
		}
	}
	return 0, false
}

// SplitAppArgs splits s into at most max fields with Asterisk's standard
// application-argument splitter (AST_STANDARD_APP_ARGS, §2.1), which
// Stasis(), ExternalIVR() and its D command all use:
//
//   - ',' ends a field only outside parentheses, brackets and quotes; the
//     depths and the quote state are never reset between fields;
//   - '"' toggles quoting and is removed; '\' is removed and the byte after
//     it is copied literally;
//   - once max-1 fields are scanned, the raw rest (not unescaped, not split)
//     is field max;
//   - input ending right after a separator yields one more, empty field;
//     empty input yields no field; nothing is trimmed.
//
// s is read up to its first NUL byte, as the C string it would be. The
// splitter itself is internal/astargs, shared with ari/aritest.
func SplitAppArgs(s string, max int) []string { return astargs.Split(s, max) }

// cutNUL returns s up to its first NUL byte: Asterisk sees C strings.
func cutNUL(s string) string {
	if i := strings.IndexByte(s, 0); i >= 0 {
		return s[:i]
	}
	return s
}
