package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
)

// ariConfig turns the [ari] table into an ari.Config for one URL.
func ariConfig(cfg config.Config, url string, log *slog.Logger) (ari.Config, error) {
	c := ari.Config{
		URL:      url,
		Username: cfg.ARI.Username,
		Password: cfg.ARI.Password,
		Logger:   log,

		QueueSize:       cfg.Limits.ARIQueue,
		DialTimeout:     cfg.ARI.DialTimeout.Duration,
		PingInterval:    cfg.ARI.PingInterval.Duration,
		RESTTimeout:     cfg.ARI.RESTTimeout.Duration,
		RESTLongTimeout: cfg.ARI.RESTLongTimeout.Duration,
	}
	for _, a := range cfg.Apps {
		c.Apps = append(c.Apps, a.Name)
	}
	t := cfg.ARI.TLS
	if t == (config.TLS{}) {
		return c, nil
	}
	tc := &tls.Config{ServerName: t.ServerName, InsecureSkipVerify: t.InsecureSkipVerify, MinVersion: tls.VersionTLS12}
	if t.CAFile != "" {
		pem, err := os.ReadFile(t.CAFile)
		if err != nil {
			return c, fmt.Errorf("ari.tls.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return c, fmt.Errorf("ari.tls.ca_file: %s: %w", t.CAFile, errNoPEM)
		}
	}
	if t.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return c, fmt.Errorf("ari.tls.cert_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	c.TLS = tc
	return c, nil
}

var errNoPEM = errors.New("no PEM certificate in the file")
