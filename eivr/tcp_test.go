package eivr

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// Tests of the TCP transport, eivr-protocol.md §3.2, §8.3 and §10 Q26/Q27,
// against servers on the loopback interface.

// listen starts a TCP listener on addr ("127.0.0.1:0", "[::1]:0") closed at
// the end of the test, and returns it with its port.
func listen(t *testing.T, addr string) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("listen %s: %v", addr, err)
	}
	t.Cleanup(func() { ln.Close() })
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return ln, port
}

// accept accepts one connection in the background; the connection is
// closed at the end of the test.
func accept(t *testing.T, ln net.Listener) <-chan net.Conn {
	t.Helper()
	ch := make(chan net.Conn, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			close(ch)
			return
		}
		ch <- c
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		select {
		case c, ok := <-ch: // not taken by server
			if ok {
				c.Close()
			}
		default:
		}
	})
	return ch
}

func server(t *testing.T, ch <-chan net.Conn) net.Conn {
	t.Helper()
	select {
	case c, ok := <-ch:
		if !ok {
			t.Fatal("accept failed")
		}
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(testWait):
		t.Fatal("no connection accepted")
	}
	return nil
}

// dialTest dials host:port and closes the Conn at the end of the test.
func dialTest(t *testing.T, host, port string, cfg TCPConfig) *tcpConn {
	t.Helper()
	c, err := DialTCP(context.Background(), host, port, cfg)
	if err != nil {
		t.Fatalf("DialTCP(%q, %q): %v", host, port, err)
	}
	t.Cleanup(func() {
		if err := c.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return c.(*tcpConn)
}

// §3.2, §1: nothing is sent on connect; events and commands flow both ways;
// Close sends the last event, then shuts the socket down (server sees EOF).
func TestTCP_3_2_ConnectExchangeClose(t *testing.T) {
	checkFDs(t)
	for _, addr := range []string{"127.0.0.1:0", "[::1]:0"} {
		t.Run(addr, func(t *testing.T) {
			ln, port := listen(t, addr)
			host, _, _ := net.SplitHostPort(ln.Addr().String())
			acc := accept(t, ln)
			c := dialTest(t, host, port, TCPConfig{})
			srv := server(t, acc)

			// Nothing on connect: the server reads nothing for a while.
			srv.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			if n, err := srv.Read(make([]byte, 1)); n != 0 || !errors.Is(err, syscall.ETIMEDOUT) && !isTimeout(err) {
				t.Fatalf("server read %d bytes (%v) on connect, want nothing", n, err)
			}
			srv.SetReadDeadline(time.Time{})

			if _, err := io.WriteString(srv, "P,x\nS,beep\n"); err != nil {
				t.Fatal(err)
			}
			if got := readLines(t, bufio.NewReader(c.Commands()), 2); strings.Join(got, "") != "P,x\nS,beep\n" {
				t.Errorf("commands %q", got)
			}
			for _, ev := range []string{"P,1795457122,ivr://x\n", "E,1795457122\n"} {
				if err := c.Send([]byte(ev)); err != nil {
					t.Fatal(err)
				}
			}
			if err := c.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(srv)
			if err != nil || string(b) != "P,1795457122,ivr://x\nE,1795457122\n" {
				t.Errorf("server read %q, %v; want both events then EOF", b, err)
			}
		})
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// §3.2: a refused connection fails with ErrConnect naming the address.
func TestTCP_3_2_Refused(t *testing.T) {
	checkFDs(t)
	ln, port := listen(t, "127.0.0.1:0")
	ln.Close()
	_, err := DialTCP(context.Background(), "127.0.0.1", port, TCPConfig{})
	if !errors.Is(err, ErrConnect) || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("DialTCP = %v, want ErrConnect and ECONNREFUSED", err)
	}
	var de *DialError
	if !errors.As(err, &de) || len(de.Attempts) != 1 || de.Attempts[0].Addr != "127.0.0.1:"+port {
		t.Errorf("DialError = %+v, want one attempt at 127.0.0.1:%s", de, port)
	}
	if want := "could not connect to any host: 127.0.0.1:" + port + ": 127.0.0.1:" + port + ": connect: connection refused"; err.Error() != want {
		t.Errorf("error text %q, want %q", err, want)
	}
}

// fakeResolver resolves every host to addrs.
type fakeResolver []net.IPAddr

func (f fakeResolver) LookupIPAddr(context.Context, string) ([]net.IPAddr, error) { return f, nil }
func (f fakeResolver) LookupPort(ctx context.Context, network, service string) (int, error) {
	return net.DefaultResolver.LookupPort(ctx, network, service)
}

// §3.2: every resolved address is tried in the order resolved; the first
// that accepts wins; when none does, the error lists them all in order.
func TestTCP_3_2_EveryAddressInOrder(t *testing.T) {
	checkFDs(t)
	ln, port := listen(t, "127.0.0.1:0")
	acc := accept(t, ln)
	// Nothing listens on 127.0.0.2 and 127.0.0.3 (loopback, other addresses).
	res := fakeResolver{{IP: net.ParseIP("127.0.0.2")}, {IP: net.ParseIP("127.0.0.3")}, {IP: net.ParseIP("127.0.0.1")}}
	c := dialTest(t, "ivr.example", port, TCPConfig{Resolver: res})
	server(t, acc)
	if got := c.c.RemoteAddr().(*net.TCPAddr).IP; !got.Equal(net.ParseIP("127.0.0.1")) {
		t.Errorf("connected to %v, want 127.0.0.1", got)
	}

	_, err := DialTCP(context.Background(), "ivr.example", port, TCPConfig{Resolver: res[:2]})
	var de *DialError
	if !errors.As(err, &de) {
		t.Fatalf("DialTCP = %v, want a *DialError", err)
	}
	var tried []string
	for _, a := range de.Attempts {
		tried = append(tried, a.Addr)
	}
	if want := []string{"127.0.0.2:" + port, "127.0.0.3:" + port}; !slices.Equal(tried, want) {
		t.Errorf("tried %q, want %q", tried, want)
	}
	if !strings.Contains(err.Error(), "ivr.example:"+port) {
		t.Errorf("error %q does not name the host", err)
	}
}

// §3.2: resolution failures are ErrResolve; the dial is bounded (Q26).
func TestTCP_3_2_ResolveErrors(t *testing.T) {
	failing := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return nil, errors.New("no DNS in this test")
	}}
	hanging := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}}
	tests := []struct {
		name, host, port string
		cfg              TCPConfig
	}{
		{"unknown host", "no-such-host.invalid", "", TCPConfig{Resolver: failing}},
		{"empty host", "", "2949", TCPConfig{}},
		{"unknown service", "127.0.0.1", "no-such-service-eivr", TCPConfig{}},
		{"resolution bounded", "slow.example", "", TCPConfig{Resolver: hanging, ConnectTimeout: 100 * time.Millisecond}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFDs(t)
			start := time.Now()
			c, err := DialTCP(context.Background(), tt.host, tt.port, tt.cfg)
			if err == nil {
				c.Close(context.Background())
				t.Fatal("DialTCP succeeded")
			}
			if !errors.Is(err, ErrResolve) {
				t.Errorf("DialTCP = %v, want ErrResolve", err)
			}
			if tt.host != "" && !strings.Contains(err.Error(), strconv.Quote(tt.host)) {
				t.Errorf("error %q does not name the host", err)
			}
			if d := time.Since(start); d > 5*time.Second {
				t.Errorf("DialTCP took %v", d)
			}
		})
	}
}

// §3.2: port "" and "0" mean 2949; service names are resolved.
func TestTCP_3_2_Ports(t *testing.T) {
	tests := []struct{ in, want string }{{"", "2949"}, {"0", "2949"}, {"3000", "3000"}}
	for _, tt := range tests {
		// A refused dial reports the port it used.
		c, err := DialTCP(context.Background(), "127.0.0.1", tt.in, TCPConfig{ConnectTimeout: time.Second})
		if err == nil { // something listens there: nothing to learn
			c.Close(context.Background())
			continue
		}
		var de *DialError
		if errors.As(err, &de) && de.Port != tt.want {
			t.Errorf("port %q dialled as %q, want %q", tt.in, de.Port, tt.want)
		}
	}
}

// §8.3: the server closing mid-call ends the session: Commands reads EOF,
// Done closes with ErrClientEOF, the next events fail.
func TestTCP_8_3_ServerClosesMidCall(t *testing.T) {
	checkFDs(t)
	ln, port := listen(t, "127.0.0.1:0")
	acc := accept(t, ln)
	c := dialTest(t, "127.0.0.1", port, TCPConfig{})
	srv := server(t, acc)
	io.WriteString(srv, "S,beep\n")
	srv.Close()
	b, err := io.ReadAll(c.Commands())
	if err != nil || string(b) != "S,beep\n" {
		t.Errorf("Commands: %q, %v; want the line then EOF", b, err)
	}
	if err := waitDone(t, c); !errors.Is(err, ErrClientEOF) {
		t.Errorf("Err() = %v, want ErrClientEOF", err)
	}
	testwait.For(testWait, func() bool {
		err = c.Send([]byte("F,1795457122,beep\n"))
		return err != nil
	})
	if !errorsIsAny(err, syscall.EPIPE, syscall.ECONNRESET) {
		t.Errorf("Send to a closed server = %v, want EPIPE or ECONNRESET", err)
	}
}

// A server that accepts and stays silent is legal: no timeout ends it.
func TestTCP_SilentServerKept(t *testing.T) {
	checkFDs(t)
	ln, port := listen(t, "127.0.0.1:0")
	acc := accept(t, ln)
	c := dialTest(t, "127.0.0.1", port, TCPConfig{})
	srv := server(t, acc)
	read := make(chan error, 1)
	go func() {
		_, err := c.Commands().Read(make([]byte, 64))
		read <- err
	}()
	select {
	case <-c.Done():
		t.Fatalf("silent server dropped: %v", c.Err())
	case err := <-read:
		t.Fatalf("read returned %v from a silent server", err)
	case <-time.After(300 * time.Millisecond): // absence check
	}
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-read; !errors.Is(err, ErrConnClosed) {
		t.Errorf("pending read after Close = %v, want ErrConnClosed", err)
	}
	if b, err := io.ReadAll(srv); err != nil || len(b) != 0 {
		t.Errorf("server read %q, %v; want EOF", b, err)
	}
}

// §10 Q27 over TCP: a server that never reads gets ErrSlowClient once the
// socket buffers and the queue are full; Close is prompt anyway.
func TestTCP_Q27_SlowServer(t *testing.T) {
	checkFDs(t)
	ln, port := listen(t, "127.0.0.1:0")
	acc := accept(t, ln)
	c := dialTest(t, "127.0.0.1", port, TCPConfig{QueueBytes: 4096})
	server(t, acc)
	line := []byte("F,1795457122," + strings.Repeat("x", 1000) + "\n")
	var err error
	for sent := 0; sent < 1<<30; sent += len(line) {
		if err = c.Send(line); err != nil {
			break
		}
		if sent%(64<<10) == 0 {
			time.Sleep(time.Millisecond) // let the writer fill the socket
		}
	}
	if !errors.Is(err, ErrSlowClient) {
		t.Fatalf("Send = %v, want ErrSlowClient", err)
	}
	if err := waitDone(t, c); !errors.Is(err, ErrSlowClient) {
		t.Errorf("Err() = %v, want ErrSlowClient", err)
	}
	start := time.Now()
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Close of a broken conn took %v", d)
	}
}

// Close flushes queued events at most FlushTimeout when the server does not
// read, then closes anyway.
func TestTCP_CloseFlushBounded(t *testing.T) {
	checkFDs(t)
	ln, port := listen(t, "127.0.0.1:0")
	acc := accept(t, ln)
	c := dialTest(t, "127.0.0.1", port, TCPConfig{QueueBytes: 64 << 20, FlushTimeout: 100 * time.Millisecond})
	server(t, acc)
	line := []byte(strings.Repeat("x", 64<<10) + "\n")
	for range 256 { // 16 MiB: more than loopback socket buffers hold
		if err := c.Send(line); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	if err := c.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with a 100 ms flush timeout", d)
	}
}

// §10 Q26: a server that never completes the handshake (its accept queue
// is full, so the kernel drops our SYNs) costs at most ConnectTimeout.
func TestTCP_Q26_ConnectTimeout(t *testing.T) {
	checkFDs(t)
	port := fullBacklog(t)
	start := time.Now()
	c, err := DialTCP(context.Background(), "127.0.0.1", port, TCPConfig{ConnectTimeout: 300 * time.Millisecond})
	if err == nil {
		c.Close(context.Background())
		t.Skip("the kernel accepted a connection beyond the backlog")
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("DialTCP took %v with a 300 ms connect timeout", d)
	}
	if !errors.Is(err, ErrConnect) || !isTimeout(err) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("DialTCP = %v, want ErrConnect with a timeout", err)
	}
}

// fullBacklog returns the port of a listener whose accept queue is full:
// listen(2) with backlog 0, filled by connections nobody accepts.
func fullBacklog(t *testing.T) string {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Skip(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Skip(err)
	}
	if err := syscall.Listen(fd, 0); err != nil {
		t.Skip(err)
	}
	sa, _ := syscall.Getsockname(fd)
	port := strconv.Itoa(sa.(*syscall.SockaddrInet4).Port)
	for range 4 { // fill the queue; the dials that hang here are cut short
		d := net.Dialer{Timeout: 100 * time.Millisecond}
		if c, err := d.Dial("tcp", "127.0.0.1:"+port); err == nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	return port
}

// BenchmarkTCPConnMemory reports the memory of an idle Conn (heap and
// goroutine stacks, the loopback server's end included) after one event.
func BenchmarkTCPConnMemory(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Skip(err)
	}
	defer ln.Close()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	accepted := make(chan net.Conn, 1024)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				close(accepted)
				return
			}
			accepted <- c
		}
	}()
	const n = 500
	var perConn float64
	for b.Loop() {
		var m0, m1 runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&m0)
		conns := make([]Conn, 0, n)
		srvs := make([]net.Conn, 0, n)
		for range n {
			c, err := DialTCP(context.Background(), "127.0.0.1", port, TCPConfig{})
			if err != nil {
				b.Fatal(err)
			}
			c.Send([]byte("F,1795457122,hello-world\n"))
			conns = append(conns, c)
			srvs = append(srvs, <-accepted)
		}
		runtime.GC()
		runtime.ReadMemStats(&m1)
		perConn = float64(m1.HeapAlloc+m1.StackInuse-m0.HeapAlloc-m0.StackInuse) / n
		for i, c := range conns {
			c.Close(context.Background())
			srvs[i].Close()
		}
	}
	b.ReportMetric(perConn, "B/conn")
	ln.Close()
	for range accepted {
	}
}

// Keep-alive is on by default (a dead server is noticed even when the call
// is silent) and off when KeepAlive is negative.
func TestTCP_KeepAlive(t *testing.T) {
	for _, tt := range []struct {
		ka   time.Duration
		want int
	}{{0, 1}, {-1, 0}} {
		ln, port := listen(t, "127.0.0.1:0")
		acc := accept(t, ln)
		c := dialTest(t, "127.0.0.1", port, TCPConfig{KeepAlive: tt.ka})
		server(t, acc)
		rc, err := c.c.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var on int
		rc.Control(func(fd uintptr) {
			on, err = syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
		})
		if err != nil || on != tt.want {
			t.Errorf("KeepAlive %v: SO_KEEPALIVE = %d (%v), want %d", tt.ka, on, err, tt.want)
		}
	}
}
