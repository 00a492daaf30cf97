package reorder

import (
	"hash/maphash"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// fingerprint hashes what makes an event distinct: its kind, timestamp and
// the fields its kind carries. Two events with the same fingerprint on one
// channel are the same event delivered twice (two sources, a reconnect
// overlap). Fields that differ between two copies of one event cannot
// exist, so hashing more of them only costs time; the set per kind is
// every field events.json gives that kind. KindOther hashes the raw frame,
// since its fields are not decoded. The key (asterisk, app, channel) is
// not hashed: fingerprints are compared within one channel only.
func fingerprint(seed maphash.Seed, ev *ari.Event) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	num(&h, ev.Timestamp.UnixNano())
	h.WriteByte(byte(ev.Kind))
	switch ev.Kind {
	case ari.KindOther:
		if len(ev.Raw) > 0 {
			h.Write(ev.Raw)
		} else {
			h.WriteString(ev.Type)
			str(&h, ev.Channel.State)
			str(&h, ev.Channel.Dialplan.Context)
			str(&h, ev.Channel.Dialplan.Exten)
			num(&h, ev.Channel.Dialplan.Priority)
			str(&h, ev.Channel.Dialplan.AppName)
			str(&h, ev.Channel.Dialplan.AppData)
		}
	case ari.KindStasisStart:
		for _, a := range ev.Args {
			str(&h, a)
		}
		str(&h, ev.ReplaceChannel.ID)
		str(&h, ev.Channel.State)
	case ari.KindChannelStateChange:
		str(&h, ev.Channel.State)
	case ari.KindChannelDestroyed, ari.KindChannelHangupRequest:
		num(&h, int64(ev.Cause))
		str(&h, ev.CauseTxt)
		num(&h, int64(ev.TechCause))
		if ev.Soft {
			h.WriteByte(1)
		}
	case ari.KindChannelDtmfReceived:
		str(&h, ev.Digit)
		num(&h, int64(ev.DurationMs))
	case ari.KindChannelTalkingFinished:
		num(&h, int64(ev.DurationMs))
	case ari.KindChannelVarset:
		str(&h, ev.Variable)
		str(&h, ev.Value)
	case ari.KindChannelCallerId:
		str(&h, ev.Channel.Caller.Name)
		str(&h, ev.Channel.Caller.Number)
	case ari.KindChannelConnectedLine:
		str(&h, ev.Channel.Connected.Name)
		str(&h, ev.Channel.Connected.Number)
	case ari.KindChannelHold:
		str(&h, ev.MusicClass)
	case ari.KindPlaybackStarted, ari.KindPlaybackContinuing, ari.KindPlaybackFinished:
		str(&h, ev.Playback.ID)
		str(&h, ev.Playback.MediaURI)
		str(&h, ev.Playback.NextMediaURI)
		str(&h, ev.Playback.State)
	case ari.KindDial:
		str(&h, ev.Peer.State)
		str(&h, ev.Caller.ID)
		str(&h, ev.DialStatus)
		str(&h, ev.DialString)
		str(&h, ev.Forward)
	}
	return h.Sum64()
}

// str writes s with its length, so that ("ab","c") and ("a","bc") differ.
func str(h *maphash.Hash, s string) {
	num(h, int64(len(s)))
	h.WriteString(s)
}

func num(h *maphash.Hash, v int64) {
	var b [8]byte
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	h.Write(b[:])
}
