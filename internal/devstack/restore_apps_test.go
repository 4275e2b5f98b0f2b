package devstack

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/internal/tenantsim/model"
	"github.com/entravault/entravault/workflows"
)

// TestRestoreApplications backs up applications, service principals and
// conditional access, then for each incident kind of theirs: the plan
// holds the incident's objects and nothing else, apply succeeds, and a new
// plan from the same snapshots is only explained skips and writes nothing
// (the live read holds certificate keys, federated credentials, owners,
// app role assignments and grants, so any of them missing would show).
func TestRestoreApplications(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	h := newHarnessWith(t, ctx, tenantsim.Options{Seed: 7, Users: 60, Groups: 10, AdministrativeUnits: 3, Applications: 8, LogsPerDay: 5})
	connectorID := h.restorableConnector("apps", map[string]any{"users": true, "groups": map[string]any{"all": true, "members": true},
		"roles": true, "applications": true, "policies": map[string]any{"conditional_access": true, "named_locations": true,
			"authentication_methods": true}})

	appIDs := map[string]string{} // application object id → appId, as backed up
	tenant := h.stack.Simulator().Tenant()
	tenant.RLock()
	for i := range tenant.Apps {
		appIDs[tenant.Apps[i].ID.String()] = tenant.Apps[i].AppID.String()
	}
	tenant.RUnlock()

	original := map[string]string{} // new id → id in the snapshot
	for _, step := range []struct {
		kind    string
		percent float64
	}{
		{model.IncidentDeleteApps, 50}, {model.IncidentHardDeleteApps, 100}, {model.IncidentRemoveAppRoleAssignments, 30},
		{model.IncidentDeleteCAPolicies, 40}, {model.IncidentWeakenCAPolicies, 100}, {model.IncidentDeleteNamedLocations, 100},
		{model.IncidentWeakenAuthMethods, 100},
	} {
		t.Run(step.kind, func(t *testing.T) {
			hh := *h
			hh.t = t
			hh.restoreAppsAfter(connectorID, step.kind, step.percent, appIDs, original)
		})
	}
	t.Run("changed_children", func(t *testing.T) {
		hh := *h
		hh.t = t
		hh.restoreChangedChildren(connectorID)
	})
}

// restoreChangedChildren widens a delegated grant, retargets a federated
// credential and gives a user an app role: the first two are reverted in
// place by PATCH, the third removed (option remove_extra_links).
func (h *harness) restoreChangedChildren(connectorID string) {
	tenant := h.stack.Simulator().Tenant()
	tenant.Lock()
	tenant.Grants[tenant.LiveGrants()[0]].Scope += " Mail.ReadWrite"
	retargeted := false
	for i := range tenant.Apps {
		app := model.MakeRef(model.KindApp, int32(i))
		if fics := tenant.Apps[i].FICs; len(fics) > 0 && !retargeted && tenant.IsLive(app) {
			fics[0]["subject"], retargeted = "repo:attacker/fork:ref:refs/heads/main", true
		}
	}
	a := tenant.AppRoleAssignments[tenant.AppRoleAssignedTo(tenant.AppRoleAssignments[len(tenant.AppRoleAssignments)-1].Resource)[0]]
	_, err := tenant.AddAppRoleAssignment(model.MakeRef(model.KindSP, a.Resource), tenant.Users[model.RegularUser].ID.String(), a.AppRole)
	tenant.Unlock()
	if err != nil {
		h.t.Fatal(err)
	}
	rid := h.startRestore(connectorID, map[string]any{"apply": true, "options": map[string]any{"remove_extra_links": true}})
	applied := h.waitRestoreFor(connectorID, rid, 3*time.Minute, workflows.RestoreSucceeded, workflows.RestorePartiallySucceeded)
	if applied.Status != workflows.RestoreSucceeded || applied.Planned.ByKind[restore.Revert] != 2 ||
		applied.Planned.ByKind[restore.RemoveChild] != 1 || applied.Writes != 3 {
		h.t.Errorf("restore %s: planned %v, %d writes, want 2 reverts and 1 removal: %+v", applied.Status, applied.Planned.ByKind,
			applied.Writes, h.actions(connectorID, rid, ""))
	}
	h.replanWritesNothing(connectorID, applied)
}

// restoreAppsAfter runs one incident and restores it; see
// TestRestoreApplications.
func (h *harness) restoreAppsAfter(connectorID, kind string, percent float64, appIDs, original map[string]string) {
	t := h.t
	var did struct {
		Affected map[string][]string `json:"affected"`
	}
	if err := json.Unmarshal([]byte(h.incident(kind, percent)), &did); err != nil {
		t.Fatal(err)
	}
	affected := map[string]bool{}
	for _, id := range did.Affected[kind] {
		if o, ok := original[id]; ok {
			id = o
		}
		affected[id] = true
		if appID := appIDs[id]; appID != "" {
			affected[appID] = true // policies name an application by appId
		}
	}
	if len(affected) == 0 {
		t.Fatalf("the incident did nothing: %+v", did)
	}
	start := time.Now()
	rid := h.startRestore(connectorID, map[string]any{"apply": true})
	applied := h.waitRestore(connectorID, rid, workflows.RestoreSucceeded, workflows.RestorePartiallySucceeded)
	took := time.Since(start)
	if applied.Status != workflows.RestoreSucceeded {
		t.Errorf("apply ended %s: %+v\nnot done: %+v", applied.Status, applied.Applied, h.actions(connectorID, rid, "outcome=failed"))
	}
	// Every action is about what the incident touched (an app, its
	// service principal, a policy naming its appId), and everything it
	// touched has an action.
	covered := map[string]bool{}
	secrets := 0
	for _, a := range h.actions(connectorID, rid, "") {
		if a.Kind == restore.Skip {
			if a.Reason == restore.SecretReason {
				secrets++
			}
			continue
		}
		a.Key, a.NewID, a.Note = "", "", ""
		b, _ := json.Marshal(a)
		hit := false
		for id := range affected {
			if strings.Contains(string(b), id) {
				hit, covered[id] = true, true
			}
		}
		if !hit {
			t.Errorf("the plan holds %s %s %s, which the incident did not touch", a.Kind, a.Type, a.ID)
		}
	}
	for _, id := range did.Affected[kind] {
		if o, ok := original[id]; ok {
			id = o
		}
		if !covered[id] {
			t.Errorf("the incident touched %s, and the plan does nothing about it", id)
		}
	}
	if kind == model.IncidentHardDeleteApps && secrets != len(did.Affected[kind])/2 {
		t.Errorf("%d re-created applications, %d reported as needing a new client secret", len(did.Affected[kind])/2, secrets)
	}
	for old, n := range applied.IDMap {
		original[n] = old
	}
	for _, a := range h.actions(connectorID, rid, "kind=add_child") {
		original[a.NewID] = a.ID // a re-added child has a new id
	}

	h.replanWritesNothing(connectorID, applied)
	if code := h.call("POST", "/api/v1/connectors/"+connectorID+"/restores/"+rid+"/apply", nil, nil); code != http.StatusConflict {
		t.Errorf("applying an applied restore: %d", code)
	}
	t.Logf("%s: plan %v, applied %v, %d writes in %v; %d secrets to renew", kind, applied.Planned.ByKind, applied.Applied.ByOutcome,
		applied.Writes, took.Round(100*time.Millisecond), secrets)
}

// restorableConnector creates a connector of these scopes, has the Global
// Administrator consent, waits for a snapshot of every scope and consents
// to restore.
func (h *harness) restorableConnector(name string, scopes map[string]any) string {
	h.t.Helper()
	c := h.create(map[string]any{"name": name, "tenant": h.creds.TenantDomain, "kind": "directory", "scopes": scopes,
		"schedule": map[string]any{"interval": "24h"}, "retention": map[string]any{"days": 7}})
	h.signIn(c.ConsentURL, "accept", h.admin("Global Administrator").UPN)
	h.waitFor(c.ID, "first snapshots", func(v connectorView) bool {
		for s := range scopes {
			if v.Scopes[s].LastStatus != "succeeded" {
				return false
			}
		}
		return true
	})
	h.consentToRestore(c.ID)
	return c.ID
}

// replanWritesNothing plans again from the snapshots applied restored,
// and applies: the tenant equals them for everything restorable, so the
// plan is explained skips only and writes nothing.
func (h *harness) replanWritesNothing(connectorID string, applied api.RestoreView) {
	h.t.Helper()
	before := h.writes()
	again := h.startRestore(connectorID, map[string]any{"snapshots": snapshotIDs(applied), "apply": true})
	second := h.waitRestoreFor(connectorID, again, 3*time.Minute, workflows.RestoreSucceeded, workflows.RestorePartiallySucceeded)
	for k, n := range second.Planned.ByKind {
		if k != restore.Skip && n > 0 {
			h.t.Errorf("after the restore, a new plan still has %d %s: %+v", n, k, h.actions(connectorID, again, "kind="+string(k)))
		}
	}
	if w := h.writes() - before; w != 0 {
		h.t.Errorf("restoring a restored tenant wrote %d times", w)
	}
	for _, a := range h.actions(connectorID, again, "kind=skip") {
		if a.Reason == "" {
			h.t.Errorf("a skip without a reason: %+v", a)
		}
	}
}
