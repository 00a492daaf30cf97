package ari_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/ari"
	"github.com/eivr-gateway/eivr-gateway/ari/aritest"
	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

func TestSubscribe(t *testing.T) {
	srv, err := aritest.NewServer(aritest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.AddEndpoints("PJSIP/1000")
	c, err := ari.NewClient(ari.Config{URL: srv.URL(), Username: "asterisk", Password: "asterisk", Apps: []string{"cti"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx, nopHandler{}) }()
	defer func() { cancel(); <-done }()
	testwait.Until(t, testwait.Long, "app cti connects", func() bool { return srv.AppConnected("cti") })

	tests := []struct {
		name    string
		sources []string
		wantErr error
		status  int // of the *ari.Error
		wantEP  []string
	}{
		{"endpoint and technology", []string{"endpoint:PJSIP/1000", "endpoint:PJSIP"}, nil, 0, []string{"PJSIP", "PJSIP/1000"}},
		{"Local has no endpoints", []string{"endpoint:Local"}, nil, 422, nil},
		{"no app", nil, ari.ErrBadRequest, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := "cti"
			if tt.sources == nil {
				app = ""
			}
			a, err := c.Subscribe(ctx, app, tt.sources...)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err %v, want %v", err, tt.wantErr)
				}
				return
			}
			if tt.status != 0 {
				var e *ari.Error
				if !errors.As(err, &e) || e.Status != tt.status {
					t.Fatalf("err %v, want an *ari.Error with status %d", err, tt.status)
				}
				return
			}
			if err != nil || !slices.Equal(a.EndpointIDs, tt.wantEP) {
				t.Fatalf("Subscribe: %+v, %v; want endpoint_ids %v", a, err, tt.wantEP)
			}
		})
	}
}

type nopHandler struct{}

func (nopHandler) Connected(ari.ConnInfo) {}
func (nopHandler) Event(*ari.Event)       {}
func (nopHandler) Disconnected(error)     {}
