// Package faults is the fault matrix of eivr-gateway: one test per fault,
// each running the real gateway (ari.Client + gateway.Gateway) against the
// fake Asterisk (ari/aritest) with legacy clients over TCP and stdio, and
// asserting what a user would see: the event the script gets (the one
// native ExternalIVR() would send), how the channel leaves the application
// (continues in the dialplan or hangs up, with EIVRGW_STATUS when the
// gateway decided), and afterwards no goroutine (goleak), no file
// descriptor (/proc/self/fd) and no child process left behind.
//
// The matrix, with the expectation each test asserts, is the table in the
// README's "Reliability" section. The whole matrix runs in
// about 20 s; -short only shortens the wait of TestSilentTCPServerKept.
package faults
