// Package tcpivr is a small legacy-style ExternalIVR TCP server (the
// ivr://host:port side of ExternalIVR), for end-to-end tests and the demo.
//
// Each connection runs the same menu as internal/ivr/menu.pl: it asks for its
// arguments with P, plays the first argument (default hello-world) with
// autoclear on, then per digit: 1 sets and reads back MENU_CHOICE and plays
// beep, 2 exits to the dialplan (E), 3 hangs up (H), 0 and 4-9 append
// digits/<d>. It ends on E, H or end of input.
//
// Concurrency: Serve runs one goroutine per connection and returns when ctx
// ends (or the listener fails) after closing the listener and every
// connection and waiting for their goroutines.
package tcpivr
