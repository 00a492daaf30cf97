package reorder

import (
	"fmt"
	"hash/maphash"
	"slices"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// checkRules returns the first violation of a causal rule in out (per Key),
// or nil. It is the specification of doc.go's rules, written independently
// of the implementation: a checker over the output only.
func checkRules(out []delivery) error {
	type pbInfo struct {
		started, finished bool
		newest            time.Time
	}
	type keyState struct {
		phase    phase
		stateTS  time.Time
		hasState bool
		pbs      map[string]*pbInfo
		newest   map[ari.Kind]time.Time
		recent   []uint64 // fingerprints of the last dedupDepth deliveries
	}
	seed := maphash.MakeSeed()
	keys := map[Key]*keyState{}
	for i, d := range out {
		if d.key.ChannelID == "" {
			continue
		}
		ks := keys[d.key]
		if ks == nil {
			ks = &keyState{pbs: map[string]*pbInfo{}, newest: map[ari.Kind]time.Time{}}
			keys[d.key] = ks
		}
		ev := d.ev
		where := func(format string, args ...any) error {
			return fmt.Errorf("delivery %d (%s at %s): %s", i, label(d.key.ChannelID, ev),
				ev.Timestamp.Format("15:04:05.000"), fmt.Sprintf(format, args...))
		}
		// Copies are recognised among the last dedupDepth deliveries (older
		// ones by the ordering rules below). An event without a timestamp
		// is ordered by arrival and never taken for a copy (doc.go, "Bad
		// input"): two identical ones are two events (the same digit
		// pressed twice would look the same), both delivered.
		fp := fingerprint(seed, ev)
		if !ev.Timestamp.IsZero() && slices.Contains(ks.recent, fp) {
			return where("delivered twice")
		}
		ks.recent = append(ks.recent, fp)
		if len(ks.recent) > dedupDepth {
			ks.recent = ks.recent[1:]
		}
		k := ev.Kind
		if ks.phase == phaseEnded && k != ari.KindStasisStart {
			return where("after the end of its stream")
		}
		if ks.phase == phasePre && needsStasis(k) {
			return where("before StasisStart")
		}
		if ordered(k) >= 0 && !ev.Timestamp.IsZero() {
			if ev.Timestamp.Before(ks.newest[k]) {
				return where("older than the %s already delivered", k)
			}
			ks.newest[k] = ev.Timestamp
		}
		switch k {
		case ari.KindStasisStart:
			ks.phase = phaseIn
			ks.pbs = map[string]*pbInfo{}
			if ev.Channel.State != "" && (!ks.hasState || !ev.Timestamp.Before(ks.stateTS)) {
				ks.stateTS, ks.hasState = ev.Timestamp, true
			}
		case ari.KindStasisEnd:
			ks.phase = phaseEnded
		case ari.KindChannelDestroyed:
			if ks.phase == phaseIn {
				return where("ChannelDestroyed before StasisEnd")
			}
			ks.phase = phaseEnded
		case ari.KindChannelStateChange:
			if ks.hasState && !ev.Timestamp.IsZero() && ev.Timestamp.Before(ks.stateTS) {
				return where("state goes backwards (last state at %s)", ks.stateTS.Format("15:04:05.000"))
			}
			if !ev.Timestamp.IsZero() {
				ks.stateTS, ks.hasState = ev.Timestamp, true
			}
		case ari.KindPlaybackStarted, ari.KindPlaybackContinuing, ari.KindPlaybackFinished:
			p := ks.pbs[ev.Playback.PlaybackID()]
			if p == nil {
				p = &pbInfo{}
				ks.pbs[ev.Playback.PlaybackID()] = p
			}
			if p.finished {
				return where("after the playback's Finished")
			}
			if !ev.Timestamp.IsZero() {
				if ev.Timestamp.Before(p.newest) {
					return where("older than an event of its playback already delivered")
				}
				p.newest = ev.Timestamp
			}
			switch k {
			case ari.KindPlaybackStarted:
				p.started = true
			case ari.KindPlaybackContinuing:
				if !p.started {
					return where("Continuing before Started")
				}
			case ari.KindPlaybackFinished:
				p.finished = true
			}
		}
	}
	return nil
}

// conserved checks that every pushed event is accounted for exactly once.
func conserved(st Stats, pushed int) error {
	sum := st.Delivered + st.Filtered + st.Stale + st.Duplicate + st.LateDropped + uint64(st.Pending)
	if sum != uint64(pushed) {
		return fmt.Errorf("pushed %d, accounted for %d: %+v", pushed, sum, st)
	}
	return nil
}
