package ari

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// ErrSocketClosed is the cause of a REST call over an outbound WebSocket
// whose socket closed before the response came (the call's *Error matches
// ErrUnavailable too).
var ErrSocketClosed = errors.New("ari: outbound websocket closed")

// ErrTooManyRequests is the cause of a REST call refused because its
// socket already has ListenerConfig.MaxPending requests outstanding.
var ErrTooManyRequests = errors.New("ari: too many REST requests outstanding on the websocket")

// restParam is a RESTQueryStringParameter (events.json).
type restParam struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// restRequest is the RESTRequest message (events.json).
type restRequest struct {
	Type          string      `json:"type"`
	TransactionID string      `json:"transaction_id"`
	RequestID     string      `json:"request_id"`
	Method        string      `json:"method"`
	URI           string      `json:"uri"`
	ContentType   string      `json:"content_type,omitempty"`
	MessageBody   string      `json:"message_body,omitempty"`
	QueryStrings  []restParam `json:"query_strings,omitempty"`
}

// restResponse is the RESTResponse message (events.json). Asterisk 22.10.1
// sends message_body as a JSON document inside a string; a 204 has neither
// content_type nor message_body.
type restResponse struct {
	Type          string `json:"type"`
	TransactionID string `json:"transaction_id"`
	RequestID     string `json:"request_id"`
	StatusCode    int    `json:"status_code"`
	ReasonPhrase  string `json:"reason_phrase"`
	URI           string `json:"uri"`
	ContentType   string `json:"content_type"`
	MessageBody   string `json:"message_body"`
}

// parseRESTResponse decodes a RESTResponse frame.
func parseRESTResponse(frame []byte) (restResponse, error) {
	var r restResponse
	if err := json.Unmarshal(frame, &r); err != nil {
		return r, fmt.Errorf("ari: RESTResponse: %w", err)
	}
	if r.RequestID == "" {
		return r, errors.New("ari: RESTResponse without request_id")
	}
	if r.StatusCode < 100 || r.StatusCode > 999 {
		return r, fmt.Errorf("ari: RESTResponse %q: status_code %d", r.RequestID, r.StatusCode)
	}
	return r, nil
}

// socketREST is an http.RoundTripper that sends each request as a
// RESTRequest over one outbound WebSocket and returns the matching
// RESTResponse. It is bounded (max outstanding requests), honours the
// request's context (the Client's per-call timeout), and fails every
// outstanding request when the socket closes. Asterisk answers the
// requests of one socket one at a time, in order (see the README's
// head-of-line measurements): callers route the calls Asterisk holds
// elsewhere.
type socketREST struct {
	prefix string                                    // path prefix of the Client's base ("/ari/"), stripped from URIs
	write  func(ctx context.Context, b []byte) error // writes one text frame
	max    int

	mu      sync.Mutex
	seq     uint64
	pending map[string]chan restResponse
	closed  error
}

func newSocketREST(prefix string, max int, write func(context.Context, []byte) error) *socketREST {
	return &socketREST{prefix: prefix, write: write, max: max, pending: map[string]chan restResponse{}}
}

// RoundTrip implements http.RoundTripper.
func (t *socketREST) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxBody))
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("ari: reading the request body: %w", err)
		}
		body = b
	}
	path := req.URL.EscapedPath()
	uri, ok := strings.CutPrefix(path, t.prefix)
	if !ok {
		return nil, fmt.Errorf("ari: path %q is outside the ARI base %q", path, t.prefix)
	}
	m := restRequest{Type: "RESTRequest", Method: req.Method, URI: uri}
	if len(body) > 0 {
		m.ContentType = req.Header.Get("Content-Type")
		if m.ContentType == "" {
			m.ContentType = "application/json"
		}
		m.MessageBody = string(body)
	}
	q := req.URL.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range q[k] {
			m.QueryStrings = append(m.QueryStrings, restParam{Name: k, Value: v})
		}
	}

	ch := make(chan restResponse, 1)
	t.mu.Lock()
	if t.closed != nil {
		err := t.closed
		t.mu.Unlock()
		return nil, err
	}
	if len(t.pending) >= t.max {
		t.mu.Unlock()
		return nil, ErrTooManyRequests
	}
	t.seq++
	id := strconv.FormatUint(t.seq, 10)
	t.pending[id] = ch
	t.mu.Unlock()
	defer t.forget(id)
	m.TransactionID, m.RequestID = id, id

	frame, err := json.Marshal(&m)
	if err != nil {
		return nil, fmt.Errorf("ari: encoding RESTRequest: %w", err)
	}
	ctx := req.Context()
	if err := t.write(ctx, frame); err != nil {
		return nil, fmt.Errorf("ari: sending RESTRequest: %w", err)
	}
	select {
	case r, ok := <-ch:
		if !ok {
			t.mu.Lock()
			err := t.closed
			t.mu.Unlock()
			return nil, err
		}
		return r.httpResponse(req), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (t *socketREST) forget(id string) {
	t.mu.Lock()
	delete(t.pending, id)
	t.mu.Unlock()
}

// deliver hands a response to its request; false when no request waits
// for it (timed out, or an id we never sent).
func (t *socketREST) deliver(r restResponse) bool {
	t.mu.Lock()
	ch, ok := t.pending[r.RequestID]
	if ok {
		delete(t.pending, r.RequestID)
	}
	t.mu.Unlock()
	if ok {
		ch <- r // buffered 1, one send per id
	}
	return ok
}

// outstanding is the number of requests waiting for a response.
func (t *socketREST) outstanding() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.pending)
}

// close fails every outstanding and later request with cause.
func (t *socketREST) close(cause error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed != nil {
		return
	}
	t.closed = fmt.Errorf("%w: %w", ErrSocketClosed, cause)
	for id, ch := range t.pending {
		close(ch)
		delete(t.pending, id)
	}
}

func (r restResponse) httpResponse(req *http.Request) *http.Response {
	h := http.Header{}
	if r.ContentType != "" {
		h.Set("Content-Type", r.ContentType)
	}
	return &http.Response{
		Status:        strconv.Itoa(r.StatusCode) + " " + r.ReasonPhrase,
		StatusCode:    r.StatusCode,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(strings.NewReader(r.MessageBody)),
		ContentLength: int64(len(r.MessageBody)),
		Request:       req,
	}
}
