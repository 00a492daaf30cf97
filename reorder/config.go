package reorder

import (
	"log/slog"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// Defaults used when the matching Config field is zero.
const (
	DefaultHoldLimit   = 50 * time.Millisecond
	DefaultQueueLimit  = 64
	DefaultEndedSize   = 1 << 16
	DefaultIdleTimeout = time.Hour
	DefaultResolution  = time.Millisecond
	DefaultShards      = 64
	// DefaultWindow is the window DefaultWindows gives the kinds that come
	// from threads other than the channel's Stasis thread.
	DefaultWindow = 20 * time.Millisecond
)

// DefaultWindows returns a fresh copy of the default per-kind windows:
// DefaultWindow (20 ms) for ChannelStateChange, ChannelConnectedLine,
// ChannelCallerId, ChannelDestroyed and StasisEnd, 0 for everything else
// (DTMF and playback events included). See the package documentation for
// the reasons.
func DefaultWindows() map[ari.Kind]time.Duration {
	return map[ari.Kind]time.Duration{
		ari.KindChannelStateChange:   DefaultWindow,
		ari.KindChannelConnectedLine: DefaultWindow,
		ari.KindChannelCallerId:      DefaultWindow,
		ari.KindChannelDestroyed:     DefaultWindow,
		ari.KindStasisEnd:            DefaultWindow,
	}
}

// Config configures a Reorderer. The zero value is usable: every zero field
// takes the default named beside it.
type Config struct {
	// Windows is the timestamp-order window per event kind: an event of
	// kind k waits Windows[k] after its arrival so that events of its
	// channel with an earlier timestamp that arrive meanwhile leave before
	// it. nil means DefaultWindows(); a non-nil map is used as it is (kinds
	// it does not name get 0, i.e. no waiting at all).
	Windows map[ari.Kind]time.Duration
	// HoldLimit bounds how long an event whose causal predecessor is
	// missing waits for it, counted from the event's arrival. Default
	// DefaultHoldLimit (50 ms).
	HoldLimit time.Duration
	// Kinds are the event kinds delivered to the Sink; nil means all.
	// Lifecycle events (StasisStart, StasisEnd, ChannelDestroyed) and, when
	// a playback kind is wanted, all playback kinds are still tracked to
	// enforce the rules, but only the wanted kinds are delivered.
	Kinds []ari.Kind
	// QueueLimit bounds the events waiting per channel (window or hold).
	// When a channel's queue is full its oldest event is released early
	// (counted in Stats.Overflow, logged once per channel). Default
	// DefaultQueueLimit (64).
	QueueLimit int
	// EndedSize is how many ended channels are remembered to drop their
	// late events. Default DefaultEndedSize (65536).
	EndedSize int
	// IdleTimeout forgets a channel that has had no event for this long
	// (it never ended: a lost StasisEnd). Default DefaultIdleTimeout (1 h).
	IdleTimeout time.Duration
	// Resolution is the shortest sleep of Run: windows and hold limits are
	// enforced up to this late, so that a busy stream does not wake Run for
	// every event. Default DefaultResolution (1 ms).
	Resolution time.Duration
	// Shards is the number of independently locked channel tables (rounded
	// up to a power of two). Default DefaultShards (64).
	Shards int
	// Clock is the time source. Default: the system clock.
	Clock Clock
	// Logger receives warnings about bad input. nil discards.
	Logger *slog.Logger
}

// Clock is the time source of a Reorderer; tests inject a fake one.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is the part of *time.Timer that Run uses.
type Timer interface {
	C() <-chan time.Time
	Reset(d time.Duration)
	Stop() bool
}

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }
func (systemClock) NewTimer(d time.Duration) Timer {
	return systemTimer{time.NewTimer(d)}
}

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time   { return t.t.C }
func (t systemTimer) Reset(d time.Duration) { t.t.Reset(d) }
func (t systemTimer) Stop() bool            { return t.t.Stop() }
