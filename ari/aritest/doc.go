// Package aritest is a fake Asterisk 22.10.1 speaking real ARI over HTTP and
// WebSocket on a loopback port, for tests and the demo (like net/http/httptest).
// It is calibrated against recordings of a real Asterisk (see
// calibration_test.go) but never reads them itself, and it does not import
// package ari: it writes the ARI JSON itself, so the client and the fake do
// not share bugs.
//
// # Starting
//
//	srv, err := aritest.NewServer(aritest.Options{Speed: 20}) // 20x faster media
//	defer srv.Close()
//	srv.URL()                 // "http://127.0.0.1:PORT/ari"
//	srv.WebSocketURL("gw")    // "ws://127.0.0.1:PORT/ari/events?app=gw" (add api_key or basic auth)
//
// Credentials default to asterisk/asterisk (Options.Username/Password), as
// basic auth or api_key=user:password; anything else gets 401
// {"message":"Authentication required"}.
//
// # What it serves
//
// Events WebSocket GET /ari/events?app=a[,b][&subscribeAll=true]: one socket
// per client, several apps per socket. A second socket for an app gets its
// events from then on; the old one receives ApplicationReplaced and then
// stays open but silent for that app. Events are written in publish order
// (FIFO per socket). A client that cannot take a frame within 100 ms
// (websocket_write_timeout; Options.WriteTimeout) or lets 2^20 frames queue
// up is dropped. Events published while an app has no socket are lost;
// nothing is replayed on reconnect (LoseStasisStarts loses the next
// StasisStarts as a socket that died with them queued would). With subscribeAll=true the socket's apps also get the channel
// events (not StasisStart/End) of every simulated channel; the flag does not
// stick across reconnects.
//
// Events are byte-compatible with 22.10.1 (field names, key order,
// timestamps "2026-11-23T18:02:35.545+0000", full channel objects):
// StasisStart, StasisEnd, ChannelStateChange, ChannelHangupRequest,
// ChannelVarset, ChannelCallerId, ChannelDtmfReceived, ChannelDestroyed,
// ChannelDialplan (create only), Dial, PlaybackStarted, PlaybackContinuing,
// PlaybackFinished, ApplicationReplaced, ApplicationMoveFailed.
//
// REST under /ari, parameters as query, form or JSON body:
//
//	GET  /asterisk/info, /asterisk/ping, /asterisk/variable
//	GET  /applications, /applications/{app}        (channel_ids for resync)
//	POST /applications/{app}/subscription?eventSource=channel:ID (then ChannelDestroyed etc. after StasisEnd)
//	     eventSource=endpoint:Tech[/res] (AddEndpoints; Local: 422), bridge:ID (its own events only)
//	GET  /endpoints, /endpoints/{tech}
//	GET|POST /bridges, GET|POST|DELETE /bridges/{id}, POST /bridges/{id}/addChannel|removeChannel?channel=a,b
//	GET  /sounds[?lang=&format=], /sounds/{id}     (from the catalogue)
//	GET  /channels, /channels/{id}
//	POST /channels[/{id}] originate (endpoint, app, appArgs, callerId, timeout, channelId, otherChannelId, {"variables":{}})
//	POST /channels/create, /channels/{id}/dial
//	DELETE /channels/{id}[?reason=|reason_code=]
//	POST /channels/{id}/answer | play[/{playbackId}] | variable | continue | move | dtmf | ring | silence | mute | hold
//	GET  /channels/{id}/variable, GET|POST /channels/{id}/variables (bulk, 22.10)
//	GET|DELETE /playbacks/{id}, POST /playbacks/{id}/control
//
// Error bodies are {"message": "..."} with Asterisk's statuses and texts:
// 404 "Channel not found" (variable calls: "Provided channel was not found"),
// 409 "Channel not in Stasis application", 412 "Channel in invalid state"
// (play/continue/dtmf on Down/Ringing channels), 404 "Provided variable was
// not found" (GET of an unset variable), 500 "Unable to read provided
// function", 400 "Variable name is required", 500 "Failed to queue media for
// playback" (no media), 404 "Playback not found", 400 "Invalid operation X",
// originate with an unknown technology 500 {"error":"Allocation failed"}.
//
// # Channel behaviour (as recorded on 22.10.1)
//
// Each channel in Stasis has a FIFO command queue run by its own goroutine
// (docs/ari-mapping.md §1). play, continue, move, dtmf (outbound), ring,
// silence are queued and return at once; answer and POST variable are queued
// and the HTTP reply waits until they ran, so they block behind a playing
// file; GET variable/channel, DELETE channel and playback stop/control are
// immediate. Playbacks: 201 {"state":"queued"}; PlaybackStarted per media
// item, PlaybackContinuing between items, PlaybackFinished "done" at the end
// (length from the catalogue, per language, divided by Speed). A missing
// sound: Started + Finished "failed" ~3 ms later (Continuing inside a list).
// Unknown scheme or recording: Started and never Finished; the queue moves
// on. tone: plays until stopped. DELETE /playbacks/{id} while playing →
// Finished "done"; while queued → Finished "done" (no Started) when its turn
// comes. pause (no event, GET shows "paused"), unpause (a new
// PlaybackStarted), restart (no event). A finished playback is 404.
//
// Hangup through DELETE /channels → ChannelHangupRequest{cause:32,soft:true};
// a far-end hangup (FarHangup) → ChannelHangupRequest{cause:N}. Then the
// playing playback gets Finished "failed", every queued one Started +
// Finished "failed", then StasisEnd, and nothing more for that channel
// (except ChannelVarset STASISSTATUS + ChannelDestroyed for channels the app
// originated or created). continue → StasisEnd when the queue reaches it
// (later playbacks are dropped silently); the channel stays (GET works,
// control calls 409) until FarHangup or DELETE; to a context not in
// Options.Contexts it is hung up. move → StasisStart on the new app, then
// StasisEnd on the old one. Variables: plain ones (POST without value
// unsets, no event; POST emits ChannelVarset), STASISSTATUS, EXTEN, CONTEXT,
// PRIORITY, UNIQUEID, CHANNEL, and the functions CALLERID(num|name|all)
// (writing emits ChannelCallerId), CONNECTEDLINE(num|name),
// CHANNEL(name|state|language|uniqueid), LEN(x). Unknown functions: GET
// 500, POST 204 with no effect.
//
// Originate (POST /channels) with app: 200 channel Down; the app is
// subscribed at once and sees Dial "" → ChannelStateChange Ringing → Dial
// RINGING → (after Endpoint.Ring) ChannelStateChange Up → Dial ANSWER →
// ChannelVarset STASISSTATUS → StasisStart{appArgs}. Busy: Dial BUSY and
// ChannelDestroyed{cause:0}; no answer within timeout: ChannelDestroyed{19}.
// As Asterisk runs Stasis("app,appArgs"), originate's and create's appArgs
// become StasisStart args through the standard argument splitter
// (internal/astargs: parentheses, brackets and quotes protect commas;
// quotes and backslashes are removed), so appArgs "/prog(a,b),n" gives
// ["/prog(a,b)","n"]; a move's appArgs are cut at every comma, empty
// fields dropped (strtok_r). StartCall takes args already split.
// The Local ;2 half and its dialplan events are not simulated.
// /channels/create puts the channel into the app at once (state Down,
// StasisStart); /dial then gives the same progress events (BUSY/NOANSWER
// hang it up with cause 17/19). SetEndpoint chooses an endpoint's outcome.
//
// # Endpoints and bridges (CTI)
//
// As checked on a real 22.10.1 (README, "CTI event stream"):
// Local has no endpoints (GET /endpoints is [], endpoint:Local and
// endpoint:Local/x@ctx are 422 "Event source does not exist"); AddEndpoints
// registers endpoints of other technologies, and an app subscribed to
// endpoint:PJSIP/1000 (or endpoint:PJSIP) gets every event of the
// channels named PJSIP/1000-… (PJSIP/…), in or out of Stasis. A bridge
// made with POST /bridges gets no BridgeCreated (nobody is subscribed yet);
// addChannel needs channels in Stasis (422 "Channel not in Stasis
// application") and subscribes their app to the bridge; ChannelEnteredBridge
// and ChannelLeftBridge carry the bridge with its members after the change
// and go to the apps that see the channel and those subscribed to the
// bridge, which get nothing else of the members; a hang-up takes a channel
// out of its bridge right after ChannelHangupRequest; DELETE /bridges/{id}
// empties it and sends BridgeDestroyed to its subscribers.
//
// Phones outside Stasis (a PBX's Dial(), for CTI tests):
//
//	p, _ := srv.PhoneCall("PJSIP/1000", "PJSIP/1002", aritest.PhoneOptions{}) // Phone{A, B, Bridge}: the published
//	    // trace of docs/cti.md: A's ConnectedLine stamped before B's ChannelCreated is delivered after it,
//	    // both legs Up in one millisecond, then both enter the call's bridge
//	srv.PhoneHold(p.A, true)                      // ChannelHold{musicclass:"default"}; false: ChannelUnhold
//	p, _ = srv.PhoneTransfer(p, "PJSIP/1003")     // C rings and answers, B leaves, C enters, B is destroyed (16)
//	srv.PhoneHangup(p)                            // each leg leaves the bridge, then ChannelDestroyed{16}
//
// With ReorderWindow the delivery is shuffled further, as with several
// sources.
//
// # Caller side (what a phone / the dialplan would do)
//
//	id, err := srv.StartCall("gw", []string{"ivr://x", "n"}, aritest.CallOptions{}) // StasisStart, state Ring
//	// CallOptions: ID, Name, Caller (*CallerID: nil = "Test Caller" <5551234>, &CallerID{} = none),
//	// Context/Exten/Priority (stasisin/s/2), Language, Answered, Vars, Dead+HangupCause (Stasis() from
//	// the h extension of a hung-up channel: StasisStart and StasisEnd at once). ErrNoApp if the app has no socket.
//	srv.StartCall("gw", nil, aritest.CallOptions{HExten: time.Second}) // an h extension: readable (GET) for 1 s after a hang-up
//	srv.PressDTMF(id, '5', 100*time.Millisecond) // blocks d/Speed; ChannelDtmfReceived{duration_ms:100} at the end
//	srv.PressDTMFs(ctx, id, "123", 100*time.Millisecond, 100*time.Millisecond)
//	srv.FarHangup(id, 16)                         // far end hangs up with cause 16
//	end, err := srv.WaitEnd(ctx, id)              // End{Continued, Context, Exten, Priority, Moved, App, HungUp, Cause, Soft, Vars}
//	srv.Ended(id); srv.Vars(id); srv.State(id); srv.SentDTMF(id) // digits sent towards the caller by /dtmf
//	srv.Requests()                                // REST log: Method, Path (below /ari), Params, Status, Time, Elapsed (not /events)
//	srv.Clients(); srv.AppConnected("gw")         // sockets
//	srv.SetEndpoint("PJSIP/bob", aritest.Endpoint{Outcome: aritest.Busy}) // originate/dial outcomes
//
// Errors of these methods wrap ErrNoChannel, ErrNotInStasis, ErrNoApp,
// ErrChannelID or ErrClosed.
//
// # Fault injection
//
//	srv.ReorderWindow(d)  // shuffle the events that arrive within d of each other (per socket)
//	srv.Duplicate(p)      // send each event twice with probability p
//	srv.Delay(d)          // hold every event for d
//	srv.DropWebSockets()  // close all sockets now; events until reconnect are lost
//	srv.Restart()         // sockets dropped, all channels/playbacks/apps gone without events
//	srv.FailREST(method, pathPrefix, status, n) // next n matching requests fail (n<0: always; 0: clear)
//	srv.RESTLatency(d)    // delay every REST reply
//	srv.SendMalformed()   // a frame that is not JSON; SendRaw(frame) any frame
//
// Options.Seed makes the random faults reproducible.
//
// # Concurrency
//
// All methods are safe for concurrent use. One mutex guards the whole
// simulated Asterisk, so events are queued in the order the state changed;
// per channel one goroutine runs the command queue, per socket one writes
// and one (the HTTP handler) reads, and dial/ring timers run in their own.
// Close ends every goroutine and waits for them (goleak-clean).
//
// # Outbound mode
//
// AddOutbound makes the fake behave like Asterisk with res_websocket_client
// (ari.conf type = outbound_websocket): it dials the application (HTTP
// Basic, subprotocol "ari", ws or wss) instead of waiting for it, and
// answers RESTRequest messages on that socket with RESTResponse, one at a
// time in the socket's read loop (a request the fake holds behind a
// playing file delays the next, as on 22.10.1), interleaved with the
// events. Persistent: one connection for the app, ApplicationRegistered
// first, redialled after ReconnectInterval when it drops. PerCall: StartCall
// dials a connection per call (ErrDial when nobody answers: the dialplan
// would go on), the channel enters the app "<app>:<channel name>" on it
// after PerCallDelay (22.10.1: 500 ms), and the socket closes with 1000
// PerCallCloseDelay (22.10.1: 3 s) after the channel left Stasis, once the
// responses being served are written. Several Servers may dial the same
// listener (several Asterisks); KillOutbound drops an app's connections
// without a close frame, as a dead network would.
package aritest
