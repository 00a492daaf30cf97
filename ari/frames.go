package ari

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
)

// The event socket's read side. gorilla/websocket dials, does the HTTP
// upgrade and writes the control frames (pings, pongs, close); the read
// loop reads the server's frames itself (RFC 6455 §5) from its own
// bufio.Reader on the connection: a message that arrives in one frame is
// handed out in place, straight from the read buffer (no copy, and no
// per-message reader object as gorilla's NextReader allocates).
//
// So that no byte of a frame is left in gorilla's own read buffer, the
// connection reads the HTTP response one byte a Read while gorilla parses
// it (handshakeConn): the response ends at its blank line (a 101 has no
// body) and the first frame byte is still on the socket.

// errProtocol is the cause of a frame the server should not have sent.
var errProtocol = errors.New("ari: WebSocket protocol error")

// controlWriter is what frameReader needs to answer pings and a close.
type controlWriter interface {
	WriteControl(messageType int, data []byte, deadline time.Time) error
}

// controlWait bounds the write of a pong or close reply (as gorilla's
// default handlers do).
const controlWait = time.Second

// frameReader reads the messages of a server-to-client WebSocket.
type frameReader struct {
	br    *bufio.Reader
	ctl   controlWriter
	limit int64  // largest message accepted; <= 0: no limit
	pong  func() // called for every pong
	msg   []byte // a message assembled from fragments, or larger than br's buffer
	skip  int    // bytes of the frame returned last, still in br
	ctlp  [125]byte
}

func newFrameReader(r io.Reader, ctl controlWriter, limit int64, pong func()) *frameReader {
	return &frameReader{br: bufio.NewReaderSize(r, 64<<10), ctl: ctl, limit: limit, pong: pong}
}

// next returns the next data message and its type (websocket.TextMessage
// or BinaryMessage), answering pings and calling pong on the way. p is
// valid until the next call. A close frame from the server is answered
// and returned as a *websocket.CloseError; a message larger than limit is
// websocket.ErrReadLimit (after a close 1009 to the server); a frame
// against the protocol is errProtocol (after a close 1002). Errors of the
// connection are returned as they are (timeouts stay net.Errors), io.EOF
// as io.ErrUnexpectedEOF when it cuts a frame or a message.
func (r *frameReader) next() (mt int, p []byte, err error) {
	if r.skip > 0 {
		_, _ = r.br.Discard(r.skip) // buffered: cannot fail
		r.skip = 0
	}
	r.msg = r.msg[:0]
	for {
		h, err := r.br.Peek(2)
		if err != nil {
			if mt != 0 || r.br.Buffered() > 0 {
				err = noEOF(err) // inside a message or a frame
			}
			return 0, nil, err
		}
		fin, op := h[0]&0x80 != 0, int(h[0]&0x0f)
		if h[0]&0x70 != 0 {
			return 0, nil, r.fail(websocket.CloseProtocolError, "reserved bits set (no extension was negotiated)")
		}
		if h[1]&0x80 != 0 {
			return 0, nil, r.fail(websocket.CloseProtocolError, "masked frame from the server")
		}
		n, hl := uint64(h[1]&0x7f), 2
		switch n {
		case 126:
			hl = 4
		case 127:
			hl = 10
		}
		if hl > 2 {
			if h, err = r.br.Peek(hl); err != nil {
				return 0, nil, noEOF(err)
			}
			if hl == 4 {
				n = uint64(binary.BigEndian.Uint16(h[2:]))
			} else if n = binary.BigEndian.Uint64(h[2:]); n>>63 != 0 {
				return 0, nil, r.fail(websocket.CloseProtocolError, "frame length with the high bit set")
			}
		}
		if op >= 8 {
			if err := r.control(op, fin, n, hl); err != nil {
				return 0, nil, err
			}
			continue
		}
		switch {
		case op == 0:
			if mt == 0 {
				return 0, nil, r.fail(websocket.CloseProtocolError, "continuation frame outside a message")
			}
		case op == websocket.TextMessage || op == websocket.BinaryMessage:
			if mt != 0 {
				return 0, nil, r.fail(websocket.CloseProtocolError, "data frame inside a fragmented message")
			}
			mt = op
		default:
			return 0, nil, r.fail(websocket.CloseProtocolError, fmt.Sprintf("unknown opcode %d", op))
		}
		if r.limit > 0 && n > uint64(r.limit)-uint64(len(r.msg)) {
			_ = r.ctl.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseMessageTooBig, ""), time.Now().Add(controlWait))
			return 0, nil, websocket.ErrReadLimit
		}
		if fin && len(r.msg) == 0 && uint64(hl)+n <= uint64(r.br.Size()) {
			f, err := r.br.Peek(hl + int(n))
			if err != nil {
				return 0, nil, noEOF(err)
			}
			r.skip = hl + int(n)
			return mt, f[hl:], nil
		}
		if n > uint64(maxInt-len(r.msg)) {
			return 0, nil, r.fail(websocket.CloseMessageTooBig, "message too large")
		}
		_, _ = r.br.Discard(hl) // peeked: buffered
		at := len(r.msg)
		r.msg = slices.Grow(r.msg, int(n))[:at+int(n)]
		if _, err := io.ReadFull(r.br, r.msg[at:]); err != nil {
			return 0, nil, noEOF(err)
		}
		if fin {
			return mt, r.msg, nil
		}
	}
}

const maxInt = int(^uint(0) >> 1)

// control handles a control frame whose header (hl bytes) is buffered.
func (r *frameReader) control(op int, fin bool, n uint64, hl int) error {
	if !fin || n > 125 {
		return r.fail(websocket.CloseProtocolError, "fragmented or oversized control frame")
	}
	_, _ = r.br.Discard(hl)
	p := r.ctlp[:n]
	if _, err := io.ReadFull(r.br, p); err != nil {
		return noEOF(err)
	}
	switch op {
	case websocket.PingMessage:
		// As gorilla's default ping handler: a failed write shows on the
		// read side soon enough.
		_ = r.ctl.WriteControl(websocket.PongMessage, p, time.Now().Add(controlWait))
	case websocket.PongMessage:
		r.pong()
	case websocket.CloseMessage:
		code, text := websocket.CloseNoStatusReceived, ""
		switch {
		case n == 1:
			return r.fail(websocket.CloseProtocolError, "close frame of one byte")
		case n >= 2:
			code, text = int(binary.BigEndian.Uint16(p)), string(p[2:])
			if !utf8.ValidString(text) {
				return r.fail(websocket.CloseProtocolError, "close reason is not UTF-8")
			}
		}
		reply := websocket.FormatCloseMessage(code, "")
		if code == websocket.CloseNoStatusReceived {
			reply = websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
		}
		_ = r.ctl.WriteControl(websocket.CloseMessage, reply, time.Now().Add(controlWait))
		return &websocket.CloseError{Code: code, Text: text}
	default:
		return r.fail(websocket.CloseProtocolError, fmt.Sprintf("unknown control opcode %d", op))
	}
	return nil
}

// fail closes the socket with code and returns errProtocol with why.
func (r *frameReader) fail(code int, why string) error {
	_ = r.ctl.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, why), time.Now().Add(controlWait))
	return fmt.Errorf("%w: %s", errProtocol, why)
}

// noEOF: a connection that ends inside a frame ended unexpectedly.
func noEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// handshakeConn reads one byte a Read while byteReads is set (during the
// HTTP upgrade), then passes reads through.
type handshakeConn struct {
	net.Conn
	byteReads bool
}

func (c *handshakeConn) Read(p []byte) (int, error) {
	if c.byteReads && len(p) > 1 {
		p = p[:1]
	}
	return c.Conn.Read(p)
}

// frameDialer returns a copy of d whose connections are handshakeConns,
// reported to got; for wss the TLS handshake is done here, below the
// wrapper, as gorilla would (ServerName defaults to the host).
func frameDialer(d *websocket.Dialer, got func(*handshakeConn)) *websocket.Dialer {
	fd := *d
	fd.ReadBufferSize = 256 // gorilla's reader sees only the HTTP response
	var nd net.Dialer
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nd.DialContext(ctx, network, addr)
	}
	fd.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		hc := &handshakeConn{Conn: nc, byteReads: true}
		got(hc)
		return hc, nil
	}
	fd.NetDialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		cfg := d.TLSClientConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				host = addr
			}
			cfg.ServerName = host
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, err
		}
		hc := &handshakeConn{Conn: tc, byteReads: true}
		got(hc)
		return hc, nil
	}
	return &fd
}
