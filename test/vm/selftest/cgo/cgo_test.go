//go:build cgo

package cgo

import (
	"os"
	"testing"
)

func TestCgo(t *testing.T) {
	if got := Add(2, 3); got != 5 {
		t.Fatalf("Add(2, 3) = %d", got)
	}
	if got := Getpid(); got != os.Getpid() {
		t.Fatalf("C getpid %d, Go %d", got, os.Getpid())
	}
	if os.Getenv("HULL_VM") == "1" {
		t.Log("cgo works in the VM")
	}
}
