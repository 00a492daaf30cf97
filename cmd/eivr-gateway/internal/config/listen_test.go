package config

import (
	"strings"
	"testing"
	"time"
)

func TestValidateListen(t *testing.T) {
	ok := ListenAsterisk{Name: "pbx1", Username: "u1", Password: "p1"}
	for _, tc := range []struct {
		name string
		l    Listen
		want []string // keys reported; nil = valid
	}{
		{"off", Listen{Path: "/ari"}, nil},
		{"one asterisk", Listen{Address: ":8089", Path: "/ari", Asterisks: []ListenAsterisk{ok}}, nil},
		{"split with url", Listen{Address: ":8089", Path: "/ari", Asterisks: []ListenAsterisk{{Name: "a", Username: "u", Password: "p", REST: "split", ARIURL: "http://a:8088/ari"}}}, nil},
		{"asterisks without address", Listen{Path: "/ari", Asterisks: []ListenAsterisk{ok}}, []string{"listen.address"}},
		{"bad address", Listen{Address: "8089", Path: "/ari", Asterisks: []ListenAsterisk{ok}}, []string{"listen.address"}},
		{"no asterisk", Listen{Address: ":8089", Path: "/ari"}, []string{"listen.asterisk"}},
		{"relative path", Listen{Address: ":8089", Path: "ari", Asterisks: []ListenAsterisk{ok}}, []string{"listen.path"}},
		{"cert without key", Listen{Address: ":8089", Path: "/ari", CertFile: "/c.pem", Asterisks: []ListenAsterisk{ok}}, []string{"listen.cert_file"}},
		{"duplicates", Listen{Address: ":8089", Path: "/ari", Asterisks: []ListenAsterisk{ok, ok}}, []string{"listen.asterisk[1].name", "listen.asterisk[1].username"}},
		{"empty credentials", Listen{Address: ":8089", Path: "/ari", Asterisks: []ListenAsterisk{{Name: "a"}}}, []string{"listen.asterisk[0].username", "listen.asterisk[0].password"}},
		{"split without url", Listen{Address: ":8089", Path: "/ari", Asterisks: []ListenAsterisk{{Name: "a", Username: "u", Password: "p", REST: "http"}}}, []string{"listen.asterisk[0].ari_url"}},
		{"bad rest", Listen{Address: ":8089", Path: "/ari", Asterisks: []ListenAsterisk{{Name: "a", Username: "u", Password: "p", REST: "fast"}}}, []string{"listen.asterisk[0].rest"}},
		{"bad url", Listen{Address: ":8089", Path: "/ari", Asterisks: []ListenAsterisk{{Name: "a", Username: "u", Password: "p", ARIURL: "ws://a/ari"}}}, []string{"listen.asterisk[0].ari_url"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.l.RedialWindow = c.Listen.RedialWindow
			c.Listen = tc.l
			var got []string
			for _, p := range Problems(c.Validate()) {
				got = append(got, p.Key)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("problems %q, want %q", got, tc.want)
			}
		})
	}
	// A zero redial window would end a persistent socket's calls at once.
	cw := Default()
	cw.Listen = Listen{Address: ":8089", Path: "/ari", Asterisks: []ListenAsterisk{ok}}
	if p := Problems(cw.Validate()); len(p) != 1 || p[0].Key != "listen.redial_window" {
		t.Errorf("redial_window 0s: problems %v, want listen.redial_window", p)
	}
	// [cti] sources in listener mode: served over Asterisk's persistent
	// outbound socket of cti.app.
	c0 := Default()
	c0.Listen = Listen{Address: ":8089", Path: "/ari", RedialWindow: Dur(time.Second), Asterisks: []ListenAsterisk{ok}}
	c0.CTI.Endpoints = []string{"PJSIP"}
	if err := c0.Validate(); err != nil {
		t.Errorf("[cti] with [listen]: %v, want valid", err)
	}
	// In listener mode ari.urls may be empty.
	c := Default()
	c.ARI.URLs = nil
	c.Listen = Listen{Address: ":8089", Path: "/ari", RedialWindow: Dur(time.Second), Asterisks: []ListenAsterisk{ok}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}
