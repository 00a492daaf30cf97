package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/eivr-gateway/eivr-gateway/cmd/eivr-gateway/internal/config"
)

// EnvConfig names the config file when --config is not given.
const EnvConfig = "EIVR_CONFIG"

// configFlags are the flags shared by run, check, demo and originate that
// override config keys; only the flags the user set are applied (flag.Visit).
type configFlags struct {
	file        string
	ariURL      string
	ariUser     string
	adminListen string
	logLevel    string
	logFormat   string
}

func (cf *configFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&cf.file, "config", "", "configuration file (default $"+EnvConfig+", else ./config.toml if it exists, else the built-in defaults)")
	fs.StringVar(&cf.ariURL, "ari-url", "", "overrides ari.urls with this one URL")
	fs.StringVar(&cf.ariUser, "ari-user", "", "overrides ari.username")
	fs.StringVar(&cf.adminListen, "admin-listen", "", "overrides admin.listen (\"\" disables)")
	fs.StringVar(&cf.logLevel, "log-level", "", "overrides log.level (debug, info, warn, error)")
	fs.StringVar(&cf.logFormat, "log-format", "", "overrides log.format (auto, text, json)")
}

// load reads the config file (if any), then the environment, then the flags
// the user set, then validates. The returned name is the file read ("" for
// the built-in defaults). Problems carry file:line:key where known.
func (cf *configFlags) load(fs *flag.FlagSet, getenv func(string) string) (config.Config, string, error) {
	name := cf.file
	explicit := name != ""
	if name == "" {
		name = getenv(EnvConfig)
		explicit = name != ""
	}
	if name == "" {
		name = "config.toml"
	}
	cfg := config.Default()
	data, err := os.ReadFile(name)
	switch {
	case err == nil:
		if cfg, err = config.Parse(name, data); err != nil {
			return cfg, name, err
		}
	case errors.Is(err, fs2ErrNotExist) && !explicit:
		name, data = "", nil
	default:
		return cfg, name, fmt.Errorf("read config: %w", err)
	}
	config.ApplyEnv(&cfg, getenv)
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "ari-url":
			cfg.ARI.URLs = []string{cf.ariURL}
		case "ari-user":
			cfg.ARI.Username = cf.ariUser
		case "admin-listen":
			cfg.Admin.Listen = cf.adminListen
		case "log-level":
			cfg.Log.Level = cf.logLevel
		case "log-format":
			cfg.Log.Format = cf.logFormat
		}
	})
	if err := cfg.Validate(); err != nil {
		if name != "" {
			err = config.Locate(err, name, data)
		}
		return cfg, name, err
	}
	return cfg, name, nil
}

var fs2ErrNotExist = fs.ErrNotExist

// problemLines renders a config error one problem per line.
func problemLines(err error) []string {
	probs := config.Problems(err)
	if len(probs) == 0 {
		return []string{err.Error()}
	}
	out := make([]string, len(probs))
	for i, p := range probs {
		out[i] = p.Error()
	}
	return out
}

func configError(err error) error {
	return fmt.Errorf("configuration:\n  %s", strings.Join(problemLines(err), "\n  "))
}
