// Package gwharness is the test support the end-to-end suites (test/e2e,
// test/faults) share: a World of one fake Asterisk (aritest), one ARI client
// and one gateway running against it, closed when the test ends; waits on
// the ivr:// server of eivr/eivrtest (the one TCP client fake of the
// repository); a log buffer that is safe for concurrent writers; and the
// masking of event timestamps. Polling goes through internal/testwait.
//
// Concurrency: a World's gateway runs on a goroutine the World owns and
// stops in Close (registered with t.Cleanup, safe to call again).
// Everything else is called from the test's goroutine, except SyncBuffer,
// which any goroutine may write.
package gwharness
