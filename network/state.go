package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/hullproject/hull/internal/atomicfile"
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
	data = append(data, '\n')
	if durable {
		return atomicfile.WriteFile(path, data, 0o600)
	}
	return atomicfile.Replace(path, data, 0o600)
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
