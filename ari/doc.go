// Package ari is a small, fast client for the Asterisk REST Interface (ARI):
// typed events decoded from the events WebSocket, a reconnecting event
// stream, and the REST calls the gateway needs. Nothing in it is specific to
// ExternalIVR.
//
// # Events
//
// [Decode] turns one WebSocket text frame into a flat [Event]. The event
// types the gateway uses have their own [Kind]; every other type decodes as
// [KindOther] with Type, Application, AsteriskID, Timestamp and Raw filled in,
// never as an error. Field names are exactly those of Asterisk's events.json
// (see ../shared/docs/ari-reference.md §2). Decode is the hot path: it scans
// the frame once with a hand-written JSON scanner, allocates nothing for
// strings that need no unescaping (they alias the frame), and never uses
// reflection or map[string]any.
//
// # Concurrency
//
// Decode is safe for concurrent use on distinct frames and events. An Event
// may reference the frame it was decoded from; the frame must not be
// modified afterwards. The receiver of an *Event owns it.
package ari
