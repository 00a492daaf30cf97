package gateway

import (
	"sync/atomic"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// LifecycleStats are the gateway's counters about channels and variables it
// could not hand back as asked (for metrics; all monotonic).
type LifecycleStats struct {
	// VarsLost: V sets the dialplan did not see (refused by Asterisk, or
	// still pending when the end of the session gave up waiting).
	VarsLost uint64
	// Unreleased: channels the gateway could neither continue nor hang up
	// after its retries (they stay in Stasis until a reconcile releases
	// them or they hang up).
	Unreleased uint64
	// Orphans: channels found in an app with no session after a
	// (re)connect and released (continued with a status, or hung up).
	Orphans uint64
	// Adopted: channels whose StasisStart was missed during an ARI outage
	// and whose session was started late from dialplan.app_data.
	Adopted uint64
	// ReleasedOnRetry: channels of Unreleased that a later retry
	// released (retry.go).
	ReleasedOnRetry uint64
	// EarlyDTMFDropped: caller digits received before the answer and
	// dropped because the session already held MaxEarlyDTMF.
	EarlyDTMFDropped uint64
	// Resyncs of the apps' channels (GET /applications/{app}) by reason:
	// after a reconnect, after the ARI client dropped events on a full
	// queue (ari.LossHandler), after a StasisStart found the admission
	// queue full.
	ResyncReconnect, ResyncOverflow, ResyncAdmission uint64
}

// lifeStats is the atomic backing of LifecycleStats, shared by sessions.
type lifeStats struct {
	varsLost, unreleased, orphans, adopted, retried atomic.Uint64

	resyncReconnect, resyncOverflow, resyncAdmission atomic.Uint64
}

// LifecycleStats returns the lifecycle counters.
func (g *Gateway) LifecycleStats() LifecycleStats {
	s := &g.stats
	return LifecycleStats{
		VarsLost: s.varsLost.Load(), Unreleased: s.unreleased.Load(),
		Orphans: s.orphans.Load(), Adopted: s.adopted.Load(), ReleasedOnRetry: s.retried.Load(),
		EarlyDTMFDropped: g.earlyDropped.Load(),
		ResyncReconnect:  s.resyncReconnect.Load(), ResyncOverflow: s.resyncOverflow.Load(),
		ResyncAdmission: s.resyncAdmission.Load(),
	}
}

// noteEnd records a StasisEnd read while the end sequence waits.
func (s *session) noteEnd(ev *ari.Event) {
	if ev.Kind == ari.KindStasisEnd {
		s.inStasis = false
	}
}
