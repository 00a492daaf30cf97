package gateway

import (
	"context"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// channelOps is the subset of ARI REST calls a session makes on its channel
// (satisfied by *ari.Client). Defined here so that session tests run on an
// in-package fake.
type channelOps interface {
	Answer(ctx context.Context, channelID string) error
	Hangup(ctx context.Context, channelID, reason string) error
	Play(ctx context.Context, channelID, playbackID string, media []string, lang string) (ari.Playback, error)
	StopPlayback(ctx context.Context, playbackID string) error
	GetPlayback(ctx context.Context, playbackID string) (ari.Playback, error)
	GetVariable(ctx context.Context, channelID, name string) (string, error)
	SetVariable(ctx context.Context, channelID, name, value string) error
	Continue(ctx context.Context, channelID, context_, exten string, priority int, label string) error
	StartSilence(ctx context.Context, channelID string) error
	StopSilence(ctx context.Context, channelID string) error
	SendDTMF(ctx context.Context, channelID, dtmf string, opt ari.DTMFOptions) error
}

// lane runs a session's REST calls one at a time, in order, off the
// session loop (ari-mapping.md §1: answer, variable sets and continue block
// behind a playing file). It is owned by the session goroutine: push and
// done are only called there. A call's goroutine posts its result back to
// the loop, which then starts the next call.
type lane struct {
	name string
	q    []laneOp
	busy bool
}

// laneOp is one queued call: do runs on its own goroutine, done on the
// session loop with do's error.
type laneOp struct {
	start func() // optional, run on the loop just before do starts
	do    func(ctx context.Context) error
	done  func(err error)
}

// idle reports whether no call is running or queued.
func (l *lane) idle() bool { return !l.busy && len(l.q) == 0 }
