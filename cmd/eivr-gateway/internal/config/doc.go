// Package config is eivr-gateway's configuration: one struct ([Config]), its
// defaults in one place ([Default]), strict TOML decoding that names file,
// line and key ([Load], [Parse]), secrets from the environment ([ApplyEnv])
// and validation that reports every problem with its key ([Config.Validate]).
// Every problem is reported at once: [ParseAll] checks every key and value
// against the struct first, drops the wrong ones (they keep their default)
// and decodes the rest, so that validation still runs ([ParseAndValidate]).
//
// The repository's config.toml is the documentation: every key present,
// commented and set to its default; a test decodes it and compares it with
// [Default].
//
// Order of precedence, lowest first: [Default], the file, the environment
// (secrets only, see [EnvARIPassword]…), then command-line flags the user set
// (the cmd applies those with flag.Visit), then [Config.Validate].
//
// Keys missing from an [[app]] table take their value from the default app
// ([DefaultApp]); an [[app]] list in the file replaces the default list.
//
// Only cmd/eivr-gateway reads files, flags and the environment; the result
// is turned into ari.Config and gateway.Config values by the cmd.
//
// # Concurrency
//
// Everything here is pure: values in, values out; safe for concurrent use.
package config
