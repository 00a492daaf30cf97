package gateway

import (
	"context"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// soundChecker is the existence check of S and A (eivr-protocol.md §7.6,
// ari-mapping.md §5). Shared by every session of a gateway; safe for
// concurrent use.
type soundChecker interface {
	// cached answers without I/O that could block: known=false means
	// check must be called (off the session loop).
	cached(name, lang string) (ok, known bool)
	// check answers, doing I/O if needed. It never fails: when the answer
	// cannot be had, the name is accepted (optimistic, ari-mapping.md §5.3).
	check(ctx context.Context, name, lang string) bool
}

// languages returns the language search order of §7.6 step 3: the channel
// language, then with trailing _parts removed one at a time, then none,
// then "en" unless already tried.
func languages(lang string) []string {
	var out []string
	for l := lang; l != ""; {
		out = append(out, l)
		i := strings.LastIndexByte(l, '_')
		if i < 0 {
			break
		}
		l = l[:i]
	}
	out = append(out, "")
	for _, l := range out {
		if l == "en" {
			return out
		}
	}
	return append(out, "en")
}

// remote reports names Asterisk fetches over its media cache (§7.6 step 5).
func remote(name string) bool { return strings.Contains(name, "://") }

// soundExts are the file extensions of Asterisk's usual format modules,
// most common first (§7.6 step 2).
const soundExts = "gsm wav ulaw alaw sln sln16 g722 WAV wav49 g729 pcm ul mu al raw " +
	"sln8 sln12 sln24 sln32 sln44 sln48 sln96 sln192 ogg ilbc siren7 siren14 " +
	"g726-16 g726-24 g726-32 g726-40 vox h263 h264 jpg"

// diskSounds checks names against Asterisk's sounds directory mounted
// locally: exact parity with native (ari-mapping.md §5.1).
type diskSounds struct {
	dir string // <datadir>/sounds
}

func (d diskSounds) cached(name, lang string) (bool, bool) { return d.exists(name, lang), true }

func (d diskSounds) check(_ context.Context, name, lang string) bool { return d.exists(name, lang) }

func (d diskSounds) exists(name, lang string) bool {
	if remote(name) {
		return true
	}
	for _, l := range languages(lang) {
		var base string
		switch {
		case strings.HasPrefix(name, "/"):
			dir, file := filepath.Split(name)
			base = filepath.Join(dir, l, file)
		default:
			base = filepath.Join(d.dir, l, name)
		}
		for ext := range strings.FieldsSeq(soundExts) {
			if fi, err := os.Stat(base + "." + ext); err == nil && !fi.IsDir() {
				return true
			}
		}
	}
	return false
}

// soundTree is what the ARI-based check knows of Asterisk's sounds
// directory: GET /sounds (every sound id with the languages it exists in)
// and, when Asterisk tells it (GET /asterisk/variable ASTDATADIR), the
// directory's absolute path.
type soundTree struct {
	ids  map[string][]string // sound id -> languages
	root string              // <ASTDATADIR>/sounds; "" = unknown
}

// soundLister fetches the sound tree (satisfied by an adapter on
// *ari.Client).
type soundLister interface {
	soundIndex(ctx context.Context) (soundTree, error)
}

// ariSounds checks names against a cached GET /sounds (ari-mapping.md
// §5.2). Names the index cannot represent (URLs, absolute paths outside
// the sounds directory or with the directory unknown, relative names that
// leave it) are accepted.
//
// The index is fetched once per ttl, by one fetch at a time that runs on
// its own goroutine under a context of its own (bounded by fetchTimeout,
// cut short by close), never under a caller's: every caller waits for it
// in check with its own ctx and may leave (its session ended) without
// cancelling the fetch for the others. A failed fetch is remembered for
// failTTL (a negative cache, so that a down Asterisk is not asked again by
// every S and A): meanwhile the stale index, if any, answers, else names
// are accepted unchecked; then the next check fetches again. cached never
// waits.
type ariSounds struct {
	lister       soundLister
	ttl          time.Duration
	fetchTimeout time.Duration // bound of one fetch (GET /sounds and ASTDATADIR)
	failTTL      time.Duration // how long a failed fetch is not retried
	now          func() time.Time
	log          *slog.Logger

	mu       sync.Mutex
	tree     *soundTree
	fetched  time.Time     // of tree
	failed   time.Time     // of the last failed fetch; zero = none since tree
	fetching chan struct{} // non-nil while a fetch runs; closed when done
	cancel   func()        // cancels the running fetch (close)
	closed   bool
	wg       sync.WaitGroup // the running fetch
}

// Defaults of ariSounds' bounds.
const (
	soundsFetchTimeout = 10 * time.Second
	soundsFailTTL      = 5 * time.Second
)

func (a *ariSounds) cached(name, lang string) (bool, bool) {
	if remote(name) {
		return true, true
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.cachedLocked(name, lang)
}

func (a *ariSounds) cachedLocked(name, lang string) (bool, bool) {
	now := a.now()
	switch {
	case a.tree != nil && now.Sub(a.fetched) <= a.ttl:
		return a.tree.exists(name, lang), true
	case !a.failed.IsZero() && now.Sub(a.failed) < a.failTTL:
		if a.tree != nil { // stale, but better than nothing
			return a.tree.exists(name, lang), true
		}
		return true, true // optimistic (ari-mapping.md §5.3)
	}
	return false, false
}

func (a *ariSounds) check(ctx context.Context, name, lang string) bool {
	if remote(name) {
		return true
	}
	a.mu.Lock()
	if ok, known := a.cachedLocked(name, lang); known {
		a.mu.Unlock()
		return ok
	}
	if a.closed {
		a.mu.Unlock()
		return true
	}
	wait := a.fetching
	if wait == nil {
		wait = a.startFetchLocked()
	}
	a.mu.Unlock()
	select {
	case <-wait:
	case <-ctx.Done():
		return true // this caller leaves; the fetch goes on for the others
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tree == nil {
		return true
	}
	return a.tree.exists(name, lang)
}

// startFetchLocked starts the one fetch; its channel is closed when the
// outcome is recorded.
func (a *ariSounds) startFetchLocked() chan struct{} {
	done := make(chan struct{})
	ctx, cancel := context.WithTimeout(context.Background(), a.fetchTimeout)
	a.fetching, a.cancel = done, cancel
	a.wg.Add(1)
	go func() {
		defer a.wg.Done()
		defer cancel()
		tree, err := a.lister.soundIndex(ctx)
		a.mu.Lock()
		stale, closed := a.tree != nil, a.closed
		if err != nil {
			a.failed = a.now()
		} else {
			a.tree, a.fetched, a.failed = &tree, a.now(), time.Time{}
		}
		a.fetching, a.cancel = nil, nil
		close(done)
		a.mu.Unlock()
		switch {
		case closed: // cut short by close: the gateway is stopping
		case err != nil && stale:
			a.log.Warn("GET /sounds failed; checking file names against the previous index", "err", err, "retry_in", a.failTTL)
		case err != nil:
			a.log.Warn("GET /sounds failed; accepting file names unchecked", "err", err, "retry_in", a.failTTL)
		}
	}()
	return done
}

// close cuts a running fetch short and waits for it; later checks no
// longer fetch (they accept what the cache cannot answer).
func (a *ariSounds) close() {
	a.mu.Lock()
	a.closed = true
	if a.cancel != nil {
		a.cancel()
	}
	a.mu.Unlock()
	a.wg.Wait()
}

// virtualRoot stands for <datadir>/sounds when Asterisk's data directory is
// unknown: relative names are resolved against it as Asterisk resolves
// them against the real one; a name that climbs above it is outside.
const virtualRoot = "/\x00datadir/sounds"

// exists mimics ast_fileexists (main/file.c) for name in the channel
// language lang (eivr-protocol.md §7.6): for each language of the search
// order, a relative name is <sounds>/<lang>/<name>, an absolute one
// <dir>/<lang>/<file>; the path is resolved ("../sounds/en/beep" re-enters
// the tree) and looked up in the index, whose ids never carry the format
// extension (so "beep.gsm" does not exist, as natively, where the
// extension is appended to it). Paths the index cannot see are accepted.
func (t *soundTree) exists(name, lang string) bool {
	for _, l := range languages(lang) {
		rel, inside := t.relPath(name, l)
		if !inside {
			return true // not checkable through ARI: accepted unchecked
		}
		if t.has(rel) {
			return true
		}
	}
	return false
}

// relPath is the path of name in language l relative to the sounds
// directory, and whether it lies inside it.
func (t *soundTree) relPath(name, l string) (string, bool) {
	var full, root string
	if strings.HasPrefix(name, "/") {
		if t.root == "" {
			return "", false
		}
		root = t.root
		dir, file := path.Split(name)
		full = path.Join(dir, l, file)
	} else {
		root = t.root
		if root == "" {
			root = virtualRoot
		}
		full = path.Join(root, l, name)
	}
	rel, ok := strings.CutPrefix(full, strings.TrimSuffix(root, "/")+"/")
	return rel, ok && rel != ""
}

// has reports whether the sound at rel (relative to the sounds directory,
// no extension) is in the index. GET /sounds takes every top-level
// directory for a language: sounds/custom/foo.gsm is sound "foo" in
// language "custom" (ari-23), sounds/en/digits/1.gsm is "digits/1" in
// "en". A file directly in sounds/ is not listed (a false Z, README).
func (t *soundTree) has(rel string) bool {
	dir, id, ok := strings.Cut(rel, "/")
	return ok && contains(t.ids[id], dir)
}
