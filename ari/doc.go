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
// [KindOther] with Type, Application, AsteriskID, Timestamp and Raw filled in
// (and the modelled fields it carries),
// never as an error. Field names are exactly those of Asterisk's events.json
// (ari-reference.md §2). Decode is the hot path: it scans the frame once with
// a hand-written JSON scanner, strings that need no unescaping alias the
// frame, and there is no reflection and no map[string]any (0 allocations
// but for StasisStart's args and the optional parts, ReplaceChannel,
// Peer, Caller and Playback, which are pointers allocated only when
// present (the read loop decodes them into its own room: none); about
// 0.8 µs per recorded event against 9 µs and 22 allocations for
// encoding/json into the same structs on a busy 2-core machine; see
// BenchmarkDecode). Timestamps are returned in UTC.
//
// The read loop of [Client.Run] makes one allocation per event: it reads
// the server's frames itself (frames.go; gorilla/websocket dials, upgrades
// and writes pings, pongs and the close) and decodes a message that came
// in one frame in place, from its read buffer, into a scratch Event on its
// stack (the Playback, the optional channels and StasisStart's args into
// scratch room of the loop: up to 3 channels and 8 args); then it writes
// the fields that are set, with the bytes of their strings, into one
// object sized by decode's count of them: the 520-byte Event, its
// strings, and room for its Playback, channels or args when it has them
// (704 or 768 bytes for most recorded events): 1.00 allocations and
// about 750 bytes per event over the recorded set (TestReadLoopAllocs, BenchmarkFrameReader for the framing
// alone, BenchmarkReadLoop without the socket, BenchmarkStream with it,
// and BenchmarkEventsToSessions in gateway for the path into sessions).
// With Config.KeepRaw the object holds a copy of the whole frame instead,
// and the strings point into it.
// [Event].Raw, the frame as received, is kept only with Config.KeepRaw
// (for every event then): a consumer that parses more than the modelled
// fields or types (a CTI feed wanting bridge fields) asks for it and pays
// for it; without it a KindOther event has its Type and whatever modelled
// fields it carries. An Event handed to the Handler is
// never reused by the client: the Handler may keep it (read-only). Fields
// that repeat from event to event (AsteriskID, Application, the channel's
// state, language, dialplan context and application, the playback's state
// and language) share the previous event's string instead of taking room
// in the box: strings are immutable, so this is invisible to a consumer.
// Without KeepRaw.
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
// Handler must therefore hand events off quickly. A Handler that is also a
// [LossHandler] is told, in order, how many events were lost (EventsLost,
// once the queue has room again, before the next event read), so that it
// can resync as after a reconnect. Frames that do not decode
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
// MaxBlockingConns (default 64) and MaxConnsPerHost (default 32; together
// with the events socket within Asterisk's default HTTP sessionlimit of 100): calls
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
// # Listener mode (Asterisk's outbound WebSockets)
//
// Asterisk 20.15/21.10/22.5 and later can open the ARI WebSocket
// themselves (res_websocket_client; ari.conf type = outbound_websocket),
// one persistent connection or one per call (per_call_config, whose app is
// named "<app>:<channel name>", see [SplitPerCallApp]). A [Listener] is the
// http.Handler that accepts them (serve it over http or https on the path
// of websocket_client.conf's uri): it offers the "ari" subprotocol, checks
// each [Peer]'s HTTP Basic credentials (constant time; a missing or unknown
// one gets 401 and is counted in [ListenerStats].Unknown and logged at most
// once a second), and refuses upgrades with 503 after [Listener.Refuse]
// (draining: a balancer moves on, Asterisk's per-call connect fails and the
// channel continues in the dialplan).
//
// Every accepted connection is a [Conn]. ListenerConfig.Accept returns its
// [Handler], called exactly as for [Client.Run] (Connected, Event...,
// Disconnected) from one dispatch goroutine per connection, after a
// bounded queue the read loop never waits on; what was read before the
// socket closed is still delivered, then Disconnected. The Conn tells which
// Asterisk (Peer) and connection (Seq) the events came from, and its
// [Conn.Client] sends REST back to that Asterisk: as RESTRequest messages
// over the socket (matched to their RESTResponse by request_id, at most
// MaxPending outstanding, each within the Client's RESTTimeout or
// RESTLongTimeout and its context; a socket that closes fails its
// requests with [ErrSocketClosed], which matches [ErrUnavailable]), or over
// the peer's HTTP route, by [RESTMode]. Asterisk 22.10 runs one socket's
// requests one at a time and holds answer, variable set, continue and move
// behind a playing file, so everything behind such a call waits (measured:
// seconds, pongs included; README "Scale-out"): the default with an HTTP
// route, [RESTSplit], sends exactly those held calls over HTTP
// (Config.LongTransport) and the rest over the socket. [RESTSocket]
// (the default without a route) is only sound on per-call sockets, where
// a held call delays only its own call. The listener pings every
// PingInterval and drops a socket silent for PingInterval+PongTimeout, or
// RESTLongTimeout+PongTimeout while a request is outstanding (Asterisk
// answers no ping while it runs a held request).
//
// Goroutines: per connection the read loop runs on ServeHTTP's goroutine,
// plus one pinger and one dispatch goroutine, all joined before ServeHTTP
// returns. [Listener.Close] closes every connection and waits for them.
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
