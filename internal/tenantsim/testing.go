package tenantsim

import (
	"strings"
	"testing"
)

func lowerUPN(s string) string { return strings.ToLower(s) }

// NewTest starts a simulator on random loopback ports for a test and closes
// it with t.Cleanup. Empty DataDir means t.TempDir().
func NewTest(t testing.TB, opts Options) *Simulator {
	t.Helper()
	if opts.DataDir == "" {
		opts.DataDir = t.TempDir()
	}
	if opts.GraphAddr == "" {
		opts.GraphAddr = "127.0.0.1:0"
	}
	if opts.LoginAddr == "" {
		opts.LoginAddr = "127.0.0.1:0"
	}
	s, err := New(opts)
	if err != nil {
		t.Fatalf("tenantsim: %v", err)
	}
	if err := s.Start(); err != nil {
		t.Fatalf("tenantsim: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}
