package main

import (
	"errors"
	"strconv"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/gateway"
	"github.com/eivr-gateway/eivr-gateway/reorder"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics is the gateway.Observer that keeps the Prometheus session
// metrics. Names follow Prometheus conventions: eivr_ prefix, _total
// counters, _seconds units.
type metrics struct {
	active   *prometheus.GaugeVec
	started  *prometheus.CounterVec
	ended    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	exits    *prometheus.CounterVec
	rest     *prometheus.HistogramVec
}

var _ gateway.Observer = (*metrics)(nil)

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "eivr_sessions_active", Help: "ExternalIVR sessions in progress.",
		}, []string{"app"}),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eivr_sessions_started_total", Help: "ExternalIVR sessions started (a client was run or connected).",
		}, []string{"app"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eivr_sessions_ended_total", Help: "ExternalIVR sessions ended, by EIVRGW_STATUS set (\"\" = none) and cause.",
		}, []string{"app", "status", "cause"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "eivr_session_duration_seconds", Help: "Length of ExternalIVR sessions.",
			Buckets: []float64{1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600},
		}, []string{"app"}),
		exits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "eivr_script_exits_total", Help: "Sessions the client ended: how = exit (E/X), hangup (H) or gone (program exited, server closed).",
		}, []string{"app", "how"}),
		rest: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "eivr_ari_rest_duration_seconds", Help: "ARI REST call latency per HTTP attempt; route has ids as {id}, status 0 = no reply (connection error, timeout). Answer and set variable wait behind a playing file.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"ari", "method", "route", "status"}),
	}
	reg.MustRegister(m.active, m.started, m.ended, m.duration, m.exits, m.rest,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// SessionStarted: the session got its client.
func (m *metrics) SessionStarted(s gateway.SessionInfo) {
	m.active.WithLabelValues(s.App).Inc()
	m.started.WithLabelValues(s.App).Inc()
}

// SessionLine: not measured.
func (m *metrics) SessionLine(gateway.WireLine) {}

// SessionPlayback: not measured.
func (m *metrics) SessionPlayback(gateway.PlaybackNote) {}

// SessionEnded counts the session by status and cause; a session that got
// its client leaves the active gauge.
func (m *metrics) SessionEnded(r gateway.Report) {
	if r.Served {
		m.active.WithLabelValues(r.App).Dec()
	}
	m.ended.WithLabelValues(r.App, r.Status, causeLabel(r.Cause)).Inc()
	m.duration.WithLabelValues(r.App).Observe(r.Duration.Seconds())
	for _, e := range exitHows {
		if errors.Is(r.Cause, e.cause) {
			m.exits.WithLabelValues(r.App, e.how).Inc()
			break
		}
	}
}

// exitHows are the ends the client chose, as eivr_script_exits_total's
// how label.
var exitHows = []struct {
	cause error
	how   string
}{
	{gateway.ErrClientExit, "exit"},
	{gateway.ErrClientHangup, "hangup"},
	{gateway.ErrClientGone, "gone"},
}

// restObserver returns the ari.Config.OnREST of the client of ARI url.
func (m *metrics) restObserver(url string) func(ari.RESTCall) {
	return func(c ari.RESTCall) {
		m.rest.WithLabelValues(url, c.Method, c.Route, strconv.Itoa(c.Status)).Observe(c.Duration.Seconds())
	}
}

// causes are the session end causes; the text of the one a Report's Cause
// is (errors.Is) is its label value. The details joined to it (user
// input) never become a label.
var causes = []error{
	gateway.ErrHangup, gateway.ErrClientExit, gateway.ErrClientHangup, gateway.ErrClientGone,
	gateway.ErrSlowClient, gateway.ErrStartFailed, gateway.ErrBadArgs, gateway.ErrBadOption,
	gateway.ErrDenied, gateway.ErrLimit, gateway.ErrDraining, gateway.ErrOverload, gateway.ErrChannelGone,
	gateway.ErrNoChannel,
}

func causeLabel(cause error) string {
	for _, c := range causes {
		if errors.Is(cause, c) {
			return c.Error()
		}
	}
	return "other"
}

// registerClient exports an ARI client's event stream counters, labelled
// with its URL.
func registerClient(reg prometheus.Registerer, url string, c *ari.Client) error {
	labels := prometheus.Labels{"ari": url}
	counter := func(name, help string, f func(ari.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(f(c.Stats())) })
	}
	cs := []prometheus.Collector{
		counter("eivr_ari_events_total", "ARI events received and queued for the gateway.", func(s ari.Stats) uint64 { return s.Events }),
		counter("eivr_ari_events_dropped_total", "ARI events dropped because the gateway's queue was full.", func(s ari.Stats) uint64 { return s.Dropped }),
		counter("eivr_ari_decode_errors_total", "ARI frames that did not decode.", func(s ari.Stats) uint64 { return s.DecodeErrors }),
		counter("eivr_ari_oversized_frames_total", "ARI frames over ari.ReadLimit (each closed the events socket; the reconcile releases the channel).", func(s ari.Stats) uint64 { return s.Oversized }),
		counter("eivr_ari_reconnects_total", "Events socket reconnects.", func(s ari.Stats) uint64 { return s.Reconnects }),
		counter("eivr_ari_dial_errors_total", "Failed events socket connection attempts.", func(s ari.Stats) uint64 { return s.DialErrors }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "eivr_ari_connected", Help: "1 when the events socket is up and no app was taken over.", ConstLabels: labels},
			func() float64 {
				if c.Ready() {
					return 1
				}
				return 0
			}),
	}
	var errs []error
	for _, col := range cs {
		errs = append(errs, reg.Register(col))
	}
	return errors.Join(errs...)
}

// lifecycleStatser is what registerLifecycle reads: gateway.Gateway's
// channel release counters.
type lifecycleStatser interface {
	LifecycleStats() gateway.LifecycleStats
}

// registerLifecycle exports the lifecycle counters of ls.
func registerLifecycle(reg prometheus.Registerer, url string, ls lifecycleStatser) error {
	labels := prometheus.Labels{"ari": url}
	counter := func(name, help string, f func(gateway.LifecycleStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(f(ls.LifecycleStats())) })
	}
	resyncs := func(reason string, f func(gateway.LifecycleStats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "eivr_ari_resyncs_total",
			Help:        "Reconciliations of the apps' channels with GET /applications/{app}: after a reconnect, after the ARI client dropped events on a full queue (overflow), after a StasisStart found the admission queue full.",
			ConstLabels: prometheus.Labels{"ari": url, "reason": reason}},
			func() float64 { return float64(f(ls.LifecycleStats())) })
	}
	var errs []error
	for _, c := range []prometheus.Collector{
		counter("eivr_channels_unreleased_total", "Channels the gateway could neither continue nor hang up after its quick retries (they are then tried again in the background).", func(s gateway.LifecycleStats) uint64 { return s.Unreleased }),
		counter("eivr_channels_released_on_retry_total", "Unreleased channels a background retry released later.", func(s gateway.LifecycleStats) uint64 { return s.ReleasedOnRetry }),
		counter("eivr_channels_orphaned_total", "Channels found in an app with no session after a (re)connect and released.", func(s gateway.LifecycleStats) uint64 { return s.Orphans }),
		counter("eivr_channels_adopted_total", "Calls whose StasisStart was lost with the events socket, started late from dialplan.app_data.", func(s gateway.LifecycleStats) uint64 { return s.Adopted }),
		counter("eivr_early_dtmf_dropped_total", "Caller digits received before the answer (option n) and dropped beyond the per-call bound of 64.", func(s gateway.LifecycleStats) uint64 { return s.EarlyDTMFDropped }),
		counter("eivr_vars_lost_total", "V sets the dialplan did not see (refused, or still pending when the session's end gave up).", func(s gateway.LifecycleStats) uint64 { return s.VarsLost }),
		resyncs("reconnect", func(s gateway.LifecycleStats) uint64 { return s.ResyncReconnect }),
		resyncs("overflow", func(s gateway.LifecycleStats) uint64 { return s.ResyncOverflow }),
		resyncs("admission", func(s gateway.LifecycleStats) uint64 { return s.ResyncAdmission }),
	} {
		errs = append(errs, reg.Register(c))
	}
	return errors.Join(errs...)
}

// reorderStatser is what registerReorder reads: the event ordering
// counters of a pipeline's *reorder.Reorderer.
type reorderStatser interface {
	Stats() reorder.Stats
}

// registerReorder exports the event ordering counters of rs.
func registerReorder(reg prometheus.Registerer, url string, rs reorderStatser) error {
	labels := prometheus.Labels{"ari": url}
	counter := func(name, help string, f func(reorder.Stats) uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: labels},
			func() float64 { return float64(f(rs.Stats())) })
	}
	var errs []error
	for _, c := range []prometheus.Collector{
		counter("eivr_ari_events_reordered_total", "ARI events that overtook an event that arrived before them.", func(s reorder.Stats) uint64 { return s.Reordered }),
		counter("eivr_ari_events_held_total", "ARI events that waited for a missing causal predecessor.", func(s reorder.Stats) uint64 { return s.Held }),
		counter("eivr_ari_events_duplicate_total", "ARI events received twice.", func(s reorder.Stats) uint64 { return s.Duplicate }),
		counter("eivr_ari_events_late_dropped_total", "ARI events dropped because their channel or playback had ended.", func(s reorder.Stats) uint64 { return s.LateDropped }),
		counter("eivr_ari_events_stale_total", "ChannelStateChange events dropped because they would go backwards.", func(s reorder.Stats) uint64 { return s.Stale }),
	} {
		errs = append(errs, reg.Register(c))
	}
	return errors.Join(errs...)
}
