package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gocloud.dev/blob/fileblob"

	"github.com/entravault/entravault/internal/auth"
)

func apikey(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = runAPIKey(context.Background(), args, &out, &errOut)
	return out.String(), errOut.String(), err
}

// TestAPIKeyCommand drives create, list and revoke on a dev data folder and
// checks the API side (auth.KeyStore on the same bucket) sees the result.
func TestAPIKeyCommand(t *testing.T) {
	dir := t.TempDir()
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

	bucket, err := fileblob.OpenBucket(filepath.Join(dir, "blobs"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	store := auth.NewKeyStore(bucket, auth.WithCacheTTL(0))
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

	if _, _, err := apikey(t, "create", "--blob-url", "file://"+filepath.ToSlash(filepath.Join(dir, "blobs")), "--name", "ci", "--role", "admin"); err != nil {
		t.Fatalf("create with --blob-url: %v", err)
	}
	if _, _, err := apikey(t, "revoke", "0123456789abcdef", "--data", dir); !errors.Is(err, auth.ErrKeyNotFound) {
		t.Fatalf("revoke unknown: err = %v, want ErrKeyNotFound", err)
	}
}

func TestAPIKeyCommandRejects(t *testing.T) {
	dir := t.TempDir()
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
