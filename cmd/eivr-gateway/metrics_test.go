package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/reorder"
	"github.com/prometheus/client_golang/prometheus"
)

type fakeOrdered struct{ st reorder.Stats }

func (f *fakeOrdered) ReorderStats() reorder.Stats { return f.st }

// samples gathers reg's metric name as "label=v,label=v value" lines, sorted.
func samples(t *testing.T, reg *prometheus.Registry, name string) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			out = append(out, strings.Join(ls, ",")+" "+strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	sort.Strings(out)
	return out
}

func TestRegisterReorder(t *testing.T) {
	reg := prometheus.NewRegistry()
	f := &fakeOrdered{st: reorder.Stats{Reordered: 3, Duplicate: 2}}
	if err := registerReorder(reg, "http://a/ari", f); err != nil {
		t.Fatal(err)
	}
	f.st.Reordered = 5
	if got := samples(t, reg, "eivr_ari_events_reordered_total"); len(got) != 1 || got[0] != "ari=http://a/ari 5" {
		t.Errorf("reordered: %q", got)
	}
}

// The session metrics come from the Report: the active gauge from Served,
// the cause label and the exits from errors.Is on Cause (details joined to
// it, user input, stay out of the labels).
func TestSessionMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	var o gateway.Observer = m
	o.SessionStarted(gateway.SessionInfo{App: "a"})
	o.SessionStarted(gateway.SessionInfo{App: "a"})
	o.SessionStarted(gateway.SessionInfo{App: "a"})
	o.SessionEnded(gateway.Report{App: "a", Served: true, Cause: gateway.ErrClientExit, Duration: time.Second})
	o.SessionEnded(gateway.Report{App: "a", Status: gateway.StatusDenied, Cause: gateway.ErrDenied}) // refused: never started
	o.SessionEnded(gateway.Report{App: "a", Status: gateway.StatusBadArgs,
		Cause: errors.Join(gateway.ErrBadArgs, errors.New(`"/x(": missing paren`))}) // user input stays out of labels
	o.SessionEnded(gateway.Report{App: "a", Served: true, Cause: fmt.Errorf("program exited: %w", gateway.ErrClientGone)}) // wrapped, not first
	o.SessionEnded(gateway.Report{App: "b", Status: gateway.StatusShutdown, Cause: context.Canceled})                      // no Err* of the gateway
	check := func(name string, want ...string) {
		t.Helper()
		if got := samples(t, reg, name); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s:\n got %q\nwant %q", name, got, want)
		}
	}
	check("eivr_sessions_active", "app=a 1")
	check("eivr_sessions_started_total", "app=a 3")
	check("eivr_sessions_ended_total",
		"app=a,cause=application not allowed,status=DENIED 1",
		"app=a,cause=bad application string,status=BADARGS 1",
		"app=a,cause=client exited (E/X),status= 1",
		"app=a,cause=client went away,status= 1",
		"app=b,cause=other,status=SHUTDOWN 1")
	check("eivr_script_exits_total", "app=a,how=exit 1", "app=a,how=gone 1")
}

func TestRESTMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newMetrics(reg)
	obs := m.restObserver("http://a/ari")
	obs(ari.RESTCall{Method: "POST", Route: "/channels/{id}/play/{id}", Status: 201, Duration: 3 * time.Millisecond, Attempt: 1})
	obs(ari.RESTCall{Method: "POST", Route: "/channels/{id}/play/{id}", Status: 201, Duration: 7 * time.Millisecond, Attempt: 1})
	obs(ari.RESTCall{Method: "POST", Route: "/channels/{id}/answer", Status: 0, Duration: 45 * time.Second, Attempt: 1})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, mf := range mfs {
		if mf.GetName() != "eivr_ari_rest_duration_seconds" {
			continue
		}
		for _, s := range mf.GetMetric() {
			var ls []string
			for _, l := range s.GetLabel() {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			h := s.GetHistogram()
			// The 45 s answer (behind a long prompt) must not land in +Inf.
			inBuckets := uint64(0)
			if b := h.GetBucket(); len(b) > 0 {
				inBuckets = b[len(b)-1].GetCumulativeCount()
				if b[0].GetUpperBound() > 0.001 || b[len(b)-1].GetUpperBound() < 60 {
					t.Errorf("buckets %v..%v, want 1 ms .. 60 s", b[0].GetUpperBound(), b[len(b)-1].GetUpperBound())
				}
			}
			got = append(got, fmt.Sprintf("%s n=%d in=%d sum=%.3f", strings.Join(ls, ","), h.GetSampleCount(), inBuckets, h.GetSampleSum()))
		}
	}
	sort.Strings(got)
	want := []string{
		"ari=http://a/ari,method=POST,route=/channels/{id}/answer,status=0 n=1 in=1 sum=45.000",
		"ari=http://a/ari,method=POST,route=/channels/{id}/play/{id},status=201 n=2 in=2 sum=0.010",
	}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("eivr_ari_rest_duration_seconds:\n got %q\nwant %q", got, want)
	}
}
