package gateway

import (
	"fmt"
	"slices"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// stasisArgs recovers StasisStart's args from dialplan.app_data as
// Stasis() splits its data (22.10.1 shows "gwapp,/tmp/ivr.sh," for
// Stasis(gwapp,/tmp/ivr.sh,) : a trailing empty options field).
func TestStasisArgsFromAppData(t *testing.T) {
	for _, tc := range []struct {
		dp   ari.DialplanCEP
		want []string
		ok   bool
	}{
		{ari.DialplanCEP{AppName: "Stasis", AppData: "gwapp,/tmp/life-run/ivr.sh,"}, []string{"/tmp/life-run/ivr.sh", ""}, true},
		{ari.DialplanCEP{AppName: "Stasis", AppData: "gwapp,/usr/bin/ivr(a,b),n"}, []string{"/usr/bin/ivr(a,b)", "n"}, true},
		{ari.DialplanCEP{AppName: "Stasis", AppData: "gwapp"}, []string{}, true},
		{ari.DialplanCEP{AppName: "Stasis", AppData: "other,/x"}, nil, false},
		{ari.DialplanCEP{AppName: "AppDial2", AppData: "(Outgoing Line)"}, nil, false},
		{ari.DialplanCEP{}, nil, false},
	} {
		got, ok := stasisArgs(tc.dp, "gwapp")
		if ok != tc.ok || (ok && !slices.Equal(got, tc.want)) {
			t.Errorf("stasisArgs(%+v) = %q, %v; want %q, %v", tc.dp, got, ok, tc.want, tc.ok)
		}
	}
}

func TestIsChannelNotFound(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{&ari.Error{Method: "POST", Path: "/channels/c1/answer", Status: 404, Message: "Channel not found"}, true},
		{fmt.Errorf("wrapped: %w", &ari.Error{Method: "POST", Path: "/channels/c1/variable", Status: 404, Message: "Provided channel was not found"}), true},
		{&ari.Error{Method: "GET", Path: "/channels/c1/variable", Status: 404, Message: "Provided variable was not found"}, false},
		{&ari.Error{Method: "DELETE", Path: "/playbacks/p1", Status: 404, Message: "Playback not found"}, false},
		{&ari.Error{Method: "POST", Path: "/channels/c1/continue", Status: 409}, false},
		{ari.ErrNotFound, false},
		{nil, false},
	} {
		if got := isChannelNotFound(tc.err); got != tc.want {
			t.Errorf("isChannelNotFound(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
