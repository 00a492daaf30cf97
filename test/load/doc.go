// Command load drives N concurrent calls through the real gateway against
// the fake Asterisk (ari/aritest) and reports what one box holds.
//
//	go run ./test/load -tcp 10000          # 10k ivr:// sessions
//	go run ./test/load -stdio 1000         # 1k legacy sh children
//	go run ./test/load -tcp 1000 -stdio 100 -speed 50 -start-rate 1000 -rate 2000
//
// The fake Asterisk and the clients run in this process; the gateway (an
// ari.Client and a gateway.Gateway, as cmd/eivr-gateway runs them) runs in a
// child process started from this same binary, so that its memory,
// goroutines and CPU are measured alone.
//
// Each call runs the same legacy script, over TCP (a goroutine of this
// process playing an ivr:// server) or over stdio (testdata/load.sh, one sh
// child per call): P, V,LOAD_IN=<id>, G,LOAD_IN (checked), S,beep (waits
// for F); calls enter at -start-rate per second. When every call has
// reached that point the gateway's memory and goroutines are sampled (N
// live, idle sessions), then the calls are released at -rate calls/s: the
// caller presses three digits, one after the other, which the script
// receives and answers (the first with a V), then the script sends E and
// the call must continue in the dialplan with the variables it set.
// Anything else is a failed call. DTMF->script (TCP) is the time from the
// digit's ChannelDtmfReceived being published to the line read by the
// script; for stdio the round trip to the V the script answers with is
// measured instead (DTMF->script->ARI). Command->ARI (TCP) is from the
// script writing V or E to the REST request arriving, after the barrier
// and, separately, during start-up.
//
// Report: calls/s, latencies p50/p99/p999 (DTMF->script, command->ARI
// request), gateway heap and goroutine stacks per live session, goroutines
// per session, gateway CPU, and the ARI stream counters: events dropped by
// the read loop's queue and reconnects (aritest, like Asterisk, drops a
// socket that cannot take a frame within 100 ms, so a read loop 100 ms
// behind shows up as a reconnect).
//
// load_test.go runs a small version under -short (200 TCP sessions, 20
// children) and asserts that every call ended as expected and that no event
// was lost; timings are reported, never asserted. soak_test.go is the
// gateway half of the soak (1M shuffled and duplicated ARI frames over 10k
// channels; 10k frames under -short). The README's "Performance" section
// holds the figures measured with these commands.
package main
