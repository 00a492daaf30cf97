// Package migrate rewrites ExternalIVR() dialplan calls in extensions.conf
// into Stasis() calls served by eivr-gateway (the `eivr-gateway migrate`
// command).
//
// [Scan] reads a file and everything it #includes, finds every
// ExternalIVR(...) in `exten =>` and `same =>` lines (application names are
// case-insensitive; also inside ExecIf(), Exec() and TryExec()), leaves
// comments alone, and plans the rewrite
//
//	ExternalIVR(<data>)  ->  Stasis(<app>,<data>)
//
// keeping <data> byte for byte. Each rewrite is proved: the old data parsed
// by eivr.ParseAppData and the new one split as Stasis() splits its data and
// parsed by eivr.ParseStasisArgs must give the same program, arguments and
// options. What cannot be converted (a target in a variable, a relative
// program path, option d in the h extension, data that does not
// parse, …) is reported as FILE:LINE: reason and left untouched.
//
// [Result] then renders the unified diff, the config.toml [[app]] stanza
// allowing exactly the programs and hosts found, and the STASISSTATUS check
// to add after each Stasis(); [Result.Apply] writes the files with a .bak
// backup.
//
// Like Asterisk, a relative #include path is relative to the configuration
// directory, which is taken to be the directory of the file given to Scan
// (/etc/asterisk for /etc/asterisk/extensions.conf).
//
// # Concurrency
//
// ParseLine is pure. Scan reads files; Apply writes them. Results are plain
// values, safe to share once built.
package migrate
