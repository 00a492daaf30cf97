// Package ari is a small, fast client for the Asterisk REST Interface (ARI):
// typed events decoded from the events WebSocket, a reconnecting event
// stream, and the REST calls the gateway needs. Nothing in it is specific to
// ExternalIVR. Behaviour follows Asterisk 22.10.1 as recorded in
// ../shared/testdata/asterisk (see ../shared/docs/ari-reference.md).
//
// # Events
//
// [Decode] turns one WebSocket text frame into a flat [Event]. The event
// types the gateway uses have their own [Kind]; every other type decodes as
// [KindOther] with Type, Application, AsteriskID, Timestamp and Raw filled in,
// never as an error. Field names are exactly those of Asterisk's events.json
// (ari-reference.md §2). Decode is the hot path: it scans the frame once with
// a hand-written JSON scanner, strings that need no unescaping alias the
// frame, and there is no reflection and no map[string]any (0 allocations
// but for StasisStart's args and the optional channels, ReplaceChannel,
// Peer and Caller, which are pointers allocated only when present; about
// 0.6 µs per recorded event against 5 µs and 22 allocations for
// encoding/json into the same structs; see BenchmarkDecode). Timestamps are
// returned in UTC.
//
// The read loop of [Client.Run] makes one allocation per event: it decodes
// each frame from a buffer it reuses, then moves the Event together with
// the bytes of its strings into one object (about 0.9 KB for a recorded
// event; 1.10 allocations per event over the recorded set, the extra ones
// being Dial's channels and StasisStart's args; TestReadLoopAllocs).
// [Event].Raw, the frame as received, is kept for KindOther (its fields
// are not decoded) and, with Config.KeepRaw, for every event: a consumer
// that parses more than the modelled fields (a CTI feed wanting bridge
// fields) asks for it and pays for it. gorilla/websocket adds one small
// allocation per frame of its own (BenchmarkStream, and
// BenchmarkEventsToSessions in gateway for the path into sessions).
//
// # Event stream
//
// [Client.Run] keeps one WebSocket to /events?app=a,b open until its context
// ends. Per connection one goroutine reads and decodes frames and one pings
// (Asterisk never pings and waits forever on a dead peer, so the client pings
// every PingInterval and drops a socket silent for PingInterval+PongTimeout).
// One dispatch goroutine, living as long as Run, calls the [Handler] in
// order: Connected (before any event of that connection: resync there, since
// Asterisk does not replay what was missed), Event..., Disconnected.
//
// The read loop never waits for the Handler: Asterisk drops a socket it
// cannot write to for 100 ms, losing every channel's events. Between them is
// a bounded queue (Config.QueueSize); when it is full, new events are
// dropped, counted ([Stats].Dropped) and logged at most once a second. A
// Handler must therefore hand events off quickly. Frames that do not decode
// are logged and counted, never delivered; a frame over Config.ReadLimit
// closes the socket (logged, counted) and Run reconnects.
//
// Reconnects use jittered exponential backoff between BackoffMin and
// BackoffMax (defaults 250 ms and 15 s). ApplicationReplaced (another client
// registered the same app) is delivered to the Handler, which logs it (the
// client does not, so that it is logged once), and makes [Client.Ready]
// false; Run then never subscribes that app again on
// its own (two gateways would steal it from each other forever): later
// reconnects subscribe only the apps left, and with none left Run waits for
// its context or [Client.Reclaim].
//
// Credentials (Basic header from Username/Password, or api_key=user:password
// on the WebSocket URL from APIKey; REST always uses the Basic header) never
// appear in logs or errors.
//
// # REST
//
// Kept-alive connections serve every call. Each call takes a context and
// has its own timeout: RESTLongTimeout (default 60 s) for the calls
// Asterisk queues behind a playing file and answers only when they ran
// (answer, set variable, continue, move), RESTTimeout (default 5 s) for the
// others. The two kinds use separate connection pools, capped at
// MaxBlockingConns (default 256) and MaxConnsPerHost (default 64): calls
// beyond a cap wait for a free connection (within their timeout) rather
// than open a socket each, and calls blocked for seconds never hold up
// another channel's plays, stops and gets. Only GETs are retried (RESTRetries, on connection errors
// and 503). Failures are *[Error]; test them with errors.Is against
// [ErrNotFound], [ErrVariableNotSet] (an unset variable on an existing
// channel; not ErrNotFound), [ErrConflict], [ErrPrecondition],
// [ErrBadRequest], [ErrUnauthorized] and [ErrUnavailable].
//
// Config.OnREST, when set, is called after every HTTP attempt (each retry
// of a GET too) with a [RESTCall]: method, route (the path with every id
// replaced by {id}, e.g. /channels/{id}/play/{id}, a label of low
// cardinality), status (0 when no reply arrived), duration and attempt
// number. It runs on the caller's goroutine, concurrently, and must be
// quick: it is meant for latency metrics.
//
// # Concurrency
//
// Decode is safe for concurrent use on distinct frames and events. An Event
// may reference the frame it was decoded from; the frame must not be
// modified afterwards. The receiver of an *Event owns it; an Event from
// Run references only memory of its own (its strings live as long as
// anything references them), never the read loop's buffer. Every Client
// method is safe for concurrent use; Run runs at most once at a time and
// joins all its goroutines before returning. Close releases idle REST
// connections.
package ari
