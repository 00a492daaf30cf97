package aritest

import (
	"encoding/json"
	"testing"
)

// FuzzOutboundRESTRequest: any RESTRequest frame the outbound socket
// parses is answered with one well-formed RESTResponse carrying its ids,
// never a panic.
func FuzzOutboundRESTRequest(f *testing.F) {
	f.Add([]byte(`{"type":"RESTRequest","transaction_id":"t","request_id":"r1","method":"GET","uri":"channels/c1/variable","query_strings":[{"name":"variable","value":"X"}]}`))
	f.Add([]byte(`{"type":"RESTRequest","request_id":"r2","method":"POST","uri":"channels","content_type":"application/json","message_body":"{\"variables\":{}}"}`))
	f.Add([]byte(`{"type":"RESTRequest","request_id":"r3","method":"BAD METHOD","uri":"../../x?y#z"}`))
	s, err := NewServer(Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	f.Fuzz(func(t *testing.T, b []byte) {
		var req restRequestJSON
		if json.Unmarshal(b, &req) != nil || req.Type != "RESTRequest" {
			return
		}
		var resp map[string]any
		if err := json.Unmarshal(s.runRESTRequest(req, "gw"), &resp); err != nil {
			t.Fatalf("response does not decode: %v", err)
		}
		if resp["type"] != "RESTResponse" || resp["request_id"] != req.RequestID || resp["transaction_id"] != req.TransactionID {
			t.Fatalf("response %v for request %+v", resp, req)
		}
		if code, ok := resp["status_code"].(float64); !ok || code < 100 || code > 599 {
			t.Fatalf("status_code %v", resp["status_code"])
		}
	})
}
