package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/repository"
)

func apikey(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = runAPIKey(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// devRepo makes a dev data folder with a snapshot repository, as
// `entravault dev` leaves it, and returns the folder, its repository config
// and the API's view of its keys: a KeyStore signing with the key derived
// from the repository.
func devRepo(t *testing.T) (string, repository.Config, *auth.KeyStore, *blob.Bucket) {
	t.Helper()
	dir := t.TempDir()
	cfg, err := repository.LocalURLs(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repository.Init(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := r.DeriveKey(auth.RecordKeyPurpose)
	r.Close()
	bucket, err := fileblob.OpenBucket(filepath.Join(dir, "blobs"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bucket.Close() })
	return dir, cfg, auth.NewKeyStore(bucket, auth.WithRecordKey(key), auth.WithCacheTTL(0)), bucket
}

// TestAPIKeyCommand drives create, list and revoke on a dev data folder and
// checks the API side (auth.KeyStore on the same bucket) sees the result.
func TestAPIKeyCommand(t *testing.T) {
	dir, cfg, store, _ := devRepo(t)
	ctx := context.Background()

	out, notes, err := apikey(t, "create", "--data", dir, "--name", "ci", "--role", "operator")
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	token := strings.TrimSpace(out)
	if !strings.HasPrefix(token, auth.TokenPrefix) || strings.Count(out, "\n") != 1 {
		t.Fatalf("stdout should be the token alone, got %q", out)
	}
	if strings.Contains(notes, token) {
		t.Fatal("stderr repeats the token")
	}

	p, err := store.Authenticate(ctx, token)
	if err != nil || p.Name != "ci" || p.Role != auth.RoleOperator {
		t.Fatalf("Authenticate = %+v, %v", p, err)
	}

	if _, _, err := apikey(t, "create", "--data", dir, "--name", "CI", "--role", "viewer"); !errors.Is(err, auth.ErrNameTaken) {
		t.Fatalf("duplicate name: err = %v, want ErrNameTaken", err)
	}

	out, _, err = apikey(t, "list", "--data", dir, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var keys []auth.Key
	if err := json.Unmarshal([]byte(out), &keys); err != nil || len(keys) != 1 || !keys[0].Live() {
		t.Fatalf("list --json = %s (%v)", out, err)
	}
	if strings.Contains(out, token[len(token)-20:]) || strings.Contains(out, "sha256") {
		t.Fatal("list shows secret material")
	}

	// Flags after the positional ID, and the folder from the environment.
	t.Setenv("ENTRAVAULT_DATA", dir)
	if _, _, err := apikey(t, "revoke", keys[0].ID); err != nil {
		t.Fatalf("revoke: %v", err)
	}
	if _, err := store.Authenticate(ctx, token); !errors.Is(err, auth.ErrRevoked) {
		t.Fatalf("after revoke: err = %v, want ErrRevoked", err)
	}
	out, _, err = apikey(t, "list", "--data", dir)
	if err != nil || !strings.Contains(out, "revoked") || !strings.Contains(out, keys[0].ID) {
		t.Fatalf("list = %q, %v", out, err)
	}

	blobURL := "file://" + filepath.ToSlash(filepath.Join(dir, "blobs"))
	if _, _, err := apikey(t, "create", "--blob-url", blobURL, "--name", "ci", "--role", "admin"); err == nil {
		t.Fatal("create with --blob-url but no --secrets-url succeeded")
	}
	out, _, err = apikey(t, "create", "--blob-url", blobURL, "--secrets-url", cfg.SecretsURL, "--name", "ci", "--role", "admin")
	if err != nil {
		t.Fatalf("create with --blob-url: %v", err)
	}
	if p, err := store.Authenticate(ctx, strings.TrimSpace(out)); err != nil || p.Role != auth.RoleAdmin {
		t.Fatalf("key made with --blob-url: %+v, %v", p, err)
	}
	// Another repository's keeper derives another key: its keys are refused.
	other := t.TempDir()
	otherCfg, _ := repository.LocalURLs(other)
	if r, err := repository.Init(ctx, otherCfg); err == nil {
		r.Close()
	}
	if _, _, err := apikey(t, "create", "--blob-url", blobURL, "--secrets-url", otherCfg.SecretsURL, "--name", "x", "--role", "admin"); err == nil {
		t.Fatal("create with the keeper of another repository succeeded")
	}
	if _, _, err := apikey(t, "revoke", "0123456789abcdef", "--data", dir); !errors.Is(err, auth.ErrKeyNotFound) {
		t.Fatalf("revoke unknown: err = %v, want ErrKeyNotFound", err)
	}
}

func TestAPIKeyCommandRejects(t *testing.T) {
	dir, _, _, _ := devRepo(t)
	t.Setenv("ENTRAVAULT_ROLE", "admin") // must not fill --role
	t.Setenv("ENTRAVAULT_NAME", "x")     // nor --name
	cases := []struct {
		name string
		args []string
		want error // nil: any error
	}{
		{"no subcommand", nil, nil},
		{"unknown subcommand", []string{"rotate"}, nil},
		{"missing data folder", []string{"list", "--data", filepath.Join(dir, "missing")}, nil},
		{"data folder without a repository", []string{"list", "--data", t.TempDir()}, nil},
		{"create without role", []string{"create", "--data", dir, "--name", "ci"}, nil},
		{"create without name", []string{"create", "--data", dir, "--role", "admin"}, nil},
		{"bad role", []string{"create", "--data", dir, "--name", "ci", "--role", "root"}, auth.ErrInvalidRole},
		{"bad name", []string{"create", "--data", dir, "--name", "c i", "--role", "viewer"}, auth.ErrInvalidName},
		{"revoke without id", []string{"revoke", "--data", dir}, nil},
		{"unknown flag", []string{"list", "--data", dir, "--all"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := apikey(t, tc.args...)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "blobs", "apikeys", "keys")); len(entries) != 0 {
		t.Fatalf("a rejected command stored %d keys", len(entries))
	}
}

// TestAPIKeyMigrateCommand: a record written before records were signed is
// refused by the API until an operator signs it, by ID, with migrate.
func TestAPIKeyMigrateCommand(t *testing.T) {
	dir, _, store, bucket := devRepo(t)
	ctx := context.Background()
	secret := strings.Repeat("c", 52)
	sum := sha256.Sum256([]byte(secret))
	const id = "00000000000000c1"
	rec, _ := json.Marshal(map[string]any{"id": id, "name": "legacy-ci", "role": "operator",
		"created": time.Now().UTC(), "sha256": hex.EncodeToString(sum[:])})
	if err := bucket.WriteAll(ctx, auth.DefaultKeyPrefix+"keys/"+id+".json", rec, nil); err != nil {
		t.Fatal(err)
	}
	token := auth.TokenPrefix + id + "_" + secret
	if _, err := store.Authenticate(ctx, token); !errors.Is(err, auth.ErrUnsignedKey) {
		t.Fatalf("legacy record: err = %v, want ErrUnsignedKey", err)
	}

	out, notes, err := apikey(t, "list", "--data", dir)
	if err != nil || !strings.Contains(out, "UNSIGNED") || !strings.Contains(notes, "migrate") {
		t.Fatalf("list = %q %q, %v", out, notes, err)
	}
	out, _, err = apikey(t, "migrate", "--data", dir)
	if err != nil || !strings.Contains(out, id) || !strings.Contains(out, "legacy-ci") {
		t.Fatalf("migrate (list) = %q, %v", out, err)
	}
	if _, err := store.Authenticate(ctx, token); !errors.Is(err, auth.ErrUnsignedKey) {
		t.Fatalf("migrate without IDs signed something: %v", err)
	}
	if _, _, err := apikey(t, "migrate", id, "--data", dir); err != nil {
		t.Fatalf("migrate %s: %v", id, err)
	}
	if p, err := store.Authenticate(ctx, token); err != nil || p.Role != auth.RoleOperator {
		t.Fatalf("after migrate: %+v, %v", p, err)
	}
	if _, notes, err := apikey(t, "migrate", "--data", dir); err != nil || !strings.Contains(notes, "nothing to migrate") {
		t.Fatalf("migrate after migrating = %q, %v", notes, err)
	}
}
