// Package replay runs an ExternalIVR script against a recorded call
// (a [transcript.Transcript]) with no Asterisk: it plays the Asterisk side
// of the protocol (eivr-protocol.md) from what the recording knows, and
// compares the commands the script writes with the recorded ones.
//
// # What the replay plays
//
// The script is started with the recorded argv (argv[0] replaced by
// Options.Program, or the ivr:// server at Options.TCP dialled instead),
// through the eivr transports ([eivr.StartProgram], [eivr.DialTCP]). Then:
//
//   - The caller's actions (DTMF digits and the hang-up, the events marked
//     "caller" in the recording) happen at their recorded times relative to
//     the record before them: a digit pressed 1.2 s after a prompt started
//     is pressed 1.2 s (divided by Options.Speed) after that prompt starts
//     in the replay. Actions keep their order. When the record an action
//     waits for never comes (the script went another way), the action
//     happens once nothing was exchanged with the script for Options.Quiet.
//   - The playlist works as on Asterisk (S, A, I, autoclear, T, D and F
//     events): each file takes its recorded duration; a file only ever
//     seen interrupted plays until interrupted (at most the recorded call
//     duration); a file the recording never saw accepted is missing
//     (Z,<ts>,<file>).
//   - P replies with the recorded argv, G with what V set during the
//     replay or else the recorded reply's value, and the options n, i and
//     d and the answer (T) behave as on Asterisk.
//
// The comparison is of the command lines (framed as the gateway frames
// them, with the recording's redaction applied), followed by how the
// session ended ("end: E", "end: H", "end: X", "end: hangup", "end: script
// closed", "end: script still running"). A script still running
// Options.Quiet after the last recorded action is ended. [Result.Diff] is
// a line diff (longest common subsequence).
//
// A transcript whose DTMF was redacted cannot be replayed (ErrRedacted):
// the digits are not known.
//
// # Concurrency
//
// [Run] owns everything it starts: the script, a goroutine reading its
// commands, timers; all of them are gone when it returns.
package replay
