package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"
	"gocloud.dev/blob/memblob"
)

// testKey is the record key of the tests' stores, as the API derives one
// from the repository.
var testKey = WithRecordKey(bytes.Repeat([]byte("k"), 32))

// buckets are the drivers every KeyStore test runs on.
var buckets = []struct {
	name string
	open func(t testing.TB) *blob.Bucket
}{
	{"memblob", func(t testing.TB) *blob.Bucket {
		b := memblob.OpenBucket(nil)
		t.Cleanup(func() { b.Close() })
		return b
	}},
	{"fileblob", func(t testing.TB) *blob.Bucket {
		b, err := fileblob.OpenBucket(t.TempDir(), &fileblob.Options{CreateDir: true, NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}},
}

func forEachBucket(t *testing.T, f func(t *testing.T, b *blob.Bucket)) {
	for _, bk := range buckets {
		t.Run(bk.name, func(t *testing.T) { f(t, bk.open(t)) })
	}
}

// fakeClock is a settable clock for cache expiry and stale claims.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }
func newClock() *fakeClock               { return &fakeClock{t: time.Now()} }
func secretOf(token string) string       { _, s, _ := parseToken(token); return s }
func mustCreate(t testing.TB, s *KeyStore, name string, role Role) (string, Key) {
	t.Helper()
	tok, k, err := s.Create(context.Background(), name, role)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	return tok, k
}

func TestKeyStoreLifecycle(t *testing.T) {
	forEachBucket(t, func(t *testing.T, b *blob.Bucket) {
		ctx := context.Background()
		s := NewKeyStore(b, testKey)
		tok, key := mustCreate(t, s, "ci-pipeline", RoleOperator)

		if !strings.HasPrefix(tok, TokenPrefix+key.ID+"_") {
			t.Fatalf("token does not have the form evk_<id>_<secret>")
		}
		if got := len(secretOf(tok)); got != 52 { // 32 bytes in base32
			t.Fatalf("secret is %d characters, want 52 (256 bits)", got)
		}
		if key.Name != "ci-pipeline" || key.Role != RoleOperator || !key.Live() || key.Created.IsZero() {
			t.Fatalf("key = %+v", key)
		}

		p, err := s.Authenticate(ctx, tok)
		if err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		want := Principal{Name: "ci-pipeline", IDs: []string{"apikey:" + key.ID}, Role: RoleOperator, Method: MethodAPIKey}
		if !equalPrincipal(p, want) {
			t.Fatalf("principal = %+v, want %+v", p, want)
		}

		keys, err := s.List(ctx)
		if err != nil || len(keys) != 1 || keys[0].ID != key.ID || !keys[0].Live() {
			t.Fatalf("List = %+v, %v", keys, err)
		}

		if err := s.Revoke(ctx, key.ID); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
		if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrRevoked) {
			t.Fatalf("after revoke: err = %v, want ErrRevoked", err)
		}
		keys, _ = s.List(ctx)
		if len(keys) != 1 || keys[0].Live() {
			t.Fatalf("List after revoke = %+v, want one revoked key", keys)
		}
		if err := s.Revoke(ctx, key.ID); err != nil {
			t.Fatalf("second Revoke: %v, want nil (idempotent)", err)
		}
	})
}

func equalPrincipal(a, b Principal) bool {
	return a.Name == b.Name && a.Role == b.Role && a.Method == b.Method &&
		strings.Join(a.IDs, "\n") == strings.Join(b.IDs, "\n")
}

// A revocation made by another process (another KeyStore on the bucket) is
// seen once the cached entry expires, not before.
func TestKeyStoreRevocationCrossesProcessesWithinTTL(t *testing.T) {
	forEachBucket(t, func(t *testing.T, b *blob.Bucket) {
		ctx := context.Background()
		clock := newClock()
		api := NewKeyStore(b, testKey, WithCacheTTL(5*time.Second))
		api.now = clock.now
		cli := NewKeyStore(b, testKey)
		tok, key := mustCreate(t, cli, "ops", RoleAdmin)

		if _, err := api.Authenticate(ctx, tok); err != nil {
			t.Fatalf("Authenticate: %v", err)
		}
		if err := cli.Revoke(ctx, key.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := api.Authenticate(ctx, tok); err != nil {
			t.Fatalf("within TTL the cached key still works, got %v", err)
		}
		clock.add(5 * time.Second)
		if _, err := api.Authenticate(ctx, tok); !errors.Is(err, ErrRevoked) {
			t.Fatalf("after TTL: err = %v, want ErrRevoked", err)
		}
	})
}

func TestKeyStoreRejects(t *testing.T) {
	forEachBucket(t, func(t *testing.T, b *blob.Bucket) {
		ctx := context.Background()
		s := NewKeyStore(b, testKey)
		tok, key := mustCreate(t, s, "reader", RoleViewer)
		secret := secretOf(tok)
		other := strings.Repeat("a", len(secret))
		if other == secret {
			other = strings.Repeat("b", len(secret))
		}
		cases := []struct {
			name  string
			token string
			want  []error
		}{
			{"wrong secret", TokenPrefix + key.ID + "_" + other, []error{ErrInvalidToken, ErrBadSignature}},
			{"secret of another length", tok + "a", []error{ErrInvalidToken}},
			{"truncated secret", tok[:len(tok)-1], []error{ErrInvalidToken}},
			{"unknown id", TokenPrefix + "0123456789abcdef_" + secret, []error{ErrInvalidToken, ErrKeyNotFound}},
			{"empty", "", []error{ErrInvalidToken}},
			{"prefix only", TokenPrefix, []error{ErrInvalidToken}},
			{"no secret", TokenPrefix + key.ID, []error{ErrInvalidToken}},
			{"other prefix", "evx_" + key.ID + "_" + secret, []error{ErrInvalidToken}},
			{"upper-case id", TokenPrefix + strings.ToUpper(key.ID) + "_" + secret, []error{ErrInvalidToken}},
			{"upper-case secret", TokenPrefix + key.ID + "_" + strings.ToUpper(secret), []error{ErrInvalidToken}},
			{"path in id", TokenPrefix + "../../../etc/pa_" + secret, []error{ErrInvalidToken}},
			{"short id", TokenPrefix + key.ID[:8] + "_" + secret, []error{ErrInvalidToken}},
			{"padding in secret", TokenPrefix + key.ID + "_" + secret[:len(secret)-1] + "=", []error{ErrInvalidToken}},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.Authenticate(ctx, tc.token)
				for _, w := range tc.want {
					if !errors.Is(err, w) {
						t.Fatalf("err = %v, want errors.Is %v", err, w)
					}
				}
				if err != nil && (strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), other)) {
					t.Fatalf("error message contains the secret")
				}
			})
		}
	})
}

// The bucket holds the hash, never the secret or the token.
func TestKeyStoreStoresOnlyTheHash(t *testing.T) {
	forEachBucket(t, func(t *testing.T, b *blob.Bucket) {
		ctx := context.Background()
		s := NewKeyStore(b, testKey)
		tok, key := mustCreate(t, s, "backup-bot", RoleOperator)
		secret := secretOf(tok)
		if err := s.Revoke(ctx, key.ID); err != nil { // rewrites the object
			t.Fatal(err)
		}
		tok2, key2 := mustCreate(t, s, "backup-bot", RoleViewer)

		objects := 0
		it := b.List(nil)
		for {
			obj, err := it.Next(ctx)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			data, err := b.ReadAll(ctx, obj.Key)
			if err != nil {
				t.Fatal(err)
			}
			objects++
			for _, s := range []string{secret, tok, secretOf(tok2), tok2} {
				if bytes.Contains(data, []byte(s)) || strings.Contains(obj.Key, s) {
					t.Fatalf("object %s contains a secret", obj.Key)
				}
			}
		}
		if objects == 0 {
			t.Fatal("no objects stored")
		}

		data, err := b.ReadAll(ctx, DefaultKeyPrefix+"keys/"+key2.ID+".json")
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]any
		if err := json.Unmarshal(data, &fields); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(secretOf(tok2)))
		if fields["sha256"] != hex.EncodeToString(sum[:]) {
			t.Fatalf("stored sha256 is not the hash of the secret")
		}
		for _, f := range []string{"id", "name", "role", "created", "mac"} {
			if _, ok := fields[f]; !ok {
				t.Fatalf("stored key lacks %q: %v", f, keysOf(fields))
			}
		}
		if len(fields) != 6 {
			t.Fatalf("stored key has fields %v, want id name role created sha256 mac", keysOf(fields))
		}

		listed, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out, _ := json.Marshal(listed)
		if bytes.Contains(out, []byte("sha256")) || bytes.Contains(out, []byte(hex.EncodeToString(sum[:]))) {
			t.Fatalf("List exposes the hash: %s", out)
		}
	})
}

func keysOf(m map[string]any) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestKeyStoreNames(t *testing.T) {
	forEachBucket(t, func(t *testing.T, b *blob.Bucket) {
		ctx := context.Background()
		clock := newClock()
		s := NewKeyStore(b, testKey)
		s.now = clock.now
		_, first := mustCreate(t, s, "ci", RoleOperator)

		for _, name := range []string{"ci", "CI"} {
			if _, _, err := s.Create(ctx, name, RoleViewer); !errors.Is(err, ErrNameTaken) {
				t.Fatalf("Create(%q) again: err = %v, want ErrNameTaken", name, err)
			}
		}
		if err := s.Revoke(ctx, first.ID); err != nil {
			t.Fatal(err)
		}
		mustCreate(t, s, "ci", RoleViewer) // a revoked key's name is free

		// A claim left by a Create that crashed before writing its key is
		// honoured while young and taken over once stale.
		if err := b.WriteAll(ctx, s.namePath("crashed"), []byte("00000000000000ff"), nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Create(ctx, "crashed", RoleViewer); !errors.Is(err, ErrNameTaken) {
			t.Fatalf("young claim: err = %v, want ErrNameTaken", err)
		}
		clock.add(2 * time.Minute)
		mustCreate(t, s, "crashed", RoleViewer)

		keys, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 3 {
			t.Fatalf("List = %d keys, want 3", len(keys))
		}
	})
}

// Concurrent creates of one name: exactly one wins.
func TestKeyStoreConcurrentCreateOneWinner(t *testing.T) {
	forEachBucket(t, func(t *testing.T, b *blob.Bucket) {
		const n = 8
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// One store per goroutine, as if several processes ran the CLI.
				_, _, err := NewKeyStore(b, testKey).Create(context.Background(), "race", RoleAdmin)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		won := 0
		for err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrNameTaken):
				t.Fatalf("unexpected error: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d creates succeeded, want 1", won)
		}
	})
}

func TestKeyStoreCreateValidates(t *testing.T) {
	s := NewKeyStore(memblob.OpenBucket(nil), testKey)
	cases := []struct {
		name    string
		keyName string
		role    Role
		want    error
	}{
		{"empty name", "", RoleAdmin, ErrInvalidName},
		{"space in name", "ci bot", RoleAdmin, ErrInvalidName},
		{"slash in name", "ci/bot", RoleAdmin, ErrInvalidName},
		{"newline in name", "ci\nbot", RoleAdmin, ErrInvalidName},
		{"too long", strings.Repeat("a", 101), RoleAdmin, ErrInvalidName},
		{"unknown role", "ci", Role("root"), ErrInvalidRole},
		{"empty role", "ci", Role(""), ErrInvalidRole},
		{"upn-like name is fine", "alice@contoso.com", RoleViewer, nil},
		{"role in upper case is fine", "bob", Role("ADMIN"), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := s.Create(context.Background(), tc.keyName, tc.role)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestKeyStoreRevokeUnknown(t *testing.T) {
	s := NewKeyStore(memblob.OpenBucket(nil), testKey)
	for _, id := range []string{"0123456789abcdef", "../x", ""} {
		if err := s.Revoke(context.Background(), id); !errors.Is(err, ErrKeyNotFound) {
			t.Fatalf("Revoke(%q): err = %v, want ErrKeyNotFound", id, err)
		}
	}
}

func TestKeyStoreUnavailable(t *testing.T) {
	b := memblob.OpenBucket(nil)
	s := NewKeyStore(b, testKey, WithCacheTTL(0))
	tok, _ := mustCreate(t, s, "x", RoleAdmin)
	b.Close()
	if _, err := s.Authenticate(context.Background(), tok); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("closed bucket: err = %v, want ErrUnavailable", err)
	}
	if _, err := s.List(context.Background()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("List on closed bucket: err = %v, want ErrUnavailable", err)
	}
}

func TestKeyStorePrefix(t *testing.T) {
	b := memblob.OpenBucket(nil)
	s := NewKeyStore(b, testKey, WithPrefix("tenant-a/keys"))
	tok, key := mustCreate(t, s, "x", RoleAdmin)
	if ok, _ := b.Exists(context.Background(), "tenant-a/keys/keys/"+key.ID+".json"); !ok {
		t.Fatal("key not stored under the prefix")
	}
	if _, err := NewKeyStore(b, testKey).Authenticate(context.Background(), tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("store with the default prefix: err = %v, want ErrInvalidToken", err)
	}
}

func BenchmarkKeyStoreAuthenticate(b *testing.B) {
	for _, bk := range buckets {
		for _, c := range []struct {
			name string
			ttl  time.Duration
		}{{"cached", DefaultCacheTTL}, {"uncached", 0}} {
			b.Run(bk.name+"/"+c.name, func(b *testing.B) {
				s := NewKeyStore(bk.open(b), testKey, WithCacheTTL(c.ttl))
				tok, _ := mustCreate(b, s, "bench", RoleOperator)
				ctx := context.Background()
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := s.Authenticate(ctx, tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
