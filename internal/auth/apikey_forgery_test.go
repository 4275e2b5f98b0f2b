package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
)

// plantKey writes a key record straight into the bucket, as someone with
// write access to storage but not to the KMS key can, and returns the
// token whose secret it holds the hash of. mac is stored as given.
func plantKey(t *testing.T, b *blob.Bucket, id, name string, role Role, mac string) string {
	t.Helper()
	secret := strings.Repeat("f", secretLen)
	sum := sha256.Sum256([]byte(secret))
	data, _ := json.Marshal(map[string]any{"id": id, "name": name, "role": role, "created": time.Now().UTC(),
		"sha256": hex.EncodeToString(sum[:]), "mac": mac})
	if err := b.WriteAll(context.Background(), DefaultKeyPrefix+"keys/"+id+".json", data, nil); err != nil {
		t.Fatal(err)
	}
	return TokenPrefix + id + "_" + secret
}

// editKey rewrites fields of a stored record, keeping its MAC.
func editKey(t *testing.T, b *blob.Bucket, id string, edit func(map[string]any)) {
	t.Helper()
	ctx := context.Background()
	path := DefaultKeyPrefix + "keys/" + id + ".json"
	data, err := b.ReadAll(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	var rec map[string]any
	if err := json.Unmarshal(data, &rec); err != nil {
		t.Fatal(err)
	}
	edit(rec)
	data, _ = json.Marshal(rec)
	if err := b.WriteAll(ctx, path, data, nil); err != nil {
		t.Fatal(err)
	}
}

// TestKeyStoreRefusesForgedRecords is issue 15 item 2: whoever can write
// the bucket but cannot derive the record key must not be able to mint an
// admin key or raise a key's role, while real keys keep working.
func TestKeyStoreRefusesForgedRecords(t *testing.T) {
	forEachBucket(t, func(t *testing.T, b *blob.Bucket) {
		ctx := context.Background()
		s := NewKeyStore(b, testKey, WithCacheTTL(0))
		realTok, _ := mustCreate(t, s, "ci", RoleOperator)
		viewerTok, viewer := mustCreate(t, s, "auditor", RoleViewer)
		oldTok, old := mustCreate(t, s, "old-admin", RoleAdmin)
		if err := s.Revoke(ctx, old.ID); err != nil {
			t.Fatal(err)
		}

		// A MAC under another key: a store the attacker runs with a key of
		// their own.
		otherTok, _ := mustCreate(t, NewKeyStore(b, WithRecordKey(bytes32("x"))), "evil-other-key", RoleAdmin)
		// A real record's MAC copied onto a forged one.
		realRec, _ := b.ReadAll(ctx, DefaultKeyPrefix+"keys/"+viewer.ID+".json")
		var rec map[string]any
		_ = json.Unmarshal(realRec, &rec)
		copiedTok := plantKey(t, b, "00000000000000e2", "auditor", RoleAdmin, rec["mac"].(string))

		attacks := []struct{ name, token string }{
			{"planted admin record without MAC", plantKey(t, b, "00000000000000e1", "evil", RoleAdmin, "")},
			{"planted admin record with a garbage MAC", plantKey(t, b, "00000000000000e3", "evil3", RoleAdmin, strings.Repeat("0", 64))},
			{"record MACed with another key", otherTok},
			{"real record's MAC on a forged record", copiedTok},
		}
		// A real record edited: role raised, revocation removed, hash swapped.
		editKey(t, b, viewer.ID, func(r map[string]any) { r["role"] = "admin" })
		attacks = append(attacks, struct{ name, token string }{"viewer record edited to admin", viewerTok})
		editKey(t, b, old.ID, func(r map[string]any) { delete(r, "revoked") })
		attacks = append(attacks, struct{ name, token string }{"revoked record un-revoked", oldTok})
		_, ciKey := mustCreate(t, s, "ci-2", RoleAdmin)
		secret := strings.Repeat("g", secretLen)
		sum := sha256.Sum256([]byte(secret))
		editKey(t, b, ciKey.ID, func(r map[string]any) { r["sha256"] = hex.EncodeToString(sum[:]) })
		attacks = append(attacks, struct{ name, token string }{"real admin record with the attacker's hash", TokenPrefix + ciKey.ID + "_" + secret})

		for _, a := range attacks {
			t.Run(a.name, func(t *testing.T) {
				p, err := s.Authenticate(ctx, a.token)
				if !errors.Is(err, ErrUnsignedKey) || !errors.Is(err, ErrInvalidToken) {
					t.Fatalf("Authenticate = %+v, %v; want ErrUnsignedKey", p, err)
				}
			})
		}
		if p, err := s.Authenticate(ctx, realTok); err != nil || p.Role != RoleOperator {
			t.Fatalf("real key: %+v, %v", p, err)
		}
		// List marks the forged and edited records instead of hiding them.
		keys, err := s.List(ctx)
		if err != nil {
			t.Fatal(err)
		}
		unsigned := 0
		for _, k := range keys {
			if k.Unsigned {
				unsigned++
			}
		}
		if unsigned != len(attacks) {
			t.Fatalf("List marks %d records unsigned, want %d", unsigned, len(attacks))
		}
	})
}

func bytes32(s string) []byte { return []byte(strings.Repeat(s, 32)) }

// A store without a record key creates nothing and accepts nothing.
func TestKeyStoreWithoutRecordKey(t *testing.T) {
	forEachBucket(t, func(t *testing.T, b *blob.Bucket) {
		tok, _ := mustCreate(t, NewKeyStore(b, testKey), "ci", RoleAdmin)
		for _, s := range []*KeyStore{NewKeyStore(b), NewKeyStore(b, WithRecordKey([]byte("short")))} {
			if _, _, err := s.Create(context.Background(), "other", RoleAdmin); err == nil {
				t.Fatal("Create without a record key succeeded")
			}
			if _, err := s.Authenticate(context.Background(), tok); !errors.Is(err, ErrUnsignedKey) {
				t.Fatalf("Authenticate without a record key: %v, want ErrUnsignedKey", err)
			}
		}
	})
}

// Records written before records were signed are refused until Migrate
// signs them; never on first use.
func TestKeyStoreMigrate(t *testing.T) {
	forEachBucket(t, func(t *testing.T, b *blob.Bucket) {
		ctx := context.Background()
		s := NewKeyStore(b, testKey, WithCacheTTL(0))
		// The format before MACs: no "mac" field at all.
		secret := strings.Repeat("c", secretLen)
		sum := sha256.Sum256([]byte(secret))
		id := "00000000000000c1"
		data, _ := json.Marshal(map[string]any{"id": id, "name": "legacy-ci", "role": "operator",
			"created": time.Now().UTC(), "sha256": hex.EncodeToString(sum[:])})
		if err := b.WriteAll(ctx, DefaultKeyPrefix+"keys/"+id+".json", data, nil); err != nil {
			t.Fatal(err)
		}
		tok := TokenPrefix + id + "_" + secret
		for range 2 { // a successful-looking use does not sign it
			if _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrUnsignedKey) {
				t.Fatalf("legacy record: err = %v, want ErrUnsignedKey", err)
			}
		}
		if keys, _ := s.List(ctx); len(keys) != 1 || !keys[0].Unsigned {
			t.Fatalf("List = %+v, want one unsigned key", keys)
		}
		k, err := s.Migrate(ctx, id)
		if err != nil || k.Name != "legacy-ci" || k.Unsigned {
			t.Fatalf("Migrate = %+v, %v", k, err)
		}
		if p, err := s.Authenticate(ctx, tok); err != nil || p.Role != RoleOperator || p.IDs[0] != "apikey:"+id {
			t.Fatalf("after migrate: %+v, %v", p, err)
		}
		if _, err := s.Migrate(ctx, id); err != nil {
			t.Fatalf("second Migrate: %v", err)
		}
		if _, err := s.Migrate(ctx, "0123456789abcdef"); !errors.Is(err, ErrKeyNotFound) {
			t.Fatalf("Migrate unknown: %v, want ErrKeyNotFound", err)
		}
	})
}
