// Package gateway runs one ExternalIVR session per channel entering a
// configured Stasis application: the only place where ARI (package ari)
// meets the ExternalIVR protocol (package eivr). A dialplan line
// Stasis(eivr,/usr/lib/ivr/menu.pl(en),n) behaves, for the program, like
// ExternalIVR(/usr/lib/ivr/menu.pl(en),n). Specifications:
// ../shared/docs/eivr-protocol.md (what the client sees) and
// ../shared/docs/ari-mapping.md (how it maps onto ARI).
//
// # Flow
//
// cmd assembles the pipeline of each ARI connection with [NewPipeline]
// (the tests too):
//
//	ari.Client ──Handler.Event──▶ reorder.Reorderer ──Sink.Deliver──▶ reorder.Fanout{Gateway, extra sinks...}
//	 (dispatch goroutine)          (causal order per channel,          │ Gateway.Deliver: routes and
//	           │                    delivered with no lock held)       │ enqueues, never blocks
//	           │ Connected, Disconnected, EventsLost                   ▼
//	           └──────────────────────────────────▶ Gateway     session.events (bounded, EventQueue)
//	                                                               or the admission queue (StasisStart)
//
// In listener mode (Asterisk's outbound WebSockets, ari.Listener) every
// accepted connection gets a Gateway of its own, fed by the same pipeline
// from a [ConnSource] (source.go) instead of an ari.Client: its REST calls
// go back to the Asterisk the connection came from, per-call app names
// "<app>:<channel>" are delivered as "<app>", and its Run ends with the
// socket, so the connection's sessions end with it (as at shutdown). A
// persistent connection's Gateway is fed by a [PeerSource]
// (peersource.go) instead, which outlives the socket: when Asterisk dials
// it again within the window, the new socket is attached to the same
// source and the Gateway reconciles as after an inbound reconnect.
//
// Deliver only routes and enqueues (admit.go): an event of a channel with a
// session goes to the session's queue; a StasisStart is queued (bounded)
// for the one admission goroutine the gateway runs, which parses the
// application string (eivr.ParseStasisArgs), checks it against the app's
// allow-list (Programs: absolute paths or globs; TCPHosts: host:port,
// host:*, host) and max_sessions, registers and starts the session and
// writes the log lines. Denied is the default. Admissions are taken in
// arrival order, so max_sessions refuses the later call. The events of a
// channel whose admission is queued (its StasisEnd included) are held with
// it and handed to its session, in order, before any later one; a session
// that would overflow its queue meanwhile ends OVERLOAD as usual. When Run
// ends, the StasisStarts still queued are admitted (they end at once with
// SHUTDOWN). A slow log sink or a burst of new calls therefore delays the
// new calls only, never another call's events. A StasisStart that finds the
// admission queue full is dropped and the apps are reconciled as below
// (the call is adopted). Connection changes reach the gateway in order with
// the events: Connected reconciles (see Resilience), EventsLost (the ARI
// client's queue was full and dropped events: the pipeline lagged)
// reconciles the same way, counted in LifecycleStats.ResyncOverflow.
//
// # A session's goroutines, and who closes what
//
//	                ┌────────────────────────────────────────────┐
//	Gateway.Deliver ┼─▶ events ─┐                                │
//	                │           ▼                                │
//	reader goroutine│   ┌──────────────┐  lane goroutines (one   │
//	eivr.Reader.Next┼──▶│ session loop │─▶ call at a time per    │
//	  cmds ◀─ ack ──┼───│ (owns ALL    │   lane: ctl = answer,   │
//	                │   │  state)      │   set, dtmf; media =    │
//	conn.Done() ────┼──▶│              │   play, stop, silence)  │
//	                │   │              │◀─ results (func() run   │
//	timers (stop    │   │              │   on the loop) ─────────┤
//	timeout) ───────┼──▶└──────────────┘                         │
//	                └────────────────────────────────────────────┘
//
// Roles:
//
//   - The session goroutine (session.run) owns the playlist, the channel
//     state, the V overlay and the lanes; nothing else touches them. It is
//     started by the admission goroutine (Gateway.admit) and waited for by
//     Pipeline.Run.
//   - The reader goroutine reads one command, hands it to the loop and
//     waits for the loop's ack before reading the next: a flooding client
//     is throttled by back-pressure (its own pipe fills), and a command that
//     needs an async result (G, T, a sound lookup) holds the next one, so
//     commands keep their native one-by-one order. It ends at EOF or when
//     the session closes quit; conn.Close unblocks its read.
//   - REST calls never run on the loop (ari-mapping.md §1: answer and
//     variable sets block behind a playing file). Each lane runs one call
//     at a time, in order, on a short-lived goroutine that posts its result
//     back. A V therefore never blocks the session; a G right after it is
//     answered from the overlay of values not yet confirmed.
//   - The end sequence (session.finish), on the session goroutine: close
//     quit (reader and timers stop), start conn.Close on its own goroutine
//     (flushes the last event, closes the streams; programs: grace, SIGTERM,
//     SIGKILL, always reaped), stop the outstanding playback, wait up to
//     FlushTimeout for pending sets, set EIVRGW_STATUS if the gateway ends
//     the call on its own initiative, then continue (E, X, refusals) or hang
//     up (H, client gone, errors), unless the channel already left Stasis.
//     Then close dead (late results are dropped), cancel in-flight calls and
//     wait for every goroutine the session started.
//
// # Commands (commands.go)
//
// The reader hands every command line to the loop, unknown letters
// included. The loop shows it to the Observer, applies the Up-guard of the
// letter's eivr row (eivr.Command.UpGuarded: a bare Z when the channel is
// not Up or hung up), then runs the handler of the gateway's command table,
// keyed by the eivr letter; a letter without a row goes to noRoute and is
// ignored without a reply, as native (Q7). The G reply is eivr.GetReply.
//
// # Playlist (ari-mapping.md §3)
//
// The playlist lives in the session; at most one playback is outstanding in
// Asterisk (P1, P7). Its states are named (playlist.go): off (no generator:
// option n before T), idle, playing, stopping (a DELETE was sent; the next
// file waits for its PlaybackFinished, a 404, or StopTimeout). F is sent for
// a playback that finished "done" without being stopped, only while Up; T
// and D are sent when S, I or an autoclear digit interrupts, the digit
// first (§7.4). A "failed" playback is dropped silently (§7.5). The next
// file is posted when the previous one's PlaybackFinished arrives: the gap
// between files is one event round trip (about 2 ms on Asterisk, ari-24).
// When the playlist runs dry the channel plays silence (POST /silence) as
// native plays silence/10, unless Config.NoIdleSilence.
//
// Existence check of S/A (§7.6): with AppConfig.SoundsDir, on disk with the
// channel's language fallbacks (exact parity); else against GET /sounds,
// fetched once per SoundsTTL for the whole gateway and never on another
// call's session loop, with EIVR's language order applied to the formats'
// languages. The fetch runs under a context of its own (10 s), so a
// session that ends while it waits leaves without cutting it short for
// the others; a failed fetch is not retried for 5 s (the previous index,
// else none: names accepted unchecked, and logged once per failure). Names are resolved as ast_fileexists resolves them
// (soundTree.exists: <lang>/<name>, or <dir>/<lang>/<file> for an absolute
// path, ".." resolved, no extension appended in the index); absolute paths
// are checked when they lie in <ASTDATADIR>/sounds (the data directory
// from GET /asterisk/variable). GET /sounds cannot see URLs, absolute paths
// elsewhere and names that climb out of the tree (accepted unchecked: a
// missing one is then skipped silently instead of a Z; STAT() is a
// dangerous function ARI refuses) nor files directly in sounds/ (a false
// Z); it lists sounds/<dir>/<name> as <name> in "language" <dir>, which the
// check maps back (ari-23).
//
// # DTMF before the answer (early.go)
//
// ARI reports caller digits on a channel in Stasis that is not Up (early
// media, option n). Native reads frames only while Up, so the digits wait
// in the channel's read queue and reach the script, in order, right after
// T answers. The session holds them (at most MaxEarlyDTMF; more are
// dropped with a warning and counted in Gateway.EarlyDTMFDropped) and
// sends them when the channel becomes Up (T, or a ChannelStateChange to
// Up), autoclear applied to each; a hang-up discards them.
//
// # Outcomes and EIVRGW_STATUS
//
// E and X continue at the next priority, H and a client that exits hang up,
// as native (§8.3). When the gateway ends a call on its own initiative it
// first sets the channel variable EIVRGW_STATUS:
//
//	DENIED        application not in the allow-list          hang up
//	BADARGS       unparsable application string              hang up
//	BADOPTION     option d on a live channel not Up (Q31)    hang up
//	START_FAILED  program did not start / server unreachable hang up
//	SLOW_CLIENT   client stopped reading its events (Q27)    hang up
//	LIMIT         the app's max_sessions reached             continue
//	DRAINING      gateway draining (no new calls)            continue
//	SHUTDOWN      gateway stopped with the call live         continue
//	OVERLOAD      session's ARI event queue overflowed       continue
//	RESTARTED     left in the app by a killed gateway run    continue (hang up if that fails)
//	LATE          StasisStart lost, outage > AdoptWindow     continue (hang up if that fails)
//
// The hang-ups mirror native ExternalIVR returning -1 in the same cases.
// SLOW_CLIENT is set only for eivr.ErrSlowClient (the bounded event queue
// is full); an event line that meets a broken stream (the program exited
// or closed its stdin, the server closed the socket) means the client is
// gone: the lines already in its pipe are run, then the channel is hung up
// without a status (ErrClientGone), as native.
//
// # Observing sessions (observe.go)
//
// Config.Observer is told, on each session's goroutine and in the order
// things happened to it: SessionStarted once the session has its client
// (SessionInfo: caller, channel name, target and argv with URL passwords
// redacted, options), SessionLine for every command read and every event
// line written, SessionPlayback when a file of the playlist is posted and
// when it ends (Interrupted: stopped, failed or cut by a hang-up or the
// end), and SessionEnded with the Report once the end sequence is done.
// A refused call (DENIED, BADARGS, LIMIT, DRAINING) and one whose client
// could not be started get SessionEnded only (Report.Served false).
// Report.Cause is one of the Err* of errors.go, possibly joined with
// details: test it with errors.Is. Observers fans out to several; the
// cmd's Prometheus metrics and the demo's transcript are observers.
//
// # Hangup and the i and d options
//
// The first ChannelHangupRequest or StasisEnd (also an AMI Redirect, Q29)
// sends H and ends the session; with option i it sends I,HANGUP once and the
// client keeps the session (S/A/I/O get Z, V fails: the channel left
// Stasis); with option d nothing is sent. G asks Asterisk while the channel
// exists; when Asterisk cannot answer (the channel is gone, or a value is
// not UTF-8) it answers from what the session knows (known.go): its own V
// values, values G read, and the channelvars of its channel's snapshots.
// Stasis() on a hung-up channel (h extension) gets StasisStart and StasisEnd
// at once and every POST then fails (ari-26): option d there gives P, G, Z
// for S/A and E/H as native, but V cannot write and the dialplan does not
// wait for the client.
//
// # Resilience
//
// An ARI reconnect does not end sessions: after it, GET /applications/{app}
// lists the channels still in the app; sessions of the others end as on a
// hangup (H, or I,HANGUP with i), the rest check their outstanding playback
// (its PlaybackFinished may have been lost). A client that stays silent keeps
// its call. A session whose event queue overflows ends (OVERLOAD).
//
// When another ARI client takes an app over (ApplicationReplaced), that
// app's events, DTMF and hang-ups included, go to the other client and new
// calls with them; the gateway logs an error naming the app and keeps its
// live sessions (their REST calls still work). One goroutine per replaced
// app polls GET /channels/{id} for each of them every second, eight at a
// time (never on the dispatch goroutine or a session loop): a channel that
// is gone ends its session as a hangup does (H, or I,HANGUP with i); a
// channel still there gets its outstanding playback checked (F and the
// next file come a second late at most). DTMF is lost until the app is
// taken back (ari.Client.Reclaim); the next connection then lists the app,
// the polling stops and the reconciliation above runs. Drain
// sends new calls back to the dialplan and waits for live sessions.
//
// Every connection (the first too) reconciles the channels of each app
// that have no session (lifecycle.go): a channel the gateway failed to
// release is released, one a killed predecessor left continues with
// RESTARTED, and after a reconnect a call whose StasisStart was lost gets
// its session late from dialplan.app_data (or LATE after a long outage).
// continue and hangup are retried with backoff; a failed continue becomes
// a hangup. A session's pending channel operations are bounded
// (Config.PendingOps, pending.go): at the bound the reader is not acked,
// and queued sets of one name coalesce; the end waits for them while they
// make progress.
//
// An overflow of the ARI client's event queue (ari.LossHandler) is handled
// like a reconnect: the same reconcile runs (counted in
// LifecycleStats.ResyncOverflow), and a call whose StasisStart was dropped
// is adopted.
//
// # Concurrency
//
// Gateway methods are safe for concurrent use. Pipeline.Run may be called
// once. Deliver runs on the goroutine the reorderer delivers on (the ari
// client's dispatch goroutine, or the reorderer's clock) with no lock of
// the reorderer held; Connected, Disconnected and EventsLost on the
// dispatch goroutine. Deliver and the admission hold the gateway's lock
// only for its maps and counters (and non-blocking sends to a session's
// queue): no log line, parse, REST call or call back into the reorderer
// under it.
//
// # Contexts
//
// Contexts flow as arguments: Pipeline.Run's context reaches the
// admission goroutine and the work loop as arguments, and the pipeline's
// callbacks, which carry no context (Connected, EventsLost, an
// ApplicationReplaced), start their work there (Gateway.onRun); a session's
// end sequence gets its base through session.run and finish. One
// documented exception remains, of the kind Go's guidance allows
// (TestNoContextInStructs in cmd/eivr-gateway fails on any other):
//
//   - session.opsCtx bounds the calls a session's loop starts on goroutines
//     (lane calls, the S/A existence check, G's reads). It belongs to one
//     call, as exec.Cmd keeps its context: made by run from its base
//     argument and cancelled by finish before run returns, it never outlives
//     the run call nor mixes two scopes. Passing it would thread it through
//     every command handler and every result closure the loop runs, for the
//     same lifetime.
package gateway
