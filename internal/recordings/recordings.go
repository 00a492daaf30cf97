// Package recordings locates the ARI event streams and ExternalIVR
// transcripts recorded from a live Asterisk 22.10.1. They live outside the
// repository, in ../shared/testdata/asterisk (CI has them there too), and are
// read only by tests.
package recordings

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// EnvVar overrides the location of the recordings directory.
const EnvVar = "EIVR_RECORDINGS"

// Dir returns the directory holding FINDINGS.md, ari/ and eivr/. It walks up
// from the working directory to the module root (the directory with go.mod)
// and looks for ../shared/testdata/asterisk beside it.
func Dir() (string, error) {
	if d := os.Getenv(EnvVar); d != "" {
		return checkDir(d)
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("recordings: %w", err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return checkDir(filepath.Join(d, "..", "shared", "testdata", "asterisk"))
		}
		if filepath.Dir(d) == d {
			return "", errors.New("recordings: no go.mod above the working directory")
		}
	}
}

func checkDir(d string) (string, error) {
	if _, err := os.Stat(filepath.Join(d, "FINDINGS.md")); err != nil {
		return "", fmt.Errorf("recordings: %s is not the recordings directory (set %s): %w", d, EnvVar, err)
	}
	return d, nil
}

// ARI returns the path of one ARI recording, e.g. ARI("ari-01-basic-play.jsonl").
func ARI(name string) (string, error) { return file("ari", name) }

// EIVR returns the path of one ExternalIVR recording, e.g.
// EIVR("eivr-01-play-S-A-F.cli.log").
func EIVR(name string) (string, error) { return file("eivr", name) }

func file(sub, name string) (string, error) {
	d, err := Dir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, sub, name), nil
}
