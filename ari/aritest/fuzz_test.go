package aritest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func FuzzParseCallerID(f *testing.F) {
	for _, s := range []string{`"Test Caller" <5551234>`, "ClickToCall <100>", "5551234", "<>", `"<" <`, ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c := parseCallerID(s)
		if strings.Contains(s, "<") && strings.Contains(s[strings.LastIndex(s, "<"):], ">") && strings.ContainsAny(c.Number, "<>") {
			t.Fatalf("%q: number %q keeps brackets", s, c.Number)
		}
		if !strings.Contains(s, c.Number) {
			t.Fatalf("%q: number %q not from the input", s, c.Number)
		}
	})
}

func FuzzParams(f *testing.F) {
	f.Add("media=sound:a,sound:b&media=sound:c", `{"variable":"X","value":"1"}`)
	f.Add("", `{"variables":{"A":"1","CALLERID(name)":"x"},"timeout":30,"media":["sound:a","sound:b"]}`)
	f.Add("a=%zz", `{`)
	f.Fuzz(func(t *testing.T, query, body string) {
		r := &http.Request{Method: http.MethodPost, URL: &url.URL{Path: "/ari/channels/x/play", RawQuery: query},
			Header: http.Header{"Content-Type": {"application/json"}}, Body: io.NopCloser(bytes.NewBufferString(body))}
		p, err := parseParams(r)
		if err == nil && p.v == nil {
			t.Fatal("nil params without error")
		}
		for _, name := range []string{"CALLERID(num)", "LEN(" + query + ")", body} {
			fn, _, ok := splitFunc(name)
			if ok && fn == "" {
				t.Fatalf("%q: empty function name", name)
			}
		}
	})
}

func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"b\`, "\x00\x1f\n\t\r", "héllo ✓", "\xff\xfe bad", "Local/s@stasisin-00000001;2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b := appendString(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q -> %s: %v", s, b, err)
		}
		want, _ := json.Marshal(s) // encoding/json's reading of the same string
		var ref string
		_ = json.Unmarshal(want, &ref)
		if got != ref {
			t.Fatalf("%q: decoded %q, encoding/json gives %q", s, got, ref)
		}
	})
}
