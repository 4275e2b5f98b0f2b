package devstack

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entravault/entravault/internal/auth"
)

// TestConsentCannotBeRidden is the attack: an operator who may see no
// connector of a tenant creates one for it, hoping the tenant's earlier
// consent lets a Global Administrator's live session sign in silently.
// The stranger's link always asks for consent (and so looks like any other
// first link); callers who may see a connector of the tenant, and admins,
// are not asked again, whether they name the tenant by domain or by id.
func TestConsentCannotBeRidden(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	h := newHarness(t, ctx, false)
	keys, _ := h.keyStore()
	key := func(name string) string {
		tok, _, err := keys.Create(ctx, name, auth.RoleOperator)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	alice, mallory := key("ops-alice"), key("ops-mallory")
	as := func(tok string) *harness { hh := *h; hh.key = tok; return &hh }

	cfg := directoryConnector(h.creds.TenantDomain, "owned by alice's team")
	cfg["access"] = []string{"ops-alice"}
	first := h.create(cfg)
	h.signIn(first.ConsentURL, "accept", h.admin("Global Administrator").UPN)
	h.waitFor(first.ID, "active", func(v connectorView) bool { return v.Status == "active" })

	asks := func(who *harness, tenant string) bool {
		t.Helper()
		var c created
		if code := who.call("POST", "/api/v1/connectors", directoryConnector(tenant, "another"), &c); code != http.StatusCreated {
			t.Fatalf("create: %d", code)
		}
		return strings.Contains(c.ConsentURL, "prompt=consent")
	}
	for _, tenant := range []string{h.creds.TenantDomain, h.creds.TenantID} {
		if !asks(as(mallory), tenant) {
			t.Errorf("a stranger's link for %s skips the consent prompt: the earlier consent can be ridden", tenant)
		}
		if asks(as(alice), tenant) {
			t.Errorf("alice, who sees the tenant's connector, is asked to consent again for %s", tenant)
		}
		if asks(h, tenant) {
			t.Errorf("an admin is asked to consent again for %s", tenant)
		}
	}
}
