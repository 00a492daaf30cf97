package transcript

import (
	"strings"

	"github.com/eivr-gateway/eivr-gateway/eivr"
)

// Redacted replaces the value of a redacted variable.
const Redacted = "[redacted]"

// RedactedDigit replaces a redacted DTMF digit.
const RedactedDigit = 'X'

// Redaction says what is hidden from transcripts and the live view.
type Redaction struct {
	// DTMF hides the caller's digits (DTMF events become "X,<ts>") and the
	// digits a script sends (D command).
	DTMF bool `json:"dtmf,omitempty"`
	// Vars are variable names whose values are hidden in V commands and G
	// replies (compared case-insensitively).
	Vars []string `json:"vars,omitempty"`
}

// Enabled reports whether anything is redacted.
func (r Redaction) Enabled() bool { return r.DTMF || len(r.Vars) > 0 }

// NewRedactor returns the per-session redactor of r.
func (r Redaction) NewRedactor() *Redactor {
	return &Redactor{rules: r}
}

// Redactor applies a Redaction to the lines of one session, in order. It
// keeps the names of the G commands awaiting their reply, so that a value
// containing a comma is hidden whole. It belongs to one goroutine.
type Redactor struct {
	rules   Redaction
	pending [][]string // names of G commands not yet answered, oldest first
}

// maxPendingG bounds the G commands remembered (a script that never reads
// its replies).
const maxPendingG = 64

func (r *Redactor) secret(name string) bool {
	for _, v := range r.rules.Vars {
		if strings.EqualFold(v, name) {
			return true
		}
	}
	return false
}

// Line returns line (without its '\n') as it may be shown: sent is true for
// an event line sent to the script, false for a command it wrote.
func (r *Redactor) Line(sent bool, line string) string {
	if sent {
		return r.event(line)
	}
	return r.command(line)
}

func (r *Redactor) command(line string) string {
	cmd, ok := eivr.ParseCommand([]byte(line))
	if !ok {
		return line
	}
	switch cmd.Letter {
	case 'G':
		if len(r.rules.Vars) > 0 {
			var names []string
			for n := range eivr.GetNames(cmd.Param) {
				names = append(names, n)
			}
			if len(r.pending) == maxPendingG {
				r.pending = r.pending[1:]
			}
			r.pending = append(r.pending, names)
		}
	case 'V':
		if len(r.rules.Vars) == 0 {
			return line
		}
		items := strings.Split(line[2:], ",")
		changed := false
		for i, it := range items {
			name, _, found := strings.Cut(it, "=")
			if found && r.secret(name) {
				items[i] = name + "=" + Redacted
				changed = true
			}
		}
		if changed {
			return line[:2] + strings.Join(items, ",")
		}
	case 'D':
		if r.rules.DTMF {
			digits, rest, found := strings.Cut(line[2:], ",")
			masked := strings.Map(func(c rune) rune {
				if strings.ContainsRune("0123456789*#abcdABCD", c) {
					return RedactedDigit
				}
				return c
			}, digits)
			if found {
				return line[:2] + masked + "," + rest
			}
			return line[:2] + masked
		}
	}
	return line
}

func (r *Redactor) event(line string) string {
	if len(line) < 2 || line[1] != ',' {
		return line
	}
	tag := line[0]
	rest := line[2:]
	switch {
	case eivr.IsDTMF(tag) && !strings.Contains(rest, ","):
		if r.rules.DTMF {
			return string(RedactedDigit) + line[1:]
		}
	case tag == 'G':
		if len(r.rules.Vars) == 0 {
			return line
		}
		var names []string
		if len(r.pending) > 0 {
			names, r.pending = r.pending[0], r.pending[1:]
		}
		ts, data, ok := strings.Cut(rest, ",")
		if !ok {
			return line
		}
		return "G," + ts + "," + r.getReply(names, data)
	}
	return line
}

// getReply hides the secret values of a G reply "n1=v1,n2=v2" whose names
// are known (from its G command): the value of n_i runs up to ",n_{i+1}=".
// Without names (or when the reply does not match them) it splits on every
// comma, hiding what follows a secret name up to the next comma.
func (r *Redactor) getReply(names []string, data string) string {
	if out, ok := r.getReplyNamed(names, data); ok {
		return out
	}
	var out []string
	hide := false
	for _, it := range strings.Split(data, ",") {
		name, _, found := strings.Cut(it, "=")
		switch {
		case found && r.secret(name):
			out = append(out, name+"="+Redacted)
			hide = true
		case found:
			out = append(out, it)
			hide = false
		case !hide:
			out = append(out, it)
		} // else: a piece of a secret value that had a comma: dropped
	}
	return strings.Join(out, ",")
}

func (r *Redactor) getReplyNamed(names []string, data string) (string, bool) {
	values, ok := SplitGetReply(names, data)
	if !ok {
		return "", false
	}
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(n)
		b.WriteByte('=')
		if r.secret(n) {
			b.WriteString(Redacted)
		} else {
			b.WriteString(values[i])
		}
	}
	return b.String(), true
}

// SplitGetReply splits the data of a G reply, "n1=v1,n2=v2", into the
// values of names (the names of its G command, in order): the value of n_i
// runs up to ",n_{i+1}=", so values may contain commas. ok is false when
// data does not match names (e.g. the reply was cut at 2047 bytes).
func SplitGetReply(names []string, data string) (values []string, ok bool) {
	if len(names) == 0 {
		return nil, false
	}
	rest := data
	for i, n := range names {
		if !strings.HasPrefix(rest, n+"=") {
			return nil, false
		}
		rest = rest[len(n)+1:]
		if i+1 < len(names) {
			j := strings.Index(rest, ","+names[i+1]+"=")
			if j < 0 {
				return nil, false
			}
			values = append(values, rest[:j])
			rest = rest[j+1:]
		} else {
			values = append(values, rest)
		}
	}
	return values, true
}
