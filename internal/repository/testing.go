package repository

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"testing"
)

// TestRepository returns a fresh in-memory repository (mem:// with a
// generated base64key:// key) for other packages' tests. It is closed when
// the test ends.
func TestRepository(t testing.TB) *Repository {
	t.Helper()
	r, err := Init(context.Background(), Config{BlobURL: "mem://", SecretsURL: TestKeyURL()})
	if err != nil {
		t.Fatalf("repository.TestRepository: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// TestKeyURL returns a base64key:// keeper URL with a fresh random key.
func TestKeyURL() string {
	k := make([]byte, 32)
	rand.Read(k)
	return "base64key://" + base64.URLEncoding.EncodeToString(k)
}
