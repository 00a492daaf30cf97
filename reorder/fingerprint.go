package reorder

import (
	"encoding/binary"
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
//
// The fields are packed into a stack buffer and hashed once (long strings
// by their own hash): no allocation, one pass of the runtime's hash.
func fingerprint(seed maphash.Seed, ev *ari.Event) uint64 {
	var arr [192]byte
	p := packer{seed: seed}
	b := arr[:0]
	b = p.num(b, ev.Timestamp.UnixNano())
	b = append(b, byte(ev.Kind))
	switch ev.Kind {
	case ari.KindOther:
		if len(ev.Raw) > 0 {
			b = p.num(b, int64(maphash.Bytes(seed, ev.Raw)))
		} else {
			b = p.str(b, ev.Type)
			b = p.str(b, ev.Channel.State)
			b = p.str(b, ev.Channel.Dialplan.Context)
			b = p.str(b, ev.Channel.Dialplan.Exten)
			b = p.num(b, ev.Channel.Dialplan.Priority)
			b = p.str(b, ev.Channel.Dialplan.AppName)
			b = p.str(b, ev.Channel.Dialplan.AppData)
		}
	case ari.KindStasisStart:
		b = p.num(b, int64(len(ev.Args)))
		for _, a := range ev.Args {
			b = p.str(b, a)
		}
		b = p.str(b, ev.ReplaceChannel.ChannelID())
		b = p.str(b, ev.Channel.State)
	case ari.KindChannelStateChange:
		b = p.str(b, ev.Channel.State)
	case ari.KindChannelDestroyed, ari.KindChannelHangupRequest:
		b = p.num(b, int64(ev.Cause))
		b = p.str(b, ev.CauseTxt)
		b = p.num(b, int64(ev.TechCause))
		if ev.Soft {
			b = append(b, 1)
		}
	case ari.KindChannelDtmfReceived:
		b = p.str(b, ev.Digit)
		b = p.num(b, int64(ev.DurationMs))
	case ari.KindChannelTalkingFinished:
		b = p.num(b, int64(ev.DurationMs))
	case ari.KindChannelVarset:
		b = p.str(b, ev.Variable)
		b = p.str(b, ev.Value)
	case ari.KindChannelCallerId:
		b = p.str(b, ev.Channel.Caller.Name)
		b = p.str(b, ev.Channel.Caller.Number)
	case ari.KindChannelConnectedLine:
		b = p.str(b, ev.Channel.Connected.Name)
		b = p.str(b, ev.Channel.Connected.Number)
	case ari.KindChannelHold:
		b = p.str(b, ev.MusicClass)
	case ari.KindPlaybackStarted, ari.KindPlaybackContinuing, ari.KindPlaybackFinished:
		var pb ari.Playback
		if ev.Playback != nil {
			pb = *ev.Playback
		}
		b = p.str(b, pb.ID)
		b = p.str(b, pb.MediaURI)
		b = p.str(b, pb.NextMediaURI)
		b = p.str(b, pb.State)
	case ari.KindDial:
		b = p.str(b, ev.Peer.ChannelState())
		b = p.str(b, ev.Caller.ChannelID())
		b = p.str(b, ev.DialStatus)
		b = p.str(b, ev.DialString)
		b = p.str(b, ev.Forward)
	}
	return maphash.Bytes(seed, b)
}

// packer appends fields to a buffer (a stack array in fingerprint),
// replacing what it holds by its hash when full, so it never grows.
type packer struct{ seed maphash.Seed }

func (p packer) num(b []byte, v int64) []byte {
	if len(b)+8 > cap(b) {
		b = p.flush(b)
	}
	return binary.LittleEndian.AppendUint64(b, uint64(v))
}

// str adds s with its length, so that ("ab","c") and ("a","bc") differ;
// a long string is added as its own hash.
func (p packer) str(b []byte, s string) []byte {
	if len(s) > 64 {
		b = p.num(b, int64(len(s)))
		return p.num(b, int64(maphash.String(p.seed, s)))
	}
	if len(b)+1+len(s) > cap(b) {
		b = p.flush(b)
	}
	b = append(b, byte(len(s)))
	return append(b, s...)
}

// flush replaces the packed bytes by their hash, making room.
func (p packer) flush(b []byte) []byte {
	h := maphash.Bytes(p.seed, b)
	return binary.LittleEndian.AppendUint64(b[:0], h)
}
