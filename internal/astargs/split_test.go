package astargs

import (
	"slices"
	"strings"
	"testing"
)

// TestSplit: eivr-protocol.md §2.1; the full table of the splitter that
// eivr.SplitAppArgs and ari/aritest share.
func TestSplit(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want []string
	}{
		{"", 2, nil},
		{"a", 0, nil},
		{"a", 2, []string{"a"}},
		{"a,b", 32, []string{"a", "b"}},
		{"a,", 32, []string{"a", ""}},             // ends right after a separator: one more empty field
		{",", 32, []string{"", ""}},               //
		{"a,b,", 3, []string{"a", "b", ""}},       // the extra empty field even at the cap
		{"a, b", 32, []string{"a", " b"}},         // nothing trimmed
		{`"a,b",c`, 32, []string{"a,b", "c"}},     // quotes protect commas and are removed
		{`a\,b,c`, 32, []string{"a,b", "c"}},      // backslash: next byte literal, backslash removed
		{`a\\b`, 32, []string{`a\b`}},             //
		{`\"a,b`, 32, []string{`"a`, "b"}},        // an escaped quote does not quote
		{`a\`, 32, []string{"a"}},                 // a final backslash vanishes
		{"(a,b),c", 32, []string{"(a,b)", "c"}},   // parentheses protect commas and are kept
		{"[a,b],c", 32, []string{"[a,b]", "c"}},   // brackets too
		{"(a,b],c", 32, []string{"(a,b],c"}},      // separate depths: ']' does not close '('
		{"a)b,c", 32, []string{"a)b", "c"}},       // depth never below 0
		{"f(a,b,c", 32, []string{"f(a,b,c"}},      // never closed: one field
		{`"a,b`, 32, []string{"a,b"}},             // quote never closed
		{`a"b,c"d,e`, 32, []string{"ab,cd", "e"}}, // quotes anywhere in a field
		{"(a),b(,c),d", 32, []string{"(a)", "b(,c)", "d"}},
		{`"(",a),b`, 32, []string{"(,a)", "b"}},                         // depth counted inside quotes, never reset between fields
		{"a,b,c", 2, []string{"a", "b,c"}},                              // max fields: the rest is the last one
		{`a,"b",\c,(d`, 2, []string{"a", `"b",\c,(d`}},                  // ... verbatim: not unescaped, not split
		{"a,b,c,d", 3, []string{"a", "b", "c,d"}},                       //
		{"a,b", 1, []string{"a,b"}},                                     //
		{"a\x00,b", 32, []string{"a"}},                                  // a C string ends at NUL
		{"eivr,/prog(a,b),n", 129, []string{"eivr", "/prog(a,b)", "n"}}, // Stasis(eivr,...) from originate
	}
	for _, tt := range tests {
		if got := Split(tt.in, tt.max); !slices.Equal(got, tt.want) {
			t.Errorf("Split(%q, %d) = %q, want %q", tt.in, tt.max, got, tt.want)
		}
	}
}

// FuzzSplit: never more than n fields; without special bytes it is
// strings.SplitN; a larger cap changes only the last field of a full split.
func FuzzSplit(f *testing.F) {
	for _, s := range []string{"", "a,b", `"a,b",c`, `a\,b`, "(a,b),[c,d],e", "a,", "f(a,b,c", "x\x00,y"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		n = n%40 + 1
		if n < 1 {
			n += 40
		}
		got := Split(s, n)
		if len(got) > n {
			t.Fatalf("Split(%q, %d): %d fields", s, n, len(got))
		}
		if !strings.ContainsAny(s, "()[]\"\\\x00") && s != "" {
			if want := strings.SplitN(s, ",", n); !slices.Equal(got, want) {
				t.Fatalf("Split(%q, %d) = %q, want %q", s, n, got, want)
			}
		}
		more := Split(s, n+5)
		switch {
		case len(got) < n && !slices.Equal(more, got):
			t.Fatalf("Split(%q, %d) = %q but with cap %d %q", s, n, got, n+5, more)
		case len(got) == n && (len(more) < n || !slices.Equal(more[:n-1], got[:n-1])):
			t.Fatalf("Split(%q, %d) = %q but with cap %d %q", s, n, got, n+5, more)
		}
	})
}
