package ivr

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNames(t *testing.T) {
	want := []string{"menu.pl", "playlist.sh", "stubborn.sh"}
	if got := Names(); !slices.Equal(got, want) {
		t.Errorf("Names() = %q, want %q", got, want)
	}
}

// Install writes the scripts of this directory, byte for byte, owner-only
// and runnable, and refuses to overwrite.
func TestInstall(t *testing.T) {
	dir := t.TempDir()
	if err := Install(dir); err != nil {
		t.Fatal(err)
	}
	for _, name := range Names() {
		src, err := os.ReadFile(name) // the source tree's copy
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, src) {
			t.Errorf("%s: installed copy differs from the source", name)
		}
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := fi.Mode().Perm(); m != 0o700 {
			t.Errorf("%s: mode %v, want 0700", name, m)
		}
	}
	if err := Install(dir); !errors.Is(err, fs.ErrExist) {
		t.Errorf("second Install = %v, want an error wrapping fs.ErrExist", err)
	}
	if err := Install(filepath.Join(dir, "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Install into a missing dir = %v, want an error wrapping fs.ErrNotExist", err)
	}
}
