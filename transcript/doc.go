// Package transcript records ExternalIVR sessions as JSONL call transcripts
// and reads them back (for `eivr-gateway replay`, package
// [github.com/eivr-gateway/eivr-gateway/transcript/replay]).
//
// # Format (version 1)
//
// One file per session, one JSON object per line. The first line is the
// header ([Header], "type":"header", "v":1): app, channel, session, caller,
// the application string's argv and options, the start time and the
// redaction rules applied to the file. Then one [Record] per thing that
// happened, in order, each with "us", the microseconds since the session
// started (monotonic clock):
//
//	{"us":1200,"type":"command","line":"S,hello-world"}
//	{"us":1350,"type":"play","file":"hello-world"}
//	{"us":2500000,"type":"event","line":"1,1732355012","caller":"dtmf"}
//	{"us":2500100,"type":"event","line":"T,1732355012,hello-world"}
//	{"us":2600000,"type":"played","file":"hello-world","interrupted":true}
//	{"us":9000000,"type":"end","served":true,"cause":"...","duration_us":9000000}
//
// "command" is a line the script wrote (as the reader framed it), "event" a
// line sent to it; "caller" marks the events the caller caused: "dtmf" (a
// digit) and "hangup" (H or I,HANGUP not echoing an H command). "play" and
// "played" are the playbacks of the playlist. "end" says how the session
// ended; "dropped" counts the records left out (queue full or size bound),
// "truncated" is set when the size bound was hit. [Read] parses a file; an
// unknown "v" is an error ([ErrVersion]), unknown fields are ignored.
//
// # Redaction
//
// Callers type PINs and card numbers. [Redaction] (redact_dtmf,
// redact_vars) is applied before anything is written: with DTMF on, every
// digit of a DTMF event becomes "X" and the digits of a D command are
// replaced by "X"; the values of the named variables become "[redacted]" in V
// commands and G replies (names compared case-insensitively). [Redactor] is
// the per-session, stateful form (it pairs G replies with their G commands);
// the live call view applies the same rules through it.
//
// # Recorder
//
// [Recorder] is a gateway.Observer writing the transcripts of the apps it is
// configured for ([AppConfig]: directory, redaction, size bound, rotation).
// It never blocks a session: each session has a bounded queue; when it is
// full, records are dropped, counted, logged at the session's end and
// noted in its end record. One writer goroutine, owned by the Recorder and
// stopped by [Recorder.Close], opens, writes and closes the files: mode
// 0600 in a directory created 0700, one file per session named
// <start UTC>-<session>.jsonl, at most MaxBytes each. Rotation keeps at most
// Keep files per directory and removes those older than MaxAge, checked at
// start-up and after sessions end (at most once a second per directory).
// [Recorder.Update] replaces the configurations (a reload) for the sessions
// that start afterwards. Lines are stored as JSON strings: invalid UTF-8
// becomes U+FFFD.
//
// # Concurrency
//
// Recorder's methods are safe for concurrent use; the Observer methods of
// one session are called from that session's goroutine. A Redactor belongs
// to one goroutine. Read and the format functions keep no state.
package transcript
