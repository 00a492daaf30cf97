package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
	"github.com/eivr-gateway/eivr-gateway/transcript"
	"github.com/prometheus/client_golang/prometheus"
)

// transcriptApps is the transcript configuration of the [[app]]s that have
// one.
func transcriptApps(cfg config.Config) map[string]transcript.AppConfig {
	out := map[string]transcript.AppConfig{}
	for _, a := range cfg.Apps {
		if a.Transcripts == "" {
			continue
		}
		out[a.Name] = transcript.AppConfig{
			Dir:       a.Transcripts,
			Redaction: redaction(a),
			MaxBytes:  int64(a.TranscriptMaxBytes),
			Keep:      a.TranscriptKeep,
			MaxAge:    a.TranscriptMaxAge.Duration,
		}
	}
	return out
}

// redaction is an app's redaction rules, for its transcripts and the live
// view.
func redaction(a config.App) transcript.Redaction {
	r := transcript.Redaction{DTMF: a.RedactDTMF}
	if len(a.RedactVars) > 0 {
		r.Vars = append([]string(nil), a.RedactVars...)
	}
	return r
}

// startTranscripts starts the recorder of serve; stop writes what is
// queued and closes the files (bounded).
func startTranscripts(cfg config.Config, log *slog.Logger) (rec *transcript.Recorder, stop func(), err error) {
	rec, err = transcript.New(transcriptApps(cfg), log)
	if err != nil {
		return nil, nil, err
	}
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := rec.Close(ctx); err != nil {
			log.Error("transcripts not all written", "err", err)
		}
	}
	return rec, stop, nil
}

// registerTranscripts exports the recorder's counters.
func registerTranscripts(reg prometheus.Registerer, rec *transcript.Recorder) error {
	counter := func(name, help string, f func(transcript.Stats) int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help},
			func() float64 { return float64(f(rec.Stats())) })
	}
	var errs []error
	for _, c := range []prometheus.Collector{
		counter("eivr_transcripts_total", "Call transcripts opened.", func(s transcript.Stats) int64 { return s.Files }),
		counter("eivr_transcript_records_total", "Records written to call transcripts.", func(s transcript.Stats) int64 { return s.Records }),
		counter("eivr_transcript_records_dropped_total", "Transcript records dropped (a session's queue full, or a file at its size bound).", func(s transcript.Stats) int64 { return s.Dropped }),
		counter("eivr_transcript_errors_total", "Transcripts that could not be opened or written.", func(s transcript.Stats) int64 { return s.Errors }),
		counter("eivr_transcripts_removed_total", "Transcripts removed by rotation (count or age).", func(s transcript.Stats) int64 { return s.Removed }),
	} {
		errs = append(errs, reg.Register(c))
	}
	return errors.Join(errs...)
}
