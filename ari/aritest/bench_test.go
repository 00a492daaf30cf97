package aritest

import (
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// BenchmarkEncodeEvent: one ChannelDtmfReceived frame, as published.
func BenchmarkEncodeEvent(b *testing.B) {
	c := &channel{id: "1795457104.96", name: "Local/s@stasisin-00000001;2", state: "Up", lang: "en",
		caller: callerJSON{"Test Caller", "5551234"}, created: time.Now(),
		dp: dialplanJSON{Context: "stasisin", Exten: "s", Priority: 2, AppName: "Stasis", AppData: "gw,arg1,arg2"}}
	b.ReportAllocs()
	for b.Loop() {
		_ = encodeEvent("ChannelDtmfReceived", time.Now(), "02:fc:00:00:00:01", "gw", nil,
			[]kv{{"digit", "5"}, {"duration_ms", 100}, {"channel", c.json()}})
	}
}

// BenchmarkPublishToSocket: event published under the server lock until
// a WebSocket client has read it (encode, queue, write, read).
func BenchmarkPublishToSocket(b *testing.B) {
	s := newServer(b, Options{WriteTimeout: -1}) // a descheduled reader must not get dropped
	conn, resp, err := websocket.DefaultDialer.Dial(s.WebSocketURL("gw")+"&api_key=asterisk:asterisk", nil)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	defer conn.Close()
	id, err := s.StartCall("gw", nil, CallOptions{Answered: true})
	if err != nil {
		b.Fatal(err)
	}
	if _, _, err := conn.ReadMessage(); err != nil { // StasisStart
		b.Fatal(err)
	}
	read := make(chan error, 1)
	b.ReportAllocs()
	b.ResetTimer()
	go func() {
		for i := 0; i < b.N; i++ {
			if _, _, err := conn.ReadMessage(); err != nil {
				read <- err
				return
			}
		}
		read <- nil
	}()
	for i := 0; i < b.N; i++ {
		s.mu.Lock()
		s.emitLocked(s.chans[id], "ChannelDtmfReceived", nil, []kv{{"digit", "5"}, {"duration_ms", 100}})
		s.mu.Unlock()
	}
	if err := <-read; err != nil {
		b.Fatal(err)
	}
}
