package asterisk

import "testing"

func TestMaskTimestamps(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"digit", "5,1795457213\n", "5,TTTTTTTTTT\n"},
		{"with data", "F,1795457213,beep\n", "F,TTTTTTTTTT,beep\n"},
		{"data with commas and digits", "G,1795457213,a=1795457213,b=2\n", "G,TTTTTTTTTT,a=1795457213,b=2\n"},
		{"several lines", "1,1795457213\nT,1795457214,hello-world\nD,1795457214,beep\n", "1,TTTTTTTTTT\nT,TTTTTTTTTT,hello-world\nD,TTTTTTTTTT,beep\n"},
		{"padded before 2001", "E,  99999999\n", "E,TTTTTTTTTT\n"},
		{"negative after 2038", "E,-123456789\n", "E,TTTTTTTTTT\n"},
		{"last line without newline", "H,1795457213", "H,TTTTTTTTTT"},
		{"eleven digits are not a timestamp", "E,17954572130\n", "E,17954572130\n"},
		{"nine digits are not a timestamp", "E,179545721\n", "E,179545721\n"},
		{"letters are not a timestamp", "G,abcdefghij,x\n", "G,abcdefghij,x\n"},
		{"trailing blank is not a timestamp", "G,123456789 ,x\n", "G,123456789 ,x\n"},
		{"second byte must be a comma", "F;1795457213\n", "F;1795457213\n"},
		{"short line", "F,\n", "F,\n"},
		{"value with a newline", "G,1795457213,v=a\nb\n", "G,TTTTTTTTTT,v=a\nb\n"},
		{"non-UTF-8 data kept", "G,1795457213,CHOICE=caf\xe9\n", "G,TTTTTTTTTT,CHOICE=caf\xe9\n"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(MaskTimestamps([]byte(tt.in))); got != tt.want {
				t.Errorf("MaskTimestamps(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func FuzzMaskTimestamps(f *testing.F) {
	f.Add([]byte("F,1795457213,beep\n5,1795457213\n"))
	f.Add([]byte("G,-123456789,x=\xe9\nH,1795457213"))
	f.Fuzz(func(t *testing.T, in []byte) {
		out := MaskTimestamps(in)
		if len(out) != len(in) {
			t.Fatalf("length changed: %d -> %d", len(in), len(out))
		}
		if string(MaskTimestamps(out)) != string(out) {
			t.Fatalf("not idempotent on %q", in)
		}
		for i := range in {
			if in[i] != out[i] && out[i] != 'T' {
				t.Fatalf("byte %d changed to %q", i, out[i])
			}
		}
	})
}
