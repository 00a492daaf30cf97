package asterisk

import (
	"io"
	"net"
	"os"
	"time"
)

// relayArg makes this test binary the legacy stdio program: Asterisk (or
// the gateway) runs `<test binary> relay <addr>`, and the relay copies its
// stdin to a TCP connection to the test's listener at addr and the
// connection back to its stdout, so that one Go client drives stdio and
// ivr:// scenarios alike. It exits when either side ends: stdin EOF
// (Asterisk ended the session) or the test closing the connection (the
// script exits).
const relayArg = "relay"

func relay(addr string) int {
	c, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		os.Stderr.WriteString("relay: " + err.Error() + "\n")
		return 2
	}
	done := make(chan struct{}, 2)
	go func() {
		io.Copy(c, os.Stdin)
		c.(*net.TCPConn).CloseWrite()
		done <- struct{}{}
	}()
	go func() {
		io.Copy(os.Stdout, c)
		done <- struct{}{}
	}()
	<-done
	return 0
}
