// Command tcpivr runs the internal/ivr/tcpivr menu server, a legacy-style
// ExternalIVR TCP server, for the demo:
//
//	tcpivr -listen 127.0.0.1:2949
//
// Dialplan: Stasis(eivr,ivr://127.0.0.1:2949(hello-world)). It logs every
// line it receives on stderr and stops on SIGINT/SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/eivr-gateway/eivr-gateway/internal/ivr/tcpivr"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:2949", "address to listen on")
	greeting := flag.String("greeting", "hello-world", "file played when the call gives no argument")
	quiet := flag.Bool("q", false, "do not log received lines")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcpivr:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "tcpivr: listening on", ln.Addr())
	s := &tcpivr.Server{Greeting: *greeting}
	if !*quiet {
		s.Transcript = func(remote, line string) { fmt.Fprintf(os.Stderr, "%s < %q\n", remote, line) }
	}
	if err := s.Serve(ctx, ln); err != nil {
		fmt.Fprintln(os.Stderr, "tcpivr:", err)
		os.Exit(1)
	}
}
