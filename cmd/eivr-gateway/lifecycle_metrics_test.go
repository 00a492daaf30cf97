package main

import (
	"strings"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/prometheus/client_golang/prometheus"
)

type fakeLifecycle struct{ st gateway.LifecycleStats }

func (f *fakeLifecycle) LifecycleStats() gateway.LifecycleStats { return f.st }

func TestRegisterLifecycle(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := &fakeLifecycle{}
	if err := registerLifecycle(reg, "http://a/ari", f); err != nil {
		t.Fatal(err)
	}
	f.st = gateway.LifecycleStats{Unreleased: 1, Orphans: 2, Adopted: 3, VarsLost: 4, EarlyDTMFDropped: 5,
		ResyncReconnect: 6, ResyncOverflow: 7, ResyncAdmission: 8}
	for name, want := range map[string]string{
		"eivr_channels_unreleased_total": "ari=http://a/ari 1",
		"eivr_channels_orphaned_total":   "ari=http://a/ari 2",
		"eivr_channels_adopted_total":    "ari=http://a/ari 3",
		"eivr_vars_lost_total":           "ari=http://a/ari 4",
		"eivr_early_dtmf_dropped_total":  "ari=http://a/ari 5",
	} {
		if got := samples(t, reg, name); len(got) != 1 || got[0] != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	want := []string{"ari=http://a/ari,reason=admission 8", "ari=http://a/ari,reason=overflow 7", "ari=http://a/ari,reason=reconnect 6"}
	if got := samples(t, reg, "eivr_ari_resyncs_total"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("eivr_ari_resyncs_total: %q, want %q", got, want)
	}
}
