package tcpivr

import (
	"bufio"
	"context"
	"errors"
	"net"
	"strings"
	"sync"
)

// Server is the menu server. The zero value serves the default menu.
type Server struct {
	// Greeting is played when the call gives no first argument.
	// Default "hello-world".
	Greeting string
	// Transcript, if set, receives every line the server reads from the
	// gateway (its '\n' included), with the connection's remote address.
	// It is called from the connection's goroutine.
	Transcript func(remote, line string)
}

// Serve serves the default menu on ln until ctx ends.
func Serve(ctx context.Context, ln net.Listener) error {
	return (&Server{}).Serve(ctx, ln)
}

// Serve accepts connections on ln until ctx ends, then closes ln and every
// open connection and waits for their goroutines. It returns nil after ctx
// ended, else the accept error.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	conns := map[net.Conn]struct{}{}
	stop := context.AfterFunc(ctx, func() {
		ln.Close()
		mu.Lock()
		for c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	defer stop()
	defer wg.Wait()
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		mu.Lock()
		conns[c] = struct{}{}
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(c)
			mu.Lock()
			delete(conns, c)
			mu.Unlock()
			c.Close()
		}()
	}
}

func (s *Server) serveConn(c net.Conn) {
	remote := c.RemoteAddr().String()
	w := bufio.NewWriter(c)
	send := func(lines ...string) bool {
		for _, l := range lines {
			w.WriteString(l)
			w.WriteByte('\n')
		}
		return w.Flush() == nil
	}
	if !send("P,args") {
		return
	}
	r := bufio.NewReader(c)
	for {
		line, err := r.ReadString('\n')
		if line != "" && s.Transcript != nil {
			s.Transcript(remote, line)
		}
		if err != nil {
			return
		}
		tag, rest, _ := strings.Cut(strings.TrimRight(line, "\n"), ",")
		_, data, hasData := strings.Cut(rest, ",")
		ok := true
		switch {
		case tag == "P":
			greeting := s.Greeting
			if greeting == "" {
				greeting = "hello-world"
			}
			// data = argv joined by ",": target, then arguments.
			if args := strings.Split(data, ","); len(args) > 1 && args[1] != "" {
				greeting = args[1]
			}
			ok = send("O,autoclear", "S,"+greeting)
		case len(tag) == 1 && strings.Contains("0123456789*#ABCD", tag) && !hasData:
			switch tag {
			case "1":
				ok = send("V,MENU_CHOICE=1", "G,MENU_CHOICE")
			case "2":
				ok = send("E,menu-exit")
			case "3":
				ok = send("H,menu-hangup")
			case "0", "4", "5", "6", "7", "8", "9":
				ok = send("A,digits/" + tag)
			}
		case tag == "G":
			ok = send("S,beep")
		case tag == "E" || tag == "H":
			return
		}
		if !ok {
			return
		}
	}
}
