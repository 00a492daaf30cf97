package main

import (
	"path"

	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
)

// gatewayOriginator places calls through the gateway. The gateway has no
// Originate yet: click-to-call answers 501 until it does.
func gatewayOriginator(s *server) originator { return nil }

func splitHostPattern(h string) (string, string, error) { return config.SplitHostPattern(h) }

func pathMatch(pattern, name string) (bool, error) { return path.Match(pattern, name) }
