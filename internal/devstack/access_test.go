package devstack

import (
	"context"
	"net/http"
	"testing"
	"time"

	"gocloud.dev/blob/fileblob"

	"github.com/entravault/entravault/internal/auth"
)

// TestAccessRulesOnEveryEndpoint: callers not on a connector's access list
// get 404 on every connector endpoint (its existence stays hidden), viewers
// on the list read but change nothing, listed operators act.
func TestAccessRulesOnEveryEndpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	h := newHarness(t, ctx, true)
	bucket, err := fileblob.OpenBucket(h.stack.cfg.Dev.DataDir+"/blobs", &fileblob.Options{NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer bucket.Close()
	keys := auth.NewKeyStore(bucket)
	key := func(name string, role auth.Role) string {
		tok, _, err := keys.Create(ctx, name, role)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	alice, bob, carol := key("ops-alice", auth.RoleOperator), key("ops-bob", auth.RoleOperator), key("view-carol", auth.RoleViewer)

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
	if code := as(alice).call("PATCH", id, map[string]any{"access": []string{"someone-else"}}, nil); code != http.StatusBadRequest {
		t.Errorf("operator removing own access = %d, want 400", code)
	}
	if code := as(alice).call("DELETE", id, nil, nil); code != http.StatusAccepted {
		t.Errorf("listed operator DELETE = %d", code)
	}
}
