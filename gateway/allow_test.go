package gateway

import (
	"testing"

	"github.com/eivr-gateway/eivr-gateway/eivr"
)

func TestAllowList(t *testing.T) {
	al, err := newAllowList([]string{"/usr/lib/ivr/*", "/opt/menu.pl"}, []string{"ivr.example:3000", "10.0.0.1:*", "plain", "[::1]:4000"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args []string
		want bool
	}{
		{[]string{"/usr/lib/ivr/menu.pl(en)"}, true},
		{[]string{"/opt/menu.pl"}, true},
		{[]string{"/opt/other.pl"}, false},
		{[]string{"/usr/lib/ivr/sub/x.pl"}, false},        // * does not cross /
		{[]string{"/usr/lib/ivr/../../../bin/sh"}, false}, // not a clean path
		{[]string{"menu.pl"}, false},                      // relative
		{[]string{"ivr://ivr.example:3000(x)"}, true},
		{[]string{"ivr://IVR.example:3000"}, true},
		{[]string{"ivr://ivr.example:3001"}, false},
		{[]string{"ivr://ivr.example"}, false},
		{[]string{"ivr://10.0.0.1:9999"}, true},
		{[]string{"ivr://plain"}, true},
		{[]string{"ivr://plain:2949"}, true},
		{[]string{"ivr://plain:2950"}, false},
		{[]string{"ivr://[::1]:4000"}, true},
		{[]string{"ivr://evil.example:3000"}, false},
	}
	for _, tt := range tests {
		app, err := eivr.ParseStasisArgs(tt.args)
		if err != nil {
			t.Fatalf("%v: %v", tt.args, err)
		}
		if got, why := al.allows(app); got != tt.want {
			t.Errorf("allows(%v) = %v (%s), want %v", tt.args, got, why, tt.want)
		}
	}
}

func TestAllowListDenyByDefault(t *testing.T) {
	var al allowList
	app, _ := eivr.ParseStasisArgs([]string{"/bin/sh(-c,id)"})
	if ok, why := al.allows(app); ok || why == "" {
		t.Fatalf("empty allow-list allowed %v (%q)", app.Argv, why)
	}
}

func TestAllowListBadConfig(t *testing.T) {
	for _, bad := range [][2][]string{
		{{"relative/*"}, nil},
		{{"/x/[a"}, nil},
		{nil, {""}},
		{nil, {":3000"}},
	} {
		if _, err := newAllowList(bad[0], bad[1]); err == nil {
			t.Errorf("newAllowList(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

// FuzzAllowList: any configured entry and any application string: no
// panic, and a program is allowed only as a clean absolute path.
func FuzzAllowList(f *testing.F) {
	f.Add("/usr/lib/ivr/*", "ivr.example:3000", "/usr/lib/ivr/menu.pl(en),n")
	f.Add("/x", "[::1]:*", "ivr://[::1]:99(a)")
	f.Add("/a/[b", ":", "ivr://h:")
	f.Fuzz(func(t *testing.T, prog, host, data string) {
		al, err := newAllowList([]string{prog}, []string{host})
		if err != nil {
			return
		}
		app, err := eivr.ParseAppData(data)
		if err != nil {
			return
		}
		ok, why := al.allows(app)
		if !ok && why == "" {
			t.Fatalf("denied %q without a reason", data)
		}
		if ok && !app.IsTCP() && (len(app.Argv[0]) == 0 || app.Argv[0][0] != '/') {
			t.Fatalf("allowed relative program %q", app.Argv[0])
		}
	})
}
