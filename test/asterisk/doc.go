// Package asterisk is the real-Asterisk differential conformance lane.
//
// Every scenario runs on the same Asterisk natively, as ExternalIVR() in
// the [native-test] context, through the gateway, as Stasis() in
// [gateway-test] (contexts of ../shared/asterisk/templates), and, with
// EIVR_LISTEN_PORT, through a second gateway process in listener mode
// (`[listen]` on that port) that Asterisk dials per call (conf/: the
// websocket_client.conf and ari.conf outbound_websocket sections; app
// lanegwout); each gateway side is compared with native.
// TestOutboundRestart restarts that gateway between calls, per call and on
// Asterisk's persistent connection (app lanegwpers).
// The same legacy client drives both: a Go client in the test, reached over
// ivr:// directly or, for stdio scenarios, through this test binary run by
// Asterisk or the gateway as the program (`<test binary>(relay,<addr>)`
// copies its stdin and stdout to the test). What the script read must be
// byte-identical with only the 10-digit timestamp masked (MaskTimestamps),
// and the dialplan outcome must match: whether it continued after the
// application, the variables the script set with V (ChannelVarset), and the
// hang-up cause. The outcome is read over ARI: a helper connection with
// subscribeAll sees every channel's ChannelDialplan (the AFTER and H Verbose
// lines of the test contexts), ChannelVarset, DTMF and ChannelDestroyed.
//
// Every step waits for an event it caused (a reply line, F/Z/T, a digit's
// line, EOF, an ARI event), never for time; native Asterisk runs one
// buffered command line per wake-up (Q1), so while a script waits it writes
// a harmless `L,nudge` line every 200 ms to release a held command. The
// gateway is the real binary: TestMain builds cmd/eivr-gateway and runs
// `eivr-gateway run --config <generated toml>` against the same ARI, as a
// user would, so the lane also covers configuration, the ARI client and the
// process; its JSON log is printed for a failing scenario's channel.
//
// TestDifferential is the table of scenarios (every class of
// ../shared/testdata/asterisk/eivr/scen); TestGenerated draws random valid
// command sequences with rapid (EIVR_LANE_CASES, EIVR_LANE_SEED) and prints
// a failing one as a replayable script; TestDeliberate* pin the README's
// deliberate differences on both sides; TestDTMFLatency logs DTMF→script
// latency native vs gateway. A scenario with a gap marker (a difference
// Asterisk leaves no way to close, in the README) logs its difference, and
// fails if the two sides agree.
//
// Configuration: EIVR_ASTERISK_URL (ARI base URL; unset: every test skips
// with one line), EIVR_ASTERISK_USER / EIVR_ASTERISK_PASSWORD (default
// eivr / eivr-secret), EIVR_LISTEN_PORT (the outbound gateway's port, the
// @LISTEN_PORT@ of conf/websocket_client.conf; unset: the outbound side is
// skipped), EIVR_REQUIRE_ASTERISK=1 (a skip is a failure; .ci/run sets it
// and EIVR_LISTEN_PORT when ../shared/asterisk exists). Stdio scenarios need this test
// binary and Asterisk on the same host.
package asterisk
