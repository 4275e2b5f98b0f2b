package auth

import (
	"context"
	"testing"

	"gocloud.dev/blob/memblob"
)

// TestKeyStore returns a KeyStore over an in-memory bucket, closed when the
// test ends, for tests of code that sits behind the middleware.
func TestKeyStore(tb testing.TB) *KeyStore {
	tb.Helper()
	b := memblob.OpenBucket(nil)
	tb.Cleanup(func() { b.Close() })
	return NewKeyStore(b)
}

// TestToken creates a key in s and returns its bearer token. The name is
// also the principal's ID, so it may be a UPN to stand for a user in access
// lists ("alice@contoso.com").
func TestToken(tb testing.TB, s *KeyStore, name string, role Role) string {
	tb.Helper()
	tok, _, err := s.Create(context.Background(), name, role)
	if err != nil {
		tb.Fatalf("auth.TestToken(%q, %s): %v", name, role, err)
	}
	return tok
}
