// Command load drives N concurrent calls through the real gateway against
// the fake Asterisk (ari/aritest) and reports what one box holds.
//
//	go run ./test/load -tcp 10000          # 10k ivr:// sessions
//	go run ./test/load -stdio 1000         # 1k legacy sh children
//	go run ./test/load -tcp 1000 -stdio 100 -speed 50 -start-rate 1000 -rate 2000
//	go run ./test/load -saturate           # capacity: inbound vs per-call outbound
//	go run ./test/load -saturate -gw-cpuprofile /tmp/prof   # and where the gateway's CPU goes
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
// Saturation (-saturate): open-loop rounds of TCP calls at rising offered
// rates (-rates, -round), first with the gateway on one inbound socket,
// then with the fake dialling the gateway's ari.Listener, one WebSocket per
// call (connection_type = per_call_config; the fake's 500 ms per-call
// delay of 22.10.1 is left out: it costs the caller, not the gateway).
// Every call presses its digits as soon as its script is ready; a mode
// stops at the first round whose p99 DTMF->script exceeds -max-p99 (5 ms),
// where a call fails, or where the calls/s reached fall below 80 % of the
// offered rate. Per round: calls/s, latencies, the gateway's CPU (its own
// process, getrusage) as a share of a core and of the whole run's CPU (the
// gateway plus this process: the fake and the clients, on the same
// cores), its CPU per call and its memory per live session (sampled once,
// half-way). -rates starts at 25 calls/s so that a mode that stops early
// still has a last good round; -gw-cpuprofile DIR writes each round's
// gateway CPU profile (DIR/<mode>-<rate>.pprof, for go tool pprof).
//
// load_test.go runs a small version under -short (200 TCP sessions, 20
// children, and one 100-call saturation round per mode) and asserts that
// every call ended as expected and that no event was lost; timings are reported, never asserted. soak_test.go is the
// gateway half of the soak (1M shuffled and duplicated ARI frames over 10k
// channels; 10k frames under -short). The README's "Performance" section
// holds the figures measured with these commands.
package main
