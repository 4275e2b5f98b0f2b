package tenantsim

import (
	"testing"

	"github.com/entravault/entravault/internal/tenantsim/model"
)

// TestApplicationWrites: what a restore of applications and service
// principals reads and writes behaves as Graph documents it.
func TestApplicationWrites(t *testing.T) {
	s := NewTest(t, Options{Seed: 33, Users: 60, Throttle: ThrottleConfig{Disabled: true}})
	c := newGraphClient(t, s)
	tenant := s.Tenant()
	tenant.RLock()
	app := tenant.Meta(model.MakeRef(model.KindApp, 3)).ID.String()
	sp := tenant.Meta(model.MakeRef(model.KindSP, 3)).ID.String()
	owners := len(tenant.Members(model.MakeRef(model.KindApp, 3), true))
	tenant.RUnlock()

	// Certificate keys: only a single read that selects them shows them.
	one := c.want(200, "", "GET", "/applications/"+app+"?$select=id,keyCredentials", nil)
	keys := one["keyCredentials"].([]any)
	if len(keys) != 1 || keys[0].(map[string]any)["key"] == nil {
		t.Fatalf("single read: keyCredentials %v", keys)
	}
	list := c.want(200, "", "GET", "/applications?$filter=id+eq+'"+app+"'", nil)
	if k := list["value"].([]any)[0].(map[string]any)["keyCredentials"].([]any); k[0].(map[string]any)["key"] != nil {
		t.Fatalf("a list shows the key: %v", k)
	}
	if n := len(c.ids("/applications/" + app + "/owners")); n != owners {
		t.Fatalf("app owners: %d", n)
	}
	if n := len(c.ids("/servicePrincipals/" + sp + "/appRoleAssignedTo")); n != 2 {
		t.Fatalf("app role assignments: %d", n)
	}
	if n := len(c.ids(filterPath("/oauth2PermissionGrants", "clientId", sp))); n != 1 {
		t.Fatalf("grants of the app: %d", n)
	}
	fic := map[string]any{"name": "ci", "issuer": "https://issuer.example", "subject": "s", "audiences": []any{"api://AzureADTokenExchange"}}
	f := c.want(201, "", "POST", "/applications/"+app+"/federatedIdentityCredentials", fic)
	c.want(400, "already exists", "POST", "/applications/"+app+"/federatedIdentityCredentials", fic)
	ficURL := "/applications/" + app + "/federatedIdentityCredentials/" + f["id"].(string)
	c.want(204, "", "PATCH", ficURL, map[string]any{"subject": "s2"})
	c.want(400, "read-only", "PATCH", ficURL, map[string]any{"name": "other"})
	if got := c.want(200, "", "GET", ficURL+"?$select=subject", nil); got["subject"] != "s2" {
		t.Fatalf("patched federated credential: %v", got)
	}

	// Deleting an app puts its service principal in the recycle bin too;
	// restoring the app leaves the service principal there.
	c.want(204, "", "DELETE", "/applications/"+app, nil)
	if got := c.ids("/directory/deletedItems/microsoft.graph.servicePrincipal"); len(got) != 1 || got[0] != sp {
		t.Fatalf("deleted service principals: %v", got)
	}
	c.want(200, "", "POST", "/directory/deletedItems/"+app+"/restore", nil)
	c.want(404, "", "GET", "/servicePrincipals/"+sp, nil)
	c.want(200, "", "POST", "/directory/deletedItems/"+sp+"/restore", nil)
	if n := len(c.ids("/servicePrincipals/" + sp + "/appRoleAssignedTo")); n != 2 {
		t.Fatalf("app role assignments after the undelete: %d", n)
	}

	// A new app gets its own appId; uniqueName is unique; its service
	// principal is created apart, once.
	body := map[string]any{"displayName": "Rebuilt", "uniqueName": "rebuilt-1", "keyCredentials": keys,
		"appRoles": []any{map[string]any{"id": "11111111-2222-3333-4444-555555555555", "value": "Reader", "allowedMemberTypes": []any{"User"},
			"displayName": "Reader", "description": "r", "isEnabled": true}}}
	created := c.want(201, "", "POST", "/applications", body)
	c.want(400, "uniqueName", "POST", "/applications", body)
	c.want(400, "read-only", "POST", "/applications", map[string]any{"displayName": "x", "passwordCredentials": []any{}})
	if got := c.ids(filterPath("/applications", "uniqueName", "rebuilt-1")); len(got) != 1 || got[0] != created["id"] {
		t.Fatalf("lookup by uniqueName: %v", got)
	}
	newSP := c.want(201, "", "POST", "/servicePrincipals", map[string]any{"appId": created["appId"], "tags": []any{"x"}})
	c.want(400, "already in use", "POST", "/servicePrincipals", map[string]any{"appId": created["appId"]})
	user := idOf(groundTruth(t, s).Users[5])
	assign := map[string]any{"principalId": user, "resourceId": newSP["id"], "appRoleId": "11111111-2222-3333-4444-555555555555"}
	c.want(201, "", "POST", "/servicePrincipals/"+newSP["id"].(string)+"/appRoleAssignedTo", assign)
	c.want(400, "already exists", "POST", "/servicePrincipals/"+newSP["id"].(string)+"/appRoleAssignedTo", assign)
	grant := map[string]any{"clientId": newSP["id"], "resourceId": sp, "consentType": "AllPrincipals", "scope": "Reader"}
	g := c.want(201, "", "POST", "/oauth2PermissionGrants", grant)
	c.want(400, "already exists", "POST", "/oauth2PermissionGrants", grant)
	c.want(204, "", "PATCH", "/oauth2PermissionGrants/"+g["id"].(string), map[string]any{"scope": "Reader Writer"})
	c.want(400, "read-only", "PATCH", "/oauth2PermissionGrants/"+g["id"].(string), map[string]any{"clientId": sp})
	if got := c.want(200, "", "GET", "/oauth2PermissionGrants/"+g["id"].(string), nil); got["scope"] != "Reader Writer" {
		t.Fatalf("patched grant: %v", got)
	}
}
