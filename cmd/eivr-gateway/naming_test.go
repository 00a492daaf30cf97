package main

import (
	"reflect"
	"testing"
	"time"

	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
	"github.com/eivr-gateway/eivr-gateway/gateway"
)

// One name per meaning: a key of [limits] or [session] that feeds
// gateway.Config feeds the field of the same Go name (the key's name in
// CamelCase), and nothing else; the keys that do not feed gateway.Config
// are listed with where they go. Every key gets a distinct value, so a
// field fed from the wrong key (as DrainTimeout once was from
// shutdown_timeout) fails.
func TestConfigNamesMatchGateway(t *testing.T) {
	notGateway := map[string]string{
		"DrainTimeout": "the SIGTERM wait of serve (Gateway.Drain's ctx)",
		"ARIQueue":     "ari.Config.QueueSize (ariConfig)",
		"IdleSilence":  "gateway.Config.NoIdleSilence, negated so that its zero value is the default",
	}
	cfg := config.Default()
	n := 0
	for _, sect := range []reflect.Value{reflect.ValueOf(&cfg.Limits).Elem(), reflect.ValueOf(&cfg.Session).Elem()} {
		for i := range sect.NumField() {
			n++
			switch f := sect.Field(i); f.Interface().(type) {
			case int:
				f.SetInt(int64(1000 + n))
			case config.Duration:
				f.Set(reflect.ValueOf(config.Dur(time.Duration(1000+n) * time.Millisecond)))
			case bool:
			default:
				t.Fatalf("%s: type %s not handled by this test", sect.Type().Field(i).Name, f.Type())
			}
		}
	}
	gc := reflect.ValueOf(gatewayConfig(cfg, nil, nil))
	for _, sect := range []reflect.Value{reflect.ValueOf(cfg.Limits), reflect.ValueOf(cfg.Session)} {
		for i := range sect.NumField() {
			name := sect.Type().Field(i).Name
			key := sect.Type().Name() + "." + name
			want := sect.Field(i).Interface()
			if d, ok := want.(config.Duration); ok {
				want = d.Duration
			}
			g := gc.FieldByName(name)
			if where, ok := notGateway[name]; ok {
				if g.IsValid() {
					t.Errorf("%s: listed as not feeding gateway.Config (%s), but gateway.Config.%s exists", key, where, name)
				}
				continue
			}
			if !g.IsValid() {
				t.Errorf("%s feeds no gateway.Config field of its name", key)
				continue
			}
			if got := g.Interface(); got != want {
				t.Errorf("gateway.Config.%s = %v, want %v (from %s)", name, got, want, key)
			}
		}
	}
	if gc.Interface().(gateway.Config).NoIdleSilence == cfg.Session.IdleSilence {
		t.Error("NoIdleSilence is not the negation of session.idle_silence")
	}
}
