// Package liveview is the live call view of the admin listener: a page at
// GET / (plain HTML, one small script and a style sheet, embedded with
// go:embed: no build step, no external asset) showing the calls the
// gateway serves, each with its state, its caller and, for ExternalIVR
// sessions, the exchange with the script (the lines to and from it, and
// the playbacks) as it happens.
//
// # Flow
//
//	gateway session goroutines ──gateway.Observer──▶ View (bounded model)
//	                                                   │ publish: non-blocking
//	                                                   ▼
//	                      Sub queue (Options.Buffer) ──▶ GET /live/events (NDJSON) ──▶ page
//
// View is a gateway.Observer (the cmd adds it to the gateway's observers).
// It keeps the calls, live and ended: an ended call lingers
// Options.Linger (default 30 s), at most Options.MaxCalls calls are kept
// (past it the oldest ended call goes first) and at most Options.MaxLines
// lines per call (the last ones). Every change is an Event, numbered in
// order, queued to each subscriber without ever blocking the session: a
// subscriber whose queue is full is cut off ("bye", reason "slow", and a
// warning in the log); the page reconnects and starts again from a fresh
// snapshot. Close (on the admin listener's shutdown) ends every stream
// ("bye", reason "shutdown").
//
// # The stream
//
// GET /live/events answers application/x-ndjson, one Event per line: first
// a "hello" with the snapshot of every call kept (each with its lines) and
// the linger in ms, then "call" (a call started, changed state or ended),
// "line" (one line of a call: dir "to" the script, "from" it, or a "note"
// about a playback), "gone" (the view no longer keeps a call), "ping"
// (every Keepalive on an idle stream) and a last "bye". The stream is the
// view's own, fed by the gateway's Observer; a CTI hub's stream can feed
// the same View later through the same Observer calls.
//
// # Authentication
//
// The stream requires the admin token as "Authorization: Bearer <token>"
// (403 when admin.token is unset, 401 when wrong). The page asks for the
// token once, keeps it in the tab's sessionStorage and sends it only in
// that header with fetch: never in a URL, so no access log or proxy log
// can record it, and the handler never logs it. The page's
// Content-Security-Policy allows only its own script, style and origin
// (form-action 'none': even without script the login form cannot submit
// the token anywhere). Every text from a call is shown with textContent,
// never parsed as HTML.
//
// # Redaction
//
// Options.Redact rewrites each line before the view keeps it: the seam
// where the transcripts' redaction rules (DTMF digits, named variables)
// apply to the live view too, so the page never shows what a transcript
// would not.
package liveview
