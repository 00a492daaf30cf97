package ari

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkListenerREST: one GET variable round trip over an outbound
// socket (RESTRequest/RESTResponse, a fake Asterisk answering at once)
// against the same call over plain HTTP (rest = http) on loopback.
func BenchmarkListenerREST(b *testing.B) {
	ariHTTP := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"value":"v"}`))
	}))
	defer ariHTTP.Close()
	for _, mode := range []RESTMode{RESTSocket, RESTHTTP} {
		b.Run(mode.String(), func(b *testing.B) {
			f := newListenerFixture(b, ListenerConfig{Peers: []Peer{{Name: "pbx1", Username: "u", Password: "p", REST: mode,
				HTTP: Config{URL: ariHTTP.URL + "/ari", Username: "a", Password: "b"}}}})
			a, _, err := dialListener(b, f.url(), "u", "p")
			if err != nil {
				b.Fatal(err)
			}
			go func() { // the fake Asterisk: answer every request at once
				for {
					_, m, err := a.ws.ReadMessage()
					if err != nil {
						return
					}
					var r restRequest
					if json.Unmarshal(m, &r) != nil {
						continue
					}
					a.wmu.Lock()
					err = a.ws.WriteJSON(map[string]any{"type": "RESTResponse", "transaction_id": r.TransactionID, "request_id": r.RequestID,
						"status_code": 200, "reason_phrase": "OK", "uri": r.URI, "content_type": "application/json", "message_body": `{"value":"v"}`})
					a.wmu.Unlock()
					if err != nil {
						return
					}
				}
			}()
			cl := f.accepted(b).c.Client()
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				if v, err := cl.GetVariable(ctx, "c1", "X"); err != nil || v != "v" {
					b.Fatalf("%q %v", v, err)
				}
			}
			b.StopTimer()
			a.ws.Close()
		})
	}
}
