package ivr

import (
	"embed"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed menu.pl playlist.sh stubborn.sh
var scripts embed.FS

// Names are the bundled scripts' file names, sorted.
func Names() []string {
	entries, _ := fs.ReadDir(scripts, ".") // an embed.FS root always reads
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// Install writes every bundled script into dir (which must exist) with
// mode 0700: readable and runnable by the owner only. It fails if a file
// of that name already exists, rather than run something it did not write.
func Install(dir string) error {
	for _, name := range Names() {
		data, err := scripts.ReadFile(name)
		if err != nil {
			return fmt.Errorf("bundled script %s: %w", name, err)
		}
		p := filepath.Join(dir, name)
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o700)
		if err != nil {
			return fmt.Errorf("install %s: %w", name, err)
		}
		_, err = f.Write(data)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("install %s: %w", name, err)
		}
		// The umask may have taken bits off: the owner must run it.
		if err := os.Chmod(p, 0o700); err != nil {
			return fmt.Errorf("install %s: %w", name, err)
		}
	}
	return nil
}
