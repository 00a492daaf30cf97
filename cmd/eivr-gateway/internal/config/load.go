package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/pelletier/go-toml/v2"
	"github.com/pelletier/go-toml/v2/unstable"
)

// Environment variables that override secrets (and the ARI user) from the
// file, so that they need not be written into it.
const (
	EnvARIUsername = "EIVR_ARI_USERNAME"
	EnvARIPassword = "EIVR_ARI_PASSWORD"
	EnvAdminToken  = "EIVR_ADMIN_TOKEN"
)

// SecretEnv lists the environment variables that hold the gateway's own
// secrets: they never reach a program, whatever inherit_env and env say.
var SecretEnv = []string{EnvARIPassword, EnvAdminToken}

// Error is one problem in the configuration, located as precisely as known:
// File and Line are empty/0 when the value did not come from a file (a
// default, a flag, the environment).
type Error struct {
	File string
	Line int    // 1-based; 0 = unknown
	Col  int    // 1-based; 0 = unknown
	Key  string // dotted key, array tables indexed: "app[1].programs[0]"
	Msg  string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
		if e.Line > 0 {
			b.WriteString(strconv.Itoa(e.Line))
			b.WriteByte(':')
			if e.Col > 0 {
				b.WriteString(strconv.Itoa(e.Col))
				b.WriteByte(':')
			}
		}
		b.WriteByte(' ')
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Problems returns the individual *Error values inside err (as returned by
// [Load], [Parse] and [Config.Validate]), in order.
func Problems(err error) []*Error {
	var out []*Error
	var walk func(error)
	walk = func(err error) {
		if err == nil {
			return
		}
		if e, ok := err.(*Error); ok {
			out = append(out, e)
			return
		}
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				walk(e)
			}
			return
		}
		walk(errors.Unwrap(err))
	}
	walk(err)
	return out
}

// MaxFileSize caps the size of a configuration file: a real one is a few
// KiB; a file beyond 1 MiB is refused unread rather than read until memory
// runs out (/dev/zero).
const MaxFileSize = 1 << 20

// ErrNotRegular is returned by [ReadFile] for a path that is not a regular
// file (a FIFO, a device, a directory...).
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned by [ReadFile] for a file over [MaxFileSize].
var ErrTooLarge = fmt.Errorf("larger than %d bytes (%d KiB)", MaxFileSize, MaxFileSize>>10)

// ReadFile reads a configuration file: only a regular file (a symlink to
// one is fine) of at most [MaxFileSize] bytes. The file is opened
// non-blocking, so a FIFO never blocks the caller (a FIFO without writer
// would block open(2) forever, deaf to signals).
func ReadFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, fi.Mode().Type())
	}
	if fi.Size() > MaxFileSize {
		return nil, fmt.Errorf("%s: %d bytes: %w", path, fi.Size(), ErrTooLarge)
	}
	// The file may grow while it is read: read one byte past the cap.
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%s: %w", path, ErrTooLarge)
	}
	return data, nil
}

// Load reads ([ReadFile]) and decodes the TOML file at path over [Default].
// It does not apply the environment nor validate; see [ApplyEnv] and
// [Config.Validate].
func Load(path string) (Config, error) {
	data, err := ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes data (named name in errors) over [Default]. Unknown keys and
// values of the wrong type are errors naming file, line and key; all of
// them are reported, not just the first. On error the Config is zero; see
// [ParseAll] to validate the rest anyway.
func Parse(name string, data []byte) (Config, error) {
	cfg, _, err := ParseAll(name, data)
	if err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// ParseAll is [Parse] that, when the problems are with keys and values
// (not the TOML syntax), also returns the configuration decoded without
// them (those keys keep their defaults) and usable = true, so that
// [Config.Validate] can report the other problems in the same pass.
func ParseAll(name string, data []byte) (cfg Config, usable bool, err error) {
	var raw map[string]any
	if err := toml.Unmarshal(data, &raw); err != nil {
		return Config{}, false, decodeError(name, positions(data), err)
	}
	tc := typeChecker{name: name, ix: positions(data)}
	tc.table(raw, reflect.TypeOf(Config{}), "")
	if len(tc.errs) > 0 {
		// Decode what is left: the document without the bad keys.
		if data, err = toml.Marshal(raw); err != nil {
			return Config{}, false, errors.Join(append(sortErrors(tc.errs), &Error{File: name, Msg: err.Error()})...)
		}
	}
	cfg = Default()
	dec := toml.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		// Something the type check missed: report it too, by key only
		// when data is the rewritten document.
		var probs []error
		for _, p := range Problems(decodeError(name, tc.ix, err)) {
			if len(tc.errs) > 0 {
				q := *p
				q.Line, q.Col, q.File = 0, 0, ""
				tc.ix.locate(name, &q)
				p = &q
			}
			probs = append(probs, p)
		}
		return Config{}, false, errors.Join(append(sortErrors(tc.errs), probs...)...)
	}
	if err := appDefaults(&cfg, data); err != nil {
		return Config{}, false, errors.Join(append(sortErrors(tc.errs), &Error{File: name, Msg: err.Error()})...)
	}
	return cfg, true, errors.Join(sortErrors(tc.errs)...)
}

// sortErrors orders *Error values by position (unlocated ones last, in
// their order).
func sortErrors(errs []error) []error {
	sort.SliceStable(errs, func(i, j int) bool {
		a, b := errs[i].(*Error), errs[j].(*Error)
		if (a.Line == 0) != (b.Line == 0) {
			return b.Line == 0
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Col < b.Col
	})
	return errs
}

// ParseAndValidate is [ParseAll] followed by [Config.Validate] whose errors
// carry the file's line numbers: every problem at once.
func ParseAndValidate(name string, data []byte, env func(string) string) (Config, error) {
	cfg, usable, perr := ParseAll(name, data)
	if !usable {
		return cfg, perr
	}
	ApplyEnv(&cfg, env)
	if err := cfg.Validate(); err != nil {
		return cfg, errors.Join(append(asErrors(perr), asErrors(Locate(err, name, data))...)...)
	}
	return cfg, perr
}

// asErrors lists the *Error values of err as errors.
func asErrors(err error) []error {
	var out []error
	for _, p := range Problems(err) {
		out = append(out, p)
	}
	return out
}

// Locate adds file name and line numbers from data to the *Error values of a
// [Config.Validate] error, for the keys that appear in data.
func Locate(err error, name string, data []byte) error {
	probs := Problems(err)
	if len(probs) == 0 {
		return err
	}
	pos := positions(data)
	errs := make([]error, len(probs))
	for i, p := range probs {
		q := *p
		pos.locate(name, &q)
		errs[i] = &q
	}
	return errors.Join(errs...)
}

// ApplyEnv overrides secrets from the environment (getenv(EnvARIPassword) …;
// an empty value leaves the setting alone). getenv nil means os.Getenv.
func ApplyEnv(cfg *Config, getenv func(string) string) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if v := getenv(EnvARIUsername); v != "" {
		cfg.ARI.Username = v
	}
	if v := getenv(EnvARIPassword); v != "" {
		cfg.ARI.Password = v
	}
	if v := getenv(EnvAdminToken); v != "" {
		cfg.Admin.Token = v
	}
}

func decodeError(name string, pos keyIndex, err error) error {
	var strict *toml.StrictMissingError
	if errors.As(err, &strict) {
		errs := make([]error, 0, len(strict.Errors))
		for i := range strict.Errors {
			e := &strict.Errors[i]
			line, col := e.Position()
			errs = append(errs, &Error{File: name, Line: line, Col: col, Key: strings.Join(e.Key(), "."), Msg: "unknown key"})
		}
		return errors.Join(errs...)
	}
	var de *toml.DecodeError
	if errors.As(err, &de) {
		line, col := de.Position()
		msg := strings.TrimPrefix(de.Error(), "toml: ")
		msg = strings.TrimPrefix(msg, "time: ")
		if i := strings.Index(msg, " into struct field "); i >= 0 && strings.HasPrefix(msg, "cannot decode TOML ") {
			// "cannot decode TOML string into struct field config.Limits.EventQueue of type int"
			what := strings.TrimPrefix(msg[:i], "cannot decode TOML ")
			typ := msg[strings.LastIndex(msg, " of type ")+len(" of type "):]
			msg = fmt.Sprintf("wrong type: got a TOML %s, want %s", what, tomlType(typ))
		}
		return &Error{File: name, Line: line, Col: col, Key: strings.Join(de.Key(), "."), Msg: msg}
	}
	return &Error{File: name, Msg: err.Error()}
}

// tomlType names a Go field type the way a TOML user thinks of it.
func tomlType(goType string) string {
	switch {
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case goType == "bool":
		return "a boolean (true or false)"
	case goType == "string", goType == "config.Duration":
		return "a string"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "a table"
}

// appDefaults gives every key an [[app]] table left out the value of
// [DefaultApp]: the TOML decoder zeroes array-table elements.
func appDefaults(cfg *Config, data []byte) error {
	var raw struct {
		App []map[string]any `toml:"app"`
	}
	if err := toml.Unmarshal(data, &raw); err != nil {
		return err
	}
	if len(raw.App) != len(cfg.Apps) {
		return nil // no [[app]] in the file: the default list stands
	}
	def := reflect.ValueOf(DefaultApp())
	t := def.Type()
	for i := range cfg.Apps {
		v := reflect.ValueOf(&cfg.Apps[i]).Elem()
		for f := 0; f < t.NumField(); f++ {
			key := strings.Split(t.Field(f).Tag.Get("toml"), ",")[0]
			if _, set := raw.App[i][key]; !set {
				v.Field(f).Set(def.Field(f))
			}
		}
	}
	return nil
}

// keyIndex maps a key path ("ari.urls", "app[1].grace") to where it and
// its value are written.
type keyIndex map[string]keyPos

type keyPos struct {
	line, col   int // of the key
	vline, vcol int // of the value (the key's for tables and arrays)
}

// stripIndexes turns "app[1].grace" into "app.grace".
func stripIndexes(k string) string {
	for {
		i := strings.IndexByte(k, '[')
		if i < 0 {
			return k
		}
		j := strings.IndexByte(k[i:], ']')
		if j < 0 {
			return k
		}
		k = k[:i] + k[i+j+1:]
	}
}

func (ix keyIndex) locate(name string, e *Error) {
	if e == nil || e.File != "" {
		return
	}
	k := e.Key
	for k != "" {
		if p, ok := ix[k]; ok {
			e.File, e.Line, e.Col = name, p.line, p.col
			return
		}
		// "app[1].programs[0]" -> "app[1].programs" -> "app[1]" -> "app"
		if i := strings.LastIndexAny(k, ".["); i > 0 {
			k = k[:i]
		} else {
			break
		}
	}
	e.File = name
}

// positions indexes where each key of data is written. A document that
// does not parse yields what was indexed before the error.
func positions(data []byte) keyIndex {
	ix := keyIndex{}
	var p unstable.Parser
	p.Reset(data)
	var table string
	arrays := map[string]int{}
	keyOf := func(it unstable.Iterator) (string, unstable.Range) {
		var parts []string
		var first unstable.Range
		for it.Next() {
			n := it.Node()
			if len(parts) == 0 {
				first = n.Raw
			}
			parts = append(parts, string(n.Data))
		}
		return strings.Join(parts, "."), first
	}
	put := func(k string, r unstable.Range, v *unstable.Node) {
		if _, ok := ix[k]; ok {
			return
		}
		s := p.Shape(r)
		kp := keyPos{line: s.Start.Line, col: s.Start.Column, vline: s.Start.Line, vcol: s.Start.Column}
		if v != nil && v.Raw.Length > 0 {
			vs := p.Shape(v.Raw)
			kp.vline, kp.vcol = vs.Start.Line, vs.Start.Column
		}
		ix[k] = kp
	}
	for p.NextExpression() {
		e := p.Expression()
		switch e.Kind {
		case unstable.Table:
			k, r := keyOf(e.Key())
			table = k
			put(table, r, nil)
		case unstable.ArrayTable:
			k, r := keyOf(e.Key())
			n := arrays[k]
			arrays[k] = n + 1
			table = k + "[" + strconv.Itoa(n) + "]"
			put(table, r, nil)
		case unstable.KeyValue:
			k, r := keyOf(e.Key())
			if table != "" {
				k = table + "." + k
			}
			put(k, r, e.Value())
		}
	}
	return ix
}
