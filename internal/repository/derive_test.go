package repository

import (
	"bytes"
	"context"
	"testing"
)

func TestDeriveKey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg, err := LocalURLs(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := Init(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, b := r.DeriveKey("a"), r.DeriveKey("b")
	r.Close()
	if len(a) != 32 || bytes.Equal(a, b) {
		t.Fatalf("DeriveKey: %x, %x; want 32 bytes, distinct per purpose", a, b)
	}
	r, err = Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if !bytes.Equal(r.DeriveKey("a"), a) {
		t.Fatal("DeriveKey changed when the repository was reopened")
	}
	if bytes.Equal(TestRepository(t).DeriveKey("a"), a) {
		t.Fatal("two repositories derive the same key")
	}
}
