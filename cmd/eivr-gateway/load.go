package main

import (
	"errors"
	"flag"
	"fmt"
	"io/fs"
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
func (cf *configFlags) load(flags *flag.FlagSet, getenv func(string) string) (config.Config, string, error) {
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
	var parseErr error // problems of keys and values: reported with Validate's
	data, err := config.ReadFile(name)
	switch {
	case err == nil:
		var usable bool
		if cfg, usable, parseErr = config.ParseAll(name, data); !usable {
			return cfg, name, parseErr
		}
	case errors.Is(err, fs.ErrNotExist) && !explicit:
		name, data = "", nil
	default:
		return cfg, name, fmt.Errorf("read config: %w", err)
	}
	config.ApplyEnv(&cfg, getenv)
	byFlag := map[string]string{} // key -> flag that set it
	flags.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "ari-url":
			cfg.ARI.URLs = []string{cf.ariURL}
			byFlag["ari.urls"] = f.Name
		case "ari-user":
			cfg.ARI.Username = cf.ariUser
			byFlag["ari.username"] = f.Name
		case "admin-listen":
			cfg.Admin.Listen = cf.adminListen
			byFlag["admin.listen"] = f.Name
		case "log-level":
			cfg.Log.Level = cf.logLevel
			byFlag["log.level"] = f.Name
		case "log-format":
			cfg.Log.Format = cf.logFormat
			byFlag["log.format"] = f.Name
		}
	})
	if err := cfg.Validate(); err != nil || parseErr != nil {
		// A problem with a value a flag set is the flag's, not the file's.
		var fromFile, fromFlags []error
		for _, p := range config.Problems(err) {
			k, _, _ := strings.Cut(p.Key, "[")
			if f, ok := byFlag[k]; ok {
				q := *p
				q.File = "--" + f
				fromFlags = append(fromFlags, &q)
			} else {
				fromFile = append(fromFile, p)
			}
		}
		err = errors.Join(fromFile...)
		if name != "" && err != nil {
			err = config.Locate(err, name, data)
		}
		return cfg, name, errors.Join(append(append(asErrors(parseErr), asErrors(err)...), fromFlags...)...)
	}
	return cfg, name, nil
}

// asErrors lists the problems of a config error as errors.
func asErrors(err error) []error {
	var out []error
	for _, p := range config.Problems(err) {
		out = append(out, p)
	}
	return out
}

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
