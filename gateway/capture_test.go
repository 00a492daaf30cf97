package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/eivr-gateway/eivr-gateway/internal/testwait"
)

// captured is one log record with its attributes (those of With included),
// values resolved.
type captured struct {
	level slog.Level
	msg   string
	attrs map[string]slog.Value
}

func (c captured) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q", c.level, c.msg)
	for _, k := range slices.Sorted(maps.Keys(c.attrs)) {
		fmt.Fprintf(&b, " %s=%q", k, c.attrs[k].String())
	}
	return b.String()
}

// capture is a slog.Handler keeping every record, for tests that count
// records. Safe for concurrent use; handlers made by WithAttrs and
// WithGroup share the store (groups are flattened away: the tests look at
// plain keys).
type capture struct {
	st    *captureStore
	attrs []slog.Attr
}

type captureStore struct {
	mu   sync.Mutex
	recs []captured
}

func newCapture() *capture { return &capture{st: &captureStore{}} }

func (c *capture) Enabled(context.Context, slog.Level) bool { return true }

func (c *capture) Handle(_ context.Context, r slog.Record) error {
	rec := captured{level: r.Level, msg: r.Message, attrs: make(map[string]slog.Value)}
	for _, a := range c.attrs {
		rec.attrs[a.Key] = a.Value.Resolve()
	}
	r.Attrs(func(a slog.Attr) bool {
		rec.attrs[a.Key] = a.Value.Resolve()
		return true
	})
	c.st.mu.Lock()
	c.st.recs = append(c.st.recs, rec)
	c.st.mu.Unlock()
	return nil
}

func (c *capture) WithAttrs(as []slog.Attr) slog.Handler {
	return &capture{st: c.st, attrs: append(slices.Clip(c.attrs), as...)}
}

func (c *capture) WithGroup(string) slog.Handler { return c }

// records returns a copy of the records so far.
func (c *capture) records() []captured {
	c.st.mu.Lock()
	defer c.st.mu.Unlock()
	return slices.Clone(c.st.recs)
}

// wait returns the records once one satisfies f, or fails the test at
// testwait.Long.
func (c *capture) wait(t *testing.T, what string, f func(captured) bool) []captured {
	t.Helper()
	var recs []captured
	testwait.Until(t, testwait.Long, what, func() bool {
		recs = c.records()
		return slices.ContainsFunc(recs, f)
	})
	return recs
}
