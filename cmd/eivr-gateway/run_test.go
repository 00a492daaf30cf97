package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
)

func TestProgramEnv(t *testing.T) {
	if env := programEnv(config.App{}); env != nil {
		t.Errorf("no env, no inherit: %q, want nil (eivr's minimal environment)", env)
	}
	env := programEnv(config.App{Env: []string{"LANG=C"}})
	if len(env) < 2 || !strings.HasPrefix(env[0], "PATH=") || env[len(env)-1] != "LANG=C" {
		t.Errorf("env with an entry: %q", env)
	}
	t.Setenv("EIVR_TEST_MARK", "1")
	env = programEnv(config.App{InheritEnv: true, Env: []string{"X=y"}})
	if !slices.Contains(env, "EIVR_TEST_MARK=1") || env[len(env)-1] != "X=y" {
		t.Errorf("inherited env lacks the gateway's variables or the entry: %d entries", len(env))
	}
}

func TestGatewayConfig(t *testing.T) {
	cfg := config.Default()
	cfg.Reorder.Window = config.Dur(35 * time.Millisecond)
	cfg.Session.IdleSilence = false
	gc := gatewayConfig(cfg, nil, nil)
	if gc.Reorder.Windows[ari.KindStasisEnd] != 35*time.Millisecond || gc.Reorder.Windows[ari.KindChannelDtmfReceived] != 0 {
		t.Errorf("windows: %v", gc.Reorder.Windows)
	}
	if !gc.NoIdleSilence || gc.EventQueue != 256 || gc.DrainTimeout != 5*time.Second || len(gc.Apps) != 1 || gc.Apps[0].Name != "eivr" ||
		gc.Apps[0].Grace != 30*time.Second || gc.Apps[0].WriteBuffer != 65536 {
		t.Errorf("gateway config: %+v", gc)
	}
	if gc.Trace {
		t.Error("trace on by default")
	}
	cfg.Log.Trace = true
	if gc := gatewayConfig(cfg, nil, nil); !gc.Trace {
		t.Error("log.trace = true does not turn the gateway's Trace on")
	}
}
