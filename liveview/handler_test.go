package liveview

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return res, string(body)
}

func TestHandler(t *testing.T) {
	tests := []struct {
		name     string
		opt      Options
		path     string
		code     int
		ctype    string
		contains []string
	}{
		{"page with defaults", Options{}, "/", 200, "text/html; charset=utf-8", []string{
			`<script src="live.js" defer></script>`,
			`<meta name="eivr-live" data-events="v1/events" data-linger="30000" data-max-calls="200" data-max-lines="300">`,
		}},
		{"page with options", Options{Events: `x/"ev"`, Linger: 2 * time.Second, MaxCalls: 5, MaxLines: 7}, "/", 200, "text/html; charset=utf-8", []string{
			`data-events="x/&#34;ev&#34;" data-linger="2000" data-max-calls="5" data-max-lines="7">`,
		}},
		{"script", Options{}, "/live.js", 200, "text/javascript; charset=utf-8", []string{
			`'Authorization': 'Bearer ' + token`, `headers['Last-Event-ID'] = lastID`,
		}},
		{"style", Options{}, "/live.css", 200, "text/css; charset=utf-8", []string{".call"}},
		{"anything else", Options{}, "/live/nothing", 404, "text/plain; charset=utf-8", []string{"404"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(Handler(tt.opt))
			defer srv.Close()
			res, body := get(t, srv.URL+tt.path)
			if res.StatusCode != tt.code || res.Header.Get("Content-Type") != tt.ctype {
				t.Fatalf("%d %q, want %d %q:\n%s", res.StatusCode, res.Header.Get("Content-Type"), tt.code, tt.ctype, body)
			}
			for _, s := range tt.contains {
				if !strings.Contains(body, s) {
					t.Errorf("no %q in:\n%s", s, body)
				}
			}
			if tt.code == 200 {
				if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'none'") || !strings.Contains(csp, "script-src 'self'") {
					t.Errorf("CSP %q", csp)
				}
				if res.Header.Get("X-Content-Type-Options") != "nosniff" {
					t.Errorf("headers %v", res.Header)
				}
			}
		})
	}
}

// TestNoExternalAssets: the page loads nothing from elsewhere and never
// puts the token in a URL or in markup.
func TestNoExternalAssets(t *testing.T) {
	for _, name := range []string{"static/index.html", "static/live.js", "static/live.css"} {
		data := string(mustRead(name))
		for _, bad := range []string{"http://", "https://", "//cdn", "innerHTML", "?token", "&token", "eval("} {
			if strings.Contains(data, bad) {
				t.Errorf("%s contains %q", name, bad)
			}
		}
	}
}
