package main

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
	"github.com/eivr-gateway/eivr-gateway/eivr"
)

func TestProgramEnv(t *testing.T) {
	if env := programEnv(config.App{}, os.Environ(), nil); env != nil {
		t.Errorf("no env, no inherit: %q, want nil (eivr's minimal environment)", env)
	}
	env := programEnv(config.App{Env: []string{"LANG=C"}}, os.Environ(), nil)
	if !slices.Equal(env, append(eivr.MinimalEnv(""), "LANG=C")) {
		t.Errorf("env with an entry: %q, want eivr's minimal environment and LANG=C", env)
	}
	environ := []string{"EIVR_TEST_MARK=1", "HOME=/root"}
	env = programEnv(config.App{InheritEnv: true, Env: []string{"X=y"}}, environ, nil)
	if !slices.Equal(env, []string{"EIVR_TEST_MARK=1", "HOME=/root", "X=y"}) {
		t.Errorf("inherited env lacks the gateway's variables or the entry: %q", env)
	}
}

// The gateway's own secrets never reach a program, whatever inherit_env
// and env say: not under their names, not copied under another name
// (issue 13 item 4).
func TestProgramEnvWithholdsSecrets(t *testing.T) {
	environ := []string{"PATH=/bin", "EIVR_ARI_PASSWORD=ari-pw", "EIVR_ADMIN_TOKEN=adm-tok", "PW_COPY=ari-pw",
		"TOKEN_COPY=adm-tok", "EIVR_ARI_USERNAME=gw", "LANG=C"}
	withheld := []string{"ari-pw", "adm-tok"}
	tests := []struct {
		name string
		app  config.App
		want []string // nil: eivr's minimal environment
	}{
		{"inherit", config.App{InheritEnv: true}, []string{"PATH=/bin", "EIVR_ARI_USERNAME=gw", "LANG=C"}},
		{"inherit and env", config.App{InheritEnv: true, Env: []string{"A=1", "EIVR_ADMIN_TOKEN=x", "B=ari-pw"}},
			[]string{"PATH=/bin", "EIVR_ARI_USERNAME=gw", "LANG=C", "A=1"}},
		{"env only", config.App{Env: []string{"EIVR_ARI_PASSWORD=ari-pw", "C=adm-tok", "D=2"}}, append(eivr.MinimalEnv(""), "D=2")},
		{"minimal", config.App{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := programEnv(tt.app, environ, withheld)
			if !slices.Equal(env, tt.want) {
				t.Errorf("env %q, want %q", env, tt.want)
			}
		})
	}
	// The same through the configuration, with the secrets taken from the
	// environment as run does.
	cfg := config.Default()
	cfg.Apps[0].InheritEnv = true
	config.ApplyEnv(&cfg, func(k string) string {
		return map[string]string{config.EnvARIPassword: "ari-pw", config.EnvAdminToken: "adm-tok"}[k]
	})
	for _, kv := range programEnv(cfg.Apps[0], environ, secrets(cfg)) {
		if strings.Contains(kv, "ari-pw") || strings.Contains(kv, "adm-tok") {
			t.Errorf("a secret reaches the program: %s", kv)
		}
	}
}

func TestGatewayConfig(t *testing.T) {
	cfg := config.Default()
	cfg.Reorder.Window = config.Dur(35 * time.Millisecond)
	cfg.Session.IdleSilence = false
	gc := gatewayConfig(cfg, nil, nil)
	if rc := reorderConfig(cfg); rc.Windows[ari.KindStasisEnd] != 35*time.Millisecond || rc.Windows[ari.KindChannelDtmfReceived] != 0 {
		t.Errorf("windows: %v", rc.Windows)
	}
	if !gc.NoIdleSilence || gc.EventQueue != 256 || gc.ShutdownTimeout != 5*time.Second || len(gc.Apps) != 1 || gc.Apps[0].Name != "eivr" ||
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
