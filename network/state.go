package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// writeJSON writes v to path atomically: temp file in the same directory, fsync,
// rename. A reader sees the old or the new file, never a torn one.
func writeJSON(path string, v any) error { return write(path, v, true) }

// writeLeases is writeJSON without the fsync, for lease files only. Every process
// reads them through the page cache under the lock, so no address is handed out
// twice without it; what fsync would add is survival of a power loss, and after
// one no container of the leases is alive and Reconcile frees them all. (readLeases
// takes a file the power loss left empty for what it is.) It saves 1-10 ms per
// attach on a busy disk, most of hull's network budget.
func writeLeases(path string, v any) error { return write(path, v, false) }

func write(path string, v any, durable bool) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename this is a no-op
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if durable {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// readJSON reads path into v; a missing file leaves v alone and reports ok=false.
func readJSON(path string, v any) (ok bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("parse %s: %w", path, err)
	}
	return true, nil
}
