package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
	"github.com/eivr-gateway/eivr-gateway/transcript"
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
