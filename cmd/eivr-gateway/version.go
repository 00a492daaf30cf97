package main

import (
	"context"
	"fmt"
	"runtime/debug"
	"strings"
)

func cmdVersion(ctx context.Context, args []string, e env) error {
	fs := newFlagSet("version", e, "")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	fmt.Fprint(e.stdout, versionText())
	return nil
}

// versionText is the build information: module version, VCS revision,
// Go version and platform, from runtime/debug.ReadBuildInfo.
func versionText() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "eivr-gateway (no build information)\n"
	}
	var b strings.Builder
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	fmt.Fprintf(&b, "eivr-gateway %s\n", v)
	fmt.Fprintf(&b, "  module   %s\n", bi.Main.Path)
	fmt.Fprintf(&b, "  go       %s\n", bi.GoVersion)
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		if settings["vcs.modified"] == "true" {
			rev += " (modified)"
		}
		fmt.Fprintf(&b, "  revision %s %s\n", rev, settings["vcs.time"])
	}
	fmt.Fprintf(&b, "  platform %s/%s", settings["GOOS"], settings["GOARCH"])
	if cgo := settings["CGO_ENABLED"]; cgo != "" {
		fmt.Fprintf(&b, " CGO_ENABLED=%s", cgo)
	}
	b.WriteByte('\n')
	for _, d := range bi.Deps {
		fmt.Fprintf(&b, "  dep      %s %s\n", d.Path, d.Version)
	}
	return b.String()
}

// moduleVersion is the module version and VCS revision, for the start-up log.
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			v += " " + s.Value[:12]
		}
	}
	return v
}
