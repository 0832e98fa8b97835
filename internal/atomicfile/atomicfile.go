// Package atomicfile writes files so that a crash never leaves a half-written
// one: the data goes to a temporary file beside the target, is flushed to
// disk, and is renamed over the target.
package atomicfile

import (
	"os"
	"path/filepath"
)

// Write replaces path with data atomically.
func Write(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
