package transcript

import (
	"bytes"
	"strings"
	"testing"
)

func TestRedactor(t *testing.T) {
	type line struct {
		sent bool
		in   string
		want string
	}
	tests := []struct {
		name  string
		rules Redaction
		lines []line
	}{
		{"off", Redaction{}, []line{
			{true, "1,1732355012", "1,1732355012"},
			{false, "V,PIN=1234", "V,PIN=1234"},
		}},
		{"dtmf", Redaction{DTMF: true}, []line{
			{true, "1,1732355012", "X,1732355012"},
			{true, "#,1732355012", "X,1732355012"},
			{true, "D,1732355012", "X,1732355012"},           // DTMF D: two fields
			{true, "D,1732355012,beep", "D,1732355012,beep"}, // a dropped file
			{true, "T,1732355012,digits/1", "T,1732355012,digits/1"},
			{false, "D,12#,100,200", "D,XXX,100,200"},
			{false, "D,1w2", "D,XwX"},
			{false, "S,digits/1", "S,digits/1"},
			{false, "V,PIN=1234", "V,PIN=1234"},
		}},
		{"vars", Redaction{Vars: []string{"PIN", "card"}}, []line{
			{false, "V,pin=1234,LANG=en,CARD=4111=1", "V,pin=[redacted],LANG=en,CARD=[redacted]"},
			{false, "V,PIN", "V,PIN"}, // no value
			{false, "G,LANG,PIN", "G,LANG,PIN"},
			{false, "G,CARD", "G,CARD"},
			{true, "G,1732355012,LANG=en,PIN=1,2,3", "G,1732355012,LANG=en,PIN=[redacted]"},
			{true, "G,1732355012,CARD=4111,LANG=x", "G,1732355012,CARD=[redacted]"}, // named: all of CARD's value
			// a reply without a known G: split on commas
			{true, "G,1732355012,PIN=1,2,LANG=en", "G,1732355012,PIN=[redacted],LANG=en"},
			{true, "1,1732355012", "1,1732355012"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.rules.NewRedactor()
			for _, l := range tt.lines {
				if got := r.Line(l.sent, l.in); got != l.want {
					t.Errorf("Line(%v, %q) = %q, want %q", l.sent, l.in, got, l.want)
				}
			}
		})
	}
}

// FuzzRedactor: any line, never a panic, and with DTMF on no DTMF event
// keeps its digit; a redacted value never survives in a V command.
func FuzzRedactor(f *testing.F) {
	f.Add(true, "1,1732355012")
	f.Add(false, "V,PIN=1234,a=b")
	f.Add(false, "G,PIN,x")
	f.Add(true, "G,1,PIN=1,x=2")
	f.Add(false, "D,123,4")
	f.Fuzz(func(t *testing.T, sent bool, line string) {
		r := Redaction{DTMF: true, Vars: []string{"PIN"}}.NewRedactor()
		r.Line(false, "G,PIN,x")
		got := r.Line(sent, line)
		if sent && len(line) >= 2 && line[1] == ',' && strings.ContainsRune("0123456789*#ABCD", rune(line[0])) && !strings.Contains(line[2:], ",") {
			if got[0] != RedactedDigit {
				t.Errorf("DTMF %q kept: %q", line, got)
			}
		}
		if !sent && strings.HasPrefix(line, "V,") {
			for _, it := range strings.Split(got[2:], ",") {
				if name, v, ok := strings.Cut(it, "="); ok && strings.EqualFold(name, "PIN") && v != Redacted {
					t.Errorf("V %q kept a PIN: %q", line, got)
				}
			}
		}
	})
}

// FuzzRead: any bytes, never a panic; what parses has a header and valid
// records.
func FuzzRead(f *testing.F) {
	f.Add([]byte(`{"v":1,"type":"header","app":"eivr","argv":["/x"]}` + "\n" + `{"us":1,"type":"command","line":"S,x"}` + "\n" + `{"us":2,"type":"end"}` + "\n"))
	f.Add([]byte(`{"v":2,"type":"header"}`))
	f.Add([]byte("garbage\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		if tr.Header.V != Version {
			t.Errorf("version %d accepted", tr.Header.V)
		}
		for i, rec := range tr.Records {
			if err := rec.check(); err != nil {
				t.Errorf("record %d: %v", i, err)
			}
			if rec.Type == TypeEnd && i != len(tr.Records)-1 {
				t.Errorf("end record at %d of %d", i, len(tr.Records))
			}
		}
	})
}
