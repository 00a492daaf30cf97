package gateway

import (
	"context"
	"errors"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/ari"
)

// goneSounds is a client whose socket has closed: GET /sounds fails.
type goneSounds struct{ *benchARI }

var errGone = errors.New("socket closed")

func (goneSounds) Sounds(context.Context, string) ([]ari.Sound, error) { return nil, errGone }

// A shared index fetches with the newest lent client, falls back to an
// older one when it fails, and fails with ErrNoSoundsClient when none is
// lent; a returned client is not used again.
func TestSoundsIndexLend(t *testing.T) {
	x := NewSoundsIndex(0, nil)
	defer x.Close()
	ctx := context.Background()
	if _, err := x.soundIndex(ctx); !errors.Is(err, ErrNoSoundsClient) {
		t.Fatalf("no client: %v, want ErrNoSoundsClient", err)
	}
	giveBack := x.lend(newBenchARI())
	x.lend(goneSounds{newBenchARI()})
	tree, err := x.soundIndex(ctx)
	if err != nil || !tree.exists("beep", "en") {
		t.Fatalf("newest client gone, older one works: %v (beep known: %v)", err, tree.exists("beep", "en"))
	}
	giveBack()
	if _, err := x.soundIndex(ctx); !errors.Is(err, errGone) {
		t.Fatalf("only the gone client left: %v, want its error", err)
	}
}
