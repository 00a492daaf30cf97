// Package liveview is the live call view of the admin listener: a page at
// GET / (plain HTML, one small script and a style sheet, embedded with
// go:embed: no build step, no external asset) showing the calls the
// gateway sees, each with its state and caller and, for ExternalIVR
// sessions, the exchange with the script (the lines to and from it, and
// the playbacks) as it happens.
//
// # Flow
//
//	gateway sessions ──Redact──▶ ctiObserver (cmd) ──▶ cti.Hub.Publish ─┐
//	CTI app's ARI events ──reorder────────────────────▶ cti.Hub.Deliver ┴▶ GET /v1/events (NDJSON) ──fetch──▶ page
//
// The page has no feed of its own: it reads the CTI stream of package cti
// (GET v1/events, relative to the page, as NDJSON; Options.Events), in
// the hub's order. A new page starts from the CTISnapshot (the live
// channels and sessions); ARI channel events (ChannelStateChange,
// ChannelHold, ChannelDestroyed, ...) give a call's state and caller,
// EIVRSession events (started, line, playback, ended) its ExternalIVR
// exchange. After a CTICutOff or a broken stream the page reconnects
// after 2 s with Last-Event-ID: the hub resumes without a gap, or sends
// a CTIGap (shown) and a fresh snapshot.
//
// # The page's model
//
// One row per channel, in arrival order. An ended call (EIVRSession
// ended, or ChannelDestroyed) lingers Options.Linger (default 30 s), then
// goes; at most Options.MaxCalls calls are kept (past it the oldest ended
// one goes first, then the oldest) and at most Options.MaxLines lines per
// call (the last ones). The options reach the script in a <meta> tag of
// the page. Every text from a call is set with textContent, never parsed
// as HTML.
//
// # Authentication
//
// The page itself holds no data and needs no token. The stream requires
// the admin token as "Authorization: Bearer <token>" (cti.Handler: 401
// when wrong, 403 while admin.token is unset). The page asks for it once,
// keeps it in the tab's sessionStorage and sends it only in that header:
// never in a URL, so no access or proxy log can record it. The page's
// Content-Security-Policy allows only its own script, style and origin
// (form-action 'none': even without script the login form cannot submit
// the token anywhere).
//
// # Redaction
//
// The page shows what the stream carries. [Redact] is the Observer in
// front of the cmd's adapter to cti.Hub.Publish: it applies each app's
// transcript redaction (package transcript: DTMF digits, named
// variables) to the session lines before they enter the stream, so the
// CTI stream and the live view never show what a transcript would not.
package liveview
