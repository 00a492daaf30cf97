// Package astargs is Asterisk's standard application-argument splitter,
// ast_app_separate_args (AST_STANDARD_APP_ARGS): how Stasis(), ExternalIVR()
// and most dialplan applications cut their data into arguments
// (../shared/docs/eivr-protocol.md §2.1). It lives here, outside eivr and
// ari, because both sides need it and they must not import each other: eivr
// parses ExternalIVR application strings with it (eivr.SplitAppArgs wraps
// [Split]) and the fake Asterisk of ari/aritest splits originate's
// "app,appArgs" with it as Stasis() does.
//
// # Concurrency
//
// [Split] is a pure function, safe for concurrent use.
package astargs
