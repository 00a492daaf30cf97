// Package eivr speaks Asterisk's ExternalIVR protocol, byte for byte as
// Asterisk's ExternalIVR() does (../shared/docs/eivr-protocol.md; "§n" in
// this package's comments are its sections): application strings, the
// commands a client writes, the events it reads, and the transports to local
// programs and ivr:// servers. Nothing here knows about ARI.
//
// # Application strings (§2)
//
// [ParseAppData] parses the dialplan form "target(args),options" and
// [ParseStasisArgs] the args of a StasisStart for
// Stasis(<app>,target(args),options). Both give an [App]: argv (program path
// or ivr:// URL, then the arguments; at most 32) and the options n, i, d.
// [SplitAppArgs] is Asterisk's standard argument splitter they build on.
//
// # Commands (§4.2, §6)
//
// A [Reader] frames the client's command stream as Asterisk does and returns
// [Command] values (a letter and the bytes from offset 2), unknown letters
// included; [ParseCommand] does the same for one line. The vocabulary is one
// table keyed by letter ([Lookup], [Commands]): a [Spec] per letter Asterisk
// executes, saying whether it is Up-guarded and whether it ends the
// session; [Command.Known], [Command.UpGuarded] and [Command.EndsSession]
// read it. Typed helpers interpret the parameters that have a
// structure: [SetVars] (V), [GetNames] (G), [DTMFArgs] (D), [Autoclear] (O).
// The P reply is [App.PReply]; S, A and L take the parameter as it is; E, H
// and X take it as a message; I, P and T ignore it.
//
// # Events (§4.1, §5)
//
// [AppendEvent] formats an event line into the caller's buffer, without
// allocating: "<tag>,<%10d timestamp>[,<data>]\n". [GetReply] builds the data
// of the G reply. [ParseEvent] is the client side, for tests and tools.
//
// # Transports (§3)
//
// [StartProgram] (a local program) and [DialTCP] (an ivr:// server, host and
// port from [App.HostPort]) give a [Conn]: read its Commands stream with a
// [Reader], hand lines made with [AppendEvent] to its Send. See the
// documentation of Conn for their own concurrency contract.
//
// StartProgram runs a program as app_externalivr does: no shell, no PATH
// search, argv exactly as parsed, its own process group, stderr lines logged
// with peer=<pid>; EOF on stderr ends the session (Q25). DialTCP tries every
// resolved address in order, with a bounded connect timeout (Q26) and TCP
// keep-alive; nothing is sent on connect (native sends no greeting). Each
// Conn has one writer goroutine fed by a bounded queue, so Send never blocks
// the session; when the queue is full the conn fails with [ErrSlowClient]
// (Q27). Commands are read only as fast as the session consumes them, so a
// flooding client blocks in its own write (Q34). Close flushes queued events
// (bounded), closes the streams as native does (the program sees EOF, and
// SIGPIPE on its next write), gives the program a grace period, then SIGTERM,
// then SIGKILL to its process group, and always reaps it (Q28).
//
// # Asterisk quirks kept for parity (§10)
//
//   - Lines are cut every 1023 bytes and each piece is its own command (Q3).
//   - Trailing bytes <= 0x20 are removed, leading white space makes a line
//     ignored (Q4); lines shorter than 3 bytes are ignored (Q5); byte 1 is
//     not checked (Q6); a NUL byte ends the line; unknown letters are
//     ignored without any reply (Q7).
//   - Event data is never escaped (Q15); the timestamp is a space-padded
//     "%10d" of a 32-bit value (Q32).
//   - The P reply is cut to 99 bytes (Q12), the G reply to 2047 (Q13).
//   - Text after the last ')' is dropped, "()" is one empty argument, quotes
//     and backslashes are processed twice (Q18).
//
// # Asterisk behaviour we fix (§10)
//
//   - Every complete command line is returned as soon as it is read, not
//     one per wake-up of the stream (Q1, asterisk#2148), and a partial line
//     blocks only the goroutine reading commands, never the call (Q2).
//   - An application string without a target (",n"), which crashes
//     Asterisk, is an error (Q19); so are more than 32 argv elements, which
//     Asterisk hands to execv without a terminating NULL (Q18). A V item with
//     an empty name is rejected (§6.2).
//   - A TCP connect is bounded in time (Q26); a client that stops reading
//     ends its session after a bounded buffer instead of blocking the call
//     (Q27); a program is reaped, and killed after a grace period (Q28); a
//     client that floods commands is read with back-pressure and cannot
//     starve the call (Q34). A stderr line over 1023 bytes is logged once,
//     cut, not once per 1023-byte piece; stderr is logged at most 100 lines
//     at once, then 20 a second, the rest counted ("stderr lines
//     suppressed").
//
// # Concurrency
//
// The parse and format functions are pure and safe for concurrent use. A
// Reader belongs to one goroutine: the one that reads a session's commands
// and hands them to the session; its blocking reads end when the stream is
// closed (Conn.Close). A Command's Param is valid until that goroutine's next
// call of Next: copy it (or finish with it) before reading on.
package eivr
