// Package ivr holds the bundled legacy ExternalIVR clients: programs
// written the way ExternalIVR clients were written for native Asterisk
// (menu.pl, playlist.sh, stubborn.sh; see README.md) and, in
// [github.com/eivr-gateway/eivr-gateway/internal/ivr/tcpivr], the TCP menu
// server (the ivr:// side).
//
// The scripts are embedded, so that `eivr-gateway demo` runs from a built
// binary anywhere: [Install] writes them into a directory (the demo's
// private temporary directory) from which the gateway runs them. The
// end-to-end tests run them in place, from this directory.
//
// It lives in the module's top-level internal/ because both the demo
// (cmd/eivr-gateway, production code) and the end-to-end tests (test/e2e)
// use it: Go's internal rule would hide cmd/eivr-gateway/internal from
// test/, and production code must not import a package under test/.
//
// # Concurrency
//
// [Install] and [Names] keep no state; they are safe for
// concurrent use.
package ivr
