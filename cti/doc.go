// Package cti is the gateway's ordered CTI event stream: ARI events of
// watched endpoints, channels and bridges (and the gateway's own
// ExternalIVR session events) for screen pops, wallboards, recorder
// indexes and the live call view, served on the admin listener as
// GET /v1/events.
//
// # Pipeline
//
// A [Hub] is a reorder.Sink: cmd gives the CTI application its own
// ari.Client (its own app name, Config.KeepRaw on, the [cti]
// subscriptions made again after every Connected) and its own
// reorder.Reorderer feeding [Hub.Deliver]. The sessions' client and read
// loop are untouched: CTI volume can never make them lag. [Hub.Publish]
// takes the events the gateway makes itself (type "EIVRSession", below),
// fed by an Observer adapter in cmd; it never blocks a session.
//
// # Order
//
// Per stream (an ARI channel, a bridge, a gateway session) events leave
// in the order they were delivered to the hub: reorder's causal order.
// Across streams the hub merges within a bounded window
// ([Config.Window], 50 ms): each event waits until it is Window old, and
// among the heads of the streams the one with the smallest key (ARI
// timestamp, then the call's linkedid, then stream name numerically,
// then arrival) leaves first. So the legs of one call come out in the
// same order whatever the order Asterisk delivered them in, as long as
// the displacement is within the window (the trace of
// ../shared/docs/cti.md: a ConnectedLine stamped before another channel's
// creation and delivered after it is put back before it). An event never
// waits more than about two windows; when more than [Config.MaxPending]
// wait, the oldest leaves at once (Stats.Overflow).
//
// # Ids, ring, resume
//
// Every event leaving the merge gets an id "<epoch>-<seq>": epoch is
// fixed for the life of a Hub (the gateway process) and seq counts from
// 1. The last [Config.Ring] events (10 000) are kept. A subscriber giving
// Last-Event-ID resumes:
//
//   - same epoch, nothing evicted since that id: every event after it, no
//     gap;
//   - otherwise (another epoch: the gateway restarted; or the ring has
//     moved past it; or an id that does not parse) it first gets a
//     CTIGap telling exactly what it missed, then a CTISnapshot of the
//     live calls as of the newest event, then the live stream from
//     there.
//
// # Wire shapes
//
// Each message is one JSON object: the ARI event exactly as Asterisk sent
// it (compacted to one line), with "cti_id" as its first member and, when
// the hub knows the call, "cti_call" second:
//
//	{"cti_id":"lq2x3a-17","cti_call":"1764770000.30","type":"ChannelCreated","timestamp":"...","channel":{...},...}
//
// cti_call groups the legs of a call: the channel's linkedid when Asterisk
// sends one; else "bridge:<id>" once the channel entered a bridge (the
// bridge it is or was last in: both legs of a bridged call share it);
// else, after a Dial event named the dialled and the calling channel, the
// calling channel's id; absent before. (Asterisk 22.10.1 sends no linkedid
// in its Channel objects: checked on the real one.) Existing ARI parsers
// ignore the two extra members. As Server-Sent
// Events (Accept: text/event-stream) a message is
// "id: <cti_id>\nevent: <type>\ndata: <object>\n\n"; as NDJSON (any
// other Accept, Content-Type application/x-ndjson) it is the object and
// "\n". The hub's own messages (never stored in the ring, no ring id of
// their own, "cti_id" the id they refer to):
//
//	{"type":"CTIGap","cti_id":"<epoch>-<seq>","reason":"restart|evicted|unknown",
//	 "last_event_id":"<as given>","missed":N,"missed_from":"<id>","missed_to":"<id>"}
//	  missed counts the events of this epoch that are gone (for "restart"
//	  the events of the old epoch after last_event_id are lost too and
//	  not counted: the old process is gone); missed_from..missed_to is the
//	  range of this epoch, both absent when missed is 0.
//	{"type":"CTISnapshot","cti_id":"<id of the newest event it includes>",
//	  (the channels and bridges the stream has seen events of and no end,
//	  and the watched channels Asterisk listed at the last connect: Seed)
//	 "channels":[<ARI Channel>...],"bridges":[{"id":"...","channels":["<id>"...]}...],
//	 "sessions":[<the last EIVRSession "started" of each live session>...]}
//	{"type":"CTICutOff","cti_id":"<id of the last event sent>","reason":"slow consumer: N events queued"}
//	  the last message of a stream the client did not read fast enough.
//
// An SSE stream also gets a comment line (": ping") every 15 s.
//
// EIVRSession (made by the gateway, stored and resumable like ARI events;
// "channel" is {"id","name"} so channel filters and ARI-style parsers
// work; phase is one of started, line, playback, ended):
//
//	{"cti_id":"...","type":"EIVRSession","phase":"started","timestamp":"2026-12-03T14:00:00.123+0000",
//	 "application":"eivr","session":"s-1","channel":{"id":"...","name":"PJSIP/1000-00000001"},
//	 "caller":{"number":"1000","name":"Alice"},"target":"/usr/local/bin/ivr","argv":["..."],"options":"..."}
//	{"...":"...","phase":"line","sent":true,"line":"D,1"}  sent: an event line to the script; false: a command from it
//	{"...":"...","phase":"playback","file":"hello","started":true,"interrupted":false}
//	{"...":"...","phase":"ended","served":true,"status":"SUCCESS","cause":"<error text, empty if none>","duration_ms":1234}
//
// # Filters
//
// A subscription's [Filter] keeps an event when every non-empty list
// matches: Endpoints ("PJSIP/1000" matches channels named
// "PJSIP/1000-…"; "PJSIP" every PJSIP channel), Channels (channel ids:
// for a Dial event, its peer or caller; for a bridge event, a member),
// Types (the "type"; "EIVRSession" for the gateway's). Query parameters
// endpoint=, channel=, type= (repeated or comma-separated). Gap and
// snapshot messages are always sent (the snapshot is filtered by
// endpoint and channel too); the cut-off message too.
//
// # Slow consumers
//
// Each subscriber has a bounded queue ([Config.Queue], 1024 messages).
// The hub never waits for one: when an event finds the queue full, the
// subscriber is cut off (Stats.CutOff), its writer sends CTICutOff (with
// a write deadline, so a client that reads nothing at all cannot hold
// it) and ends the response. The client may come back with Last-Event-ID.
//
// # HTTP
//
// [Handler] serves GET /v1/events. It requires the admin token as
// "Authorization: Bearer <token>" (401 otherwise; 403 while no token is
// configured), never in the URL. 400 for a bad filter.
//
// # Concurrency
//
// Deliver, Publish, Subscribe and Stats are safe for concurrent use and
// never block on a subscriber: one mutex guards the merge, the ring and
// the subscriber list, and a send to a subscriber's queue is a
// non-blocking channel send. [Hub.Run] is one goroutine owned by the
// caller that releases the merge window; it returns when its context
// ends. Each subscriber's writer is the goroutine of its HTTP request.
//
// # Bad input
//
// An event without a raw frame, or whose frame is not a JSON object, is
// dropped and counted (Stats.Bad) and logged once a second at most. An
// event without a timestamp merges by arrival (its key is the latest
// timestamp seen). Live call tracking for snapshots is bounded
// ([Config.MaxLive]); channels that never get a ChannelDestroyed are
// forgotten after [Config.LiveTimeout] without events. [Hub.Seed] brings
// the tracked calls up to date with Asterisk's own list (GET /channels)
// after every connect: calls the stream never saw are added, and with
// prune those Asterisk no longer has are forgotten.
package cti
