package devstack

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/entravault/entravault/internal/auth"
)

// keyStore opens the stack's bucket and returns the API keys in it as the
// API and `entravault apikey` see them: records signed with the key
// derived from the stack's repository.
func (h *harness) keyStore() (*auth.KeyStore, *blob.Bucket) {
	h.t.Helper()
	bucket, err := fileblob.OpenBucket(h.stack.cfg.Dev.DataDir+"/blobs", &fileblob.Options{NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
	if err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { bucket.Close() })
	key := h.stack.Repository().DeriveKey(auth.RecordKeyPurpose)
	return auth.NewKeyStore(bucket, auth.WithRecordKey(key)), bucket
}

// TestAccessRulesOnEveryEndpoint: callers not on a connector's access list
// get 404 on every connector endpoint (its existence stays hidden), viewers
// on the list read but change nothing, listed operators act.
func TestAccessRulesOnEveryEndpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	h := newHarness(t, ctx, true)
	keys, _ := h.keyStore()
	key := func(name string, role auth.Role) string {
		tok, _, err := keys.Create(ctx, name, role)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	alice, bob, carol := key("ops-alice", auth.RoleOperator), key("ops-bob", auth.RoleOperator), key("view-carol", auth.RoleViewer)

	// Key names are resolved to the keys' IDs when the list is written.
	cfg := directoryConnector(h.creds.TenantDomain, "guarded")
	cfg["access"] = []string{"ops-alice", "view-carol"}
	c := h.create(cfg)
	id := "/api/v1/connectors/" + c.ID

	endpoints := []struct {
		method, path string
		body         any
		write        bool
	}{
		{"GET", id, nil, false},
		{"GET", id + "/runs", nil, false},
		{"PATCH", id, map[string]any{"name": "renamed"}, true},
		{"POST", id + "/backups", map[string]any{}, true},
		{"POST", id + "/verify", nil, true},
		{"POST", id + "/consent", nil, true},
		{"DELETE", id, nil, true},
	}
	as := func(tok string) *harness { hh := *h; hh.key = tok; return &hh }
	for _, ep := range endpoints {
		if code := as(bob).call(ep.method, ep.path, ep.body, nil); code != http.StatusNotFound {
			t.Errorf("unlisted operator: %s %s = %d, want 404", ep.method, ep.path, code)
		}
		want := http.StatusOK
		if ep.write {
			want = http.StatusForbidden
		}
		if code := as(carol).call(ep.method, ep.path, ep.body, nil); code != want {
			t.Errorf("listed viewer: %s %s = %d, want %d", ep.method, ep.path, code, want)
		}
		if code := as("").call(ep.method, ep.path, ep.body, nil); code != http.StatusUnauthorized {
			t.Errorf("no token: %s %s = %d, want 401", ep.method, ep.path, code)
		}
	}
	if code := as(carol).call("POST", "/api/v1/connectors", directoryConnector(h.creds.TenantDomain, "viewer's"), nil); code != http.StatusForbidden {
		t.Errorf("viewer created a connector: %d", code)
	}
	var list struct {
		Connectors []struct {
			ID string `json:"id"`
		} `json:"connectors"`
	}
	as(bob).call("GET", "/api/v1/connectors", nil, &list)
	if len(list.Connectors) != 0 {
		t.Errorf("unlisted operator lists %+v", list)
	}
	as(carol).call("GET", "/api/v1/connectors", nil, &list)
	if len(list.Connectors) != 1 || list.Connectors[0].ID != c.ID {
		t.Errorf("listed viewer lists %+v", list)
	}
	// The listed operator acts; the connector still awaits consent, so a
	// backup is a conflict, not a permission error.
	if code := as(alice).call("PATCH", id, map[string]any{"name": "renamed"}, nil); code != http.StatusOK {
		t.Errorf("listed operator PATCH = %d", code)
	}
	if code := as(alice).call("POST", id+"/backups", map[string]any{}, nil); code != http.StatusConflict {
		t.Errorf("backup before consent = %d, want 409", code)
	}
	if status, _, code := h.send(alice, "PATCH", id, map[string]any{"access": []string{"ops-bob"}}, nil); status != http.StatusBadRequest || code != "rejected" {
		t.Errorf("operator removing own access = %d %s, want 400 rejected", status, code)
	}
	// Names that are not live keys, and users' names, are refused rather
	// than stored: they would admit whoever holds the name later.
	for _, name := range []string{"someone-else", h.admin("").UPN} {
		if status, _, code := h.send(alice, "PATCH", id, map[string]any{"access": []string{"ops-alice", name}}, nil); status != http.StatusBadRequest || code != "invalid_access" {
			t.Errorf("PATCH access with %q = %d %s, want 400 invalid_access", name, status, code)
		}
	}
	if code := as(alice).call("DELETE", id, nil, nil); code != http.StatusAccepted {
		t.Errorf("listed operator DELETE = %d", code)
	}
}

// TestAccessExploits is issue 15 items 2 and 3 against the running API:
// an API key record planted or edited in the bucket by someone without the
// repository's key is refused, and a key given the name of a revoked key
// does not inherit its connector access.
func TestAccessExploits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	h := newHarness(t, ctx, true)
	keys, bucket := h.keyStore()
	as := func(tok string) *harness { hh := *h; hh.key = tok; return &hh }

	// Item 2: an admin record written straight into the bucket, and a
	// viewer's record edited to admin.
	secret := strings.Repeat("f", 52)
	sum := sha256.Sum256([]byte(secret))
	const forgedID = "00000000000000e1"
	rec, _ := json.Marshal(map[string]any{"id": forgedID, "name": "evil", "role": "admin", "created": time.Now().UTC(), "sha256": hex.EncodeToString(sum[:])})
	if err := bucket.WriteAll(ctx, auth.DefaultKeyPrefix+"keys/"+forgedID+".json", rec, nil); err != nil {
		t.Fatal(err)
	}
	if code := as(auth.TokenPrefix+forgedID+"_"+secret).call("GET", "/api/v1/connectors", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("planted admin key: GET /connectors = %d, want 401", code)
	}
	viewerTok, viewer, err := keys.Create(ctx, "view-erin", auth.RoleViewer)
	if err != nil {
		t.Fatal(err)
	}
	path := auth.DefaultKeyPrefix + "keys/" + viewer.ID + ".json"
	data, _ := bucket.ReadAll(ctx, path)
	if err := bucket.WriteAll(ctx, path, []byte(strings.Replace(string(data), `"role":"viewer"`, `"role":"admin"`, 1)), nil); err != nil {
		t.Fatal(err)
	}
	time.Sleep(auth.DefaultCacheTTL) // the API's cache of the real record
	if code := as(viewerTok).call("POST", "/api/v1/connectors", directoryConnector(h.creds.TenantDomain, "escalated"), nil); code != http.StatusUnauthorized {
		t.Errorf("viewer record edited to admin: POST /connectors = %d, want 401", code)
	}
	if code := h.call("GET", "/api/v1/connectors", nil, nil); code != http.StatusOK {
		t.Errorf("the real admin key: %d", code)
	}

	// Item 3: ops-bob is listed by name, revoked, and the name reused.
	oldBob, oldKey, err := keys.Create(ctx, "ops-bob", auth.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	cfg := directoryConnector(h.creds.TenantDomain, "bob's")
	cfg["access"] = []string{"ops-bob"}
	c := h.create(cfg)
	if code := as(oldBob).call("GET", "/api/v1/connectors/"+c.ID, nil, nil); code != http.StatusOK {
		t.Fatalf("listed ops-bob: %d", code)
	}
	if err := keys.Revoke(ctx, oldKey.ID); err != nil {
		t.Fatal(err)
	}
	newBob, _, err := keys.Create(ctx, "ops-bob", auth.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}
	if code := as(newBob).call("GET", "/api/v1/connectors/"+c.ID, nil, nil); code != http.StatusNotFound {
		t.Errorf("new key named ops-bob: GET = %d, want 404", code)
	}
	if ids := h.listIDs(newBob); len(ids) != 0 {
		t.Errorf("new key named ops-bob lists %v", ids)
	}
}
