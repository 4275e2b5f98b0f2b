package devstack

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/internal/tenantsim/model"
	"github.com/entravault/entravault/workflows"
)

// TestRestoreConditionalAccess deletes a named location and the policy
// that uses it, and weakens another policy and the tenant-wide
// authorization and authentication-methods policies: the restore re-creates
// the location first, then the policy pointing at the location's new id,
// and reverts the weakened ones, pacing itself to Graph's one
// conditional-access request a second.
func TestRestoreConditionalAccess(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	h := newHarness(t, ctx, false)
	c := h.create(map[string]any{"name": "policies", "tenant": h.creds.TenantDomain, "kind": "directory",
		"scopes": map[string]any{"policies": map[string]any{"conditional_access": true, "named_locations": true,
			"authorization": true, "authentication_methods": true}},
		"schedule": map[string]any{"interval": "24h"}, "retention": map[string]any{"days": 7}})
	h.signIn(c.ConsentURL, "accept", h.admin("Global Administrator").UPN)
	h.waitFor(c.ID, "a policies snapshot", func(v connectorView) bool { return v.Scopes["policies"].LastStatus == "succeeded" })
	h.consentToRestore(c.ID)

	tenant := h.stack.Simulator().Tenant()
	tenant.Lock()
	location := tenant.Meta(model.MakeRef(model.KindNamedLocation, 2)).ID.String()
	policy := tenant.Meta(model.MakeRef(model.KindCAPolicy, 2)).ID.String()
	if err := tenant.Delete(model.MakeRef(model.KindCAPolicy, 2)); err != nil {
		t.Fatal(err)
	}
	if err := tenant.Delete(model.MakeRef(model.KindNamedLocation, 2)); err != nil {
		t.Fatal(err)
	}
	if err := tenant.Update(model.MakeRef(model.KindCAPolicy, 0), map[string]any{"state": "disabled"}); err != nil {
		t.Fatal(err)
	}
	// Weakened tenant-wide policies: anyone may invite guests, legacy
	// PowerShell allowed, the registration campaign off.
	tenant.AuthorizationPolicy["allowInvitesFrom"] = "everyone"
	tenant.AuthorizationPolicy["blockMsolPowerShell"] = true
	tenant.AuthMethodsPolicy["registrationEnforcement"] = map[string]any{"authenticationMethodsRegistrationCampaign": map[string]any{
		"snoozeDurationInDays": 14, "state": "disabled", "excludeTargets": []any{}, "includeTargets": []any{}}}
	tenant.Unlock()

	rid := h.startRestore(c.ID, map[string]any{"apply": true})
	done := h.waitRestore(c.ID, rid, workflows.RestoreSucceeded, workflows.RestorePartiallySucceeded)
	if done.Status != workflows.RestoreSucceeded {
		t.Fatalf("restore %s: %+v", done.Status, h.actions(c.ID, rid, "outcome=failed"))
	}
	want := map[restore.ActionKind]int{restore.Recreate: 2, restore.Revert: 3}
	for k, n := range want {
		if done.Planned.ByKind[k] != n {
			t.Errorf("planned %v, want %d %s", done.Planned.ByKind, n, k)
		}
	}
	newLocation, newPolicy := done.IDMap[location], done.IDMap[policy]
	if newLocation == "" || newPolicy == "" {
		t.Fatalf("id map %v lacks the location or the policy", done.IDMap)
	}
	tenant.RLock()
	r, ok := tenant.Lookup(mustID(t, newPolicy))
	var restored map[string]any
	if ok {
		b, _ := json.Marshal(tenant.Render(r))
		_ = json.Unmarshal(b, &restored)
	}
	tenant.RUnlock()
	if b, _ := json.Marshal(restored["conditions"]); !strings.Contains(string(b), newLocation) || strings.Contains(string(b), location) {
		t.Errorf("the re-created policy does not point at the re-created location %s: %s", newLocation, b)
	}

	tenant.RLock()
	invites, msol := tenant.AuthorizationPolicy["allowInvitesFrom"], tenant.AuthorizationPolicy["blockMsolPowerShell"]
	tenant.RUnlock()
	if invites != "adminsAndGuestInviters" || msol != false {
		t.Errorf("the authorization policy was not reverted: allowInvitesFrom %v, blockMsolPowerShell %v", invites, msol)
	}

	before := h.writes()
	again := h.startRestore(c.ID, map[string]any{"apply": true})
	second := h.waitRestore(c.ID, again, workflows.RestoreSucceeded, workflows.RestorePartiallySucceeded)
	for k, n := range second.Planned.ByKind {
		if k != restore.Skip && n > 0 {
			t.Errorf("after the restore, a new plan still has %d %s: %+v", n, k, h.actions(c.ID, again, "kind="+string(k)))
		}
	}
	if w := h.writes() - before; w != 0 {
		t.Errorf("restoring restored policies wrote %d times", w)
	}
	if code := h.call("POST", "/api/v1/connectors/"+c.ID+"/restores", map[string]any{"options": map[string]any{"policy_state": "on"}}, nil); code != http.StatusBadRequest {
		t.Errorf("an unknown policy_state: %d", code)
	}
}

func mustID(t *testing.T, s string) model.ID {
	id, ok := model.ParseID(s)
	if !ok {
		t.Fatalf("not an id: %s", s)
	}
	return id
}
