package auth

import (
	"context"
	"crypto/rand"
	"testing"

	"gocloud.dev/blob/memblob"
)

// TestKeyStore returns a KeyStore over an in-memory bucket with a random
// record key, closed when the test ends, for tests of code that sits
// behind the middleware.
func TestKeyStore(tb testing.TB) *KeyStore {
	tb.Helper()
	b := memblob.OpenBucket(nil)
	tb.Cleanup(func() { b.Close() })
	return NewKeyStore(b, WithRecordKey([]byte(rand.Text()+rand.Text())))
}

// TestToken creates a key in s and returns its bearer token. Access lists
// admit it by KeyPrincipalID of its ID, or by name through ResolveAccess
// while it is live.
func TestToken(tb testing.TB, s *KeyStore, name string, role Role) string {
	tb.Helper()
	tok, _, err := s.Create(context.Background(), name, role)
	if err != nil {
		tb.Fatalf("auth.TestToken(%q, %s): %v", name, role, err)
	}
	return tok
}
