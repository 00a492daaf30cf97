// Package testwait is the repository's one poll-until helper for tests.
//
// Tests wait on events the system gives (a reply line, a log line, a
// request in aritest's log, a channel). Where no event exists, they poll the
// condition with [Until] or [For], never with time.Sleep as a barrier. The
// deadline is a failure bound, not a timing claim: [Long] holds on a busy
// 2-core machine under -race.
//
// Concurrency: cond is called from the caller's goroutine only.
package testwait
