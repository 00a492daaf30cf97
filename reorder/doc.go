// Package reorder puts ARI events back into causal order per channel, and
// costs nothing when they already are.
//
// It sits between package ari and the gateway: sources (ARI connections)
// hand it decoded events with [Reorderer.Push]; a [Sink] receives, per
// channel stream, the events in causal order, filtered to the kinds it
// asked for ([Config.Kinds]).
//
// # Why
//
// Asterisk gives ARI events no sequence number and millisecond timestamps
// (ties are common). On one application WebSocket every event passes one
// FIFO queue, so events published by one Asterisk thread keep their order
// (a real Asterisk 22.10.1 delivered 240 events of 20 concurrent calls
// without one inversion: ari-11 in ../shared/testdata/asterisk/FINDINGS.md).
// But the events of one channel are published by several threads (a REST
// hang-up from the HTTP thread, state changes from the channel driver,
// DTMF and playbacks from the channel's Stasis thread; StasisStart and
// StasisEnd on the application topic), and once a gateway has more than
// one source (a reconnect, several applications or Asterisks, a socket
// per call) the events of one channel interleave arbitrarily
// (../shared/docs/ari-reference.md §4, ari-mapping.md §7).
//
// # Streams
//
// A stream is keyed by [Key] (asterisk id, application, channel id): the
// same channel in two applications is two streams. Playback events go to
// the channel of their target_uri ("channel:<id>"), Dial to its peer.
// Events that name no channel (ApplicationReplaced, a global
// ChannelVarset, DeviceStateChanged...) and playbacks on bridges are
// delivered at once under a Key with an empty ChannelID, unordered.
//
// # Rules
//
// Each rule is enforced exactly; "held" means the event waits for a
// missing predecessor until it arrives or [Config.HoldLimit] (50 ms) has
// passed since the event arrived — then it is released anyway and counted
// (Stats.HoldReleased): nothing waits for an event that may never come.
//
//  1. Before StasisStart. The kinds that exist outside Stasis pass in
//     arrival order: ChannelVarset, Dial, ChannelStateChange,
//     ChannelCallerId, ChannelConnectedLine, ChannelHangupRequest,
//     ChannelHold, ChannelUnhold, ChannelDestroyed, ChannelCreated (which
//     may never come) and the unmodelled ones. A channel originated by the app gets them before
//     its StasisStart (ari-14). The kinds that only exist inside Stasis —
//     StasisEnd, DTMF, playback and talk-detection events — are held until
//     the StasisStart. (So the DTMF and playbacks of a channel the app sees
//     without it entering the app are delayed by the hold limit: under
//     subscribeAll, ari-16b, or the other half of a Local channel the app
//     originated, the drv views of the recordings.)
//  2. StasisEnd is the last event of its stream. After it nothing is
//     delivered (Stats.LateDropped) until a new StasisStart: a channel may
//     enter the application again (continue, then Stasis() once more),
//     which is told from a copy of the old StasisStart by its fingerprint
//     and from a straggler by its timestamp; a StasisEnd older than the
//     StasisStart of the current stay is an earlier stay's, dropped as
//     late, and a copy of the previous stay's end is a duplicate. In a new
//     stay, events without a timestamp go behind the previous stay's end. For a channel that entered
//     from the dialplan StasisEnd is the last event the app ever gets
//     (ari-01, ari-15); a channel the app originated or subscribed to also
//     gets ChannelVarset STASISSTATUS, ChannelHangupRequest and
//     ChannelDestroyed after it (ari-14, ari-15a2), and those are dropped
//     too: the stream is the Stasis session. A `move` starts the channel
//     in the other application before it ends in this one (ari-09); those
//     are two streams and neither waits for the other.
//  3. ChannelDestroyed ends a stream outside Stasis (ari-14: an originated
//     call never answered). Inside Stasis it is held for the StasisEnd
//     that precedes it (it is published from the channel destructor, after
//     the app's StasisEnd), then dropped as late; if the StasisEnd never
//     comes (lost with a dropped socket, ari-12) it ends the stream itself.
//  4. Per playback id: Started before Continuing before Finished. A
//     Finished without a Started is legal (a queued playback deleted
//     before it started: ari-05, ari-22), so is a repeated Started (after
//     unpause: ari-05; each item of a media list: ari-07). A Continuing is
//     held for a Started of its playback; nothing of a playback is
//     delivered after its Finished, nor older than an event of it already
//     delivered. Among equal timestamps a Finished goes after its
//     playback's other events (on hang-up several playbacks start and
//     finish in one millisecond: ari-19). The last 6 playbacks of a
//     channel are remembered (playbacks run one at a time, so live ones
//     are never forgotten for finished ones); events of forgotten
//     playbacks older than the newest forgotten event are dropped as late.
//  5. ChannelStateChange never goes backwards: one older than the state
//     already delivered (by a state change or StasisStart's channel
//     snapshot), or of the same millisecond and not further along
//     Down < Rsrved < OffHook < Dialing < Pre-ring < Ring, Ringing < Busy
//     < Up, is dropped as stale (Stats.Stale).
//  6. DTMF and talk-detection events come from the channel's own thread in
//     timestamp order, so one older than the newest of its kind already
//     delivered is dropped as late: it is a copy from a lagging source or
//     a straggler that can no longer be put in its place (give these kinds
//     a window to put stragglers in place instead).
//  7. Exact duplicates (the same event from two sources) are dropped
//     (Stats.Duplicate). An event's fingerprint hashes its kind, timestamp
//     and every field its kind carries (the raw frame for unmodelled
//     kinds). A copy is recognised while its original waits, among the
//     last 16 events delivered on its channel, and, older than that, by
//     rules 2, 4, 5 and 6.
//  8. Ended streams are remembered in a bounded LRU set
//     ([Config.EndedSize], hashicorp/golang-lru/v2), so that their late
//     events are dropped rather than opening a new stream.
//
// # Timestamp windows: latency against correction
//
// [Config.Windows] gives each event kind a window W. An event of kind k
// waits W(k) after its arrival; every event of its channel with an earlier
// timestamp that arrives meanwhile is put before it (equal timestamps keep
// arrival order). So any displacement within W is corrected: events of one
// kind leave in timestamp order. Events leave their channel in queue
// order, so an event behind a waiting one waits with it: per-channel order
// is never changed for a kind with a smaller window, at the cost of that
// delay.
//
// With W = 0 and nothing waiting on its channel, an event whose
// predecessors are in is delivered inside Push: no timer, no goroutine
// hop, no allocation, zero added latency (see Concurrency for the one
// exception: another goroutine delivering on the same shard at that
// moment delivers it, just after its own). That is the default for DTMF
// and playback events, which one thread publishes in order into the one
// queue of the app (FINDINGS.md, ari-11), and for every kind not listed
// below. The price: a DTMF or playback event that arrives after a later
// one of its channel is not put back in place (rule 4 or 6 drops it).
// The default window is 20 ms ([DefaultWindow]) for ChannelStateChange,
// ChannelConnectedLine and ChannelCallerId (computed from channel snapshot
// diffs on other threads than the media: ari-reference.md §2 "Where they
// come from"), StasisEnd (published on the application topic, not the
// channel's: ari-mapping.md §7, so a straggler of the session can still
// be put before it) and ChannelDestroyed (published by the channel
// destructor). 20 ms is a frame of audio: invisible for these events
// (nobody hears an answer or a hang-up 20 ms later) and far above the
// skew between two Asterisk threads publishing into one queue (the
// rx−timestamp spread in ari-11 is 0.3–28.6 ms, but that is network and
// queueing common to both events). Windows and hold limits are enforced by
// [Reorderer.Run] (or [Reorderer.Tick]) from the injected [Clock], up to
// [Config.Resolution] (1 ms) late.
//
// # Bad input
//
// An event without a channel passes through (see Streams). An event
// without a usable timestamp (zero Timestamp: absent or unparsable) is
// ordered by arrival (after everything waiting on its channel), a state
// change without one is judged by its rank only; counted
// (Stats.NoTimestamp) and logged once per channel. A channel that never
// ends (its StasisEnd lost) is forgotten after [Config.IdleTimeout]
// without events (Stats.Expired, logged). A flood on one channel fills its
// queue ([Config.QueueLimit]): the oldest waiting event is then released
// early (Stats.Overflow, logged once per channel); Push never blocks and
// other channels are not affected.
//
// # Concurrency
//
// Push, Tick and Stats are safe for concurrent use. Channel streams are
// spread over [Config.Shards] tables by a hash of the channel id, each
// with its own mutex; Push locks one, Tick each in turn. What a shard
// releases under its lock (events for the Sink, and the log lines about
// its channels) goes to the shard's outbox, in release order; after
// unlocking, the caller that holds the shard's delivery token hands the
// outbox to the Sink and the Logger, batch by batch, until it stays empty
// (two buffers swapped, so the steady state allocates nothing; a holder
// that nobody gave more gives the token back without locking again). A
// caller that finds the token taken leaves its events to the holder. So the Sink
// and the Logger are never called with a lock held: a slow log handler or
// sink delays that shard's deliveries, never another Push's locking, and
// Deliver may call Stats or Push. Calls for one Key are serialized and in
// the order the events were released, whichever goroutines pushed them
// (TestConcurrentSourcesKeepOrder); calls for different keys may run in
// parallel. An event is delivered inside the Push or Tick that released it,
// or, when another goroutine is delivering on its shard at that moment,
// inside that one just after. Deliver should still return quickly (hand the
// event to a bounded queue): the other events of its shard wait for it.
// [Fanout] hands each event to several sinks in turn.
// Run is one goroutine owned by the caller: it sleeps until the earliest
// window or hold limit (Push wakes it when it queues an earlier one) and
// returns when its context ends. Without Run, events with W = 0 and no
// missing predecessor are still delivered; the others wait for Tick.
//
// # Cost
//
// In-order events take one shard lock, one hash of the channel id (it
// picks the shard and the stream in it), one map lookup and one hash of
// the event: about 150 ns of CPU and no allocation (BenchmarkPushInOrder).
// Waiting events leave their queue by moving its head, without shifting
// the others. A tracked channel costs about 410 bytes
// (BenchmarkTrackedChannel): an idle one keeps no queue (empty queues go
// back to a pool of their shard) and one that never played keeps no
// playback slots; an ended one remembered in the LRU set a few hundred
// (610 B/ended in that benchmark, counting the recycled states and the map
// capacity the live channels left behind).
package reorder
