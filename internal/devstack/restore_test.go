package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/workflows"
)

// restoreConnector backs up every scope restore writes.
func restoreConnector(tenant, name string) map[string]any {
	return map[string]any{"name": name, "tenant": tenant, "kind": "directory",
		"scopes": map[string]any{"users": true, "groups": map[string]any{"all": true, "members": true},
			"administrative_units": map[string]any{"all": true}, "roles": true},
		"schedule": map[string]any{"interval": "24h"}, "retention": map[string]any{"days": 7}}
}

// incident breaks the simulated tenant through its control API.
func (h *harness) incident(kind string, percent float64) string {
	h.t.Helper()
	body, _ := json.Marshal(map[string]any{"kind": kind, "percent": percent})
	base := strings.TrimSuffix(h.creds.GraphURL, "/v1.0")
	resp, err := http.Post(base+"/_sim/incident", "application/json", bytes.NewReader(body))
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		h.t.Fatalf("incident %s: %d %s", kind, resp.StatusCode, out)
	}
	return string(out)
}

// writes counts the simulator's Graph writes so far.
func (h *harness) writes() int {
	h.t.Helper()
	return h.writesAt("/_sim")
}

// writesAt counts the Graph writes of the tenant whose control API is at
// path ("/_sim/tenants/{id}" for another tenant).
func (h *harness) writesAt(path string) int {
	h.t.Helper()
	base := strings.TrimSuffix(h.creds.GraphURL, "/v1.0")
	resp, err := http.Get(base + path + "/counters")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var counters struct {
		Routes map[string]struct {
			Requests int `json:"requests"`
		} `json:"routes"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&counters); err != nil {
		h.t.Fatal(err)
	}
	n := 0
	for route, c := range counters.Routes {
		if !strings.HasPrefix(route, "GET ") {
			n += c.Requests
		}
	}
	return n
}

// TestRestoreAfterIncident backs a tenant up, breaks it, and restores it:
// the plan holds the incident's changes, apply brings the tenant back to
// the snapshot for every restorable property and link, and a restore
// planned afterwards finds nothing left to do but explained skips.
func TestRestoreAfterIncident(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	h := newHarness(t, ctx, false)
	// Access lists name keys that exist: the API resolves them to key ids.
	bob, carol := h.apiKey("ops-bob", auth.RoleOperator), h.apiKey("view-carol", auth.RoleViewer)
	cfg := restoreConnector(h.creds.TenantDomain, "restored")
	cfg["access"] = []string{"view-carol"}
	c := h.create(cfg)
	h.signIn(c.ConsentURL, "accept", h.admin("Global Administrator").UPN)
	h.waitFor(c.ID, "first snapshots of every scope", func(v connectorView) bool {
		for _, s := range []string{"users", "groups", "administrative_units", "roles"} {
			if v.Scopes[s].LastStatus != "succeeded" {
				return false
			}
		}
		return true
	})
	base := "/api/v1/connectors/" + c.ID
	var view struct {
		Verification struct {
			Restore []struct {
				Type  string `json:"type"`
				Ready bool   `json:"ready"`
			} `json:"restore"`
		} `json:"verification"`
	}
	h.call("GET", base, nil, &view)
	if len(view.Verification.Restore) != len(restore.SelectableTypes) {
		t.Errorf("restore readiness in the verification report: %+v", view.Verification)
	}
	for _, r := range view.Verification.Restore {
		if r.Ready {
			t.Errorf("backups are least-privilege, yet restore of %s is ready before its consent", r.Type)
		}
	}

	// Before anything broke, a plan holds no action but explained skips.
	clean := h.waitRestore(c.ID, h.startRestore(c.ID, map[string]any{}), workflows.RestorePlanned)
	for kind, n := range clean.Planned.ByKind {
		if kind != restore.Skip && n > 0 {
			t.Fatalf("an untouched tenant plans %d %s: %+v", n, kind, h.actions(c.ID, clean.ID, "kind="+string(kind)))
		}
	}

	h.checkRestoreAccess(c.ID, clean, bob, carol)
	h.checkRestoreBadInput(c.ID, clean)
	h.consentToRestore(c.ID)

	original := map[string]string{} // re-created id → id in the snapshot
	for _, kind := range []string{"soft_delete_users", "hard_delete_users", "delete_groups", "strip_group_links",
		"tamper_users", "remove_role_assignments", "mixed"} {
		t.Run(kind, func(t *testing.T) {
			hh := *h
			hh.t = t
			hh.restoreAfter(c.ID, kind, original)
		})
	}
}

// restoreAfter runs one incident, plans (the plan holds the incident's
// changes and nothing else), applies, and checks that a new plan finds
// nothing left but explained skips, and writes nothing.
func (h *harness) restoreAfter(connectorID, kind string, original map[string]string) {
	t := h.t
	base := "/api/v1/connectors/" + connectorID
	var did struct {
		Affected map[string][]string `json:"affected"`
	}
	if err := json.Unmarshal([]byte(h.incident(kind, 20)), &did); err != nil {
		t.Fatal(err)
	}
	affected := map[string]bool{}
	for _, ids := range did.Affected {
		for _, id := range ids {
			if o, ok := original[id]; ok {
				id = o
			}
			affected[id] = true
		}
	}
	if len(affected) == 0 {
		t.Fatalf("the incident did nothing: %+v", did)
	}
	rid := h.startRestore(connectorID, map[string]any{})
	planned := h.waitRestore(connectorID, rid, workflows.RestorePlanned)
	actions := h.actions(connectorID, rid, "")
	covered := map[string]bool{}
	for _, a := range actions {
		if a.Kind == restore.Skip {
			continue
		}
		related := append([]string{a.ID}, a.Links...)
		var ra restore.RoleAssignmentBody
		if json.Unmarshal(a.Object, &ra) == nil && ra.PrincipalID != "" {
			related = append(related, ra.PrincipalID)
		}
		hit := false
		for _, id := range related {
			hit = hit || affected[id]
			covered[id] = true
		}
		if !hit {
			t.Errorf("the plan holds %s %s %s, which the incident did not touch", a.Kind, a.Type, a.ID)
		}
	}
	for id := range affected {
		if !covered[id] {
			t.Errorf("the incident touched %s, and the plan does nothing about it", id)
		}
	}
	if code := h.call("POST", base+"/restores/"+rid+"/apply", nil, nil); code != http.StatusAccepted {
		t.Fatalf("apply: %d", code)
	}
	applied := h.waitRestore(connectorID, rid, workflows.RestoreSucceeded, workflows.RestorePartiallySucceeded)
	if applied.Status != workflows.RestoreSucceeded {
		t.Errorf("apply ended %s: %+v\nnot done: %+v", applied.Status, applied.Applied, h.actions(connectorID, rid, "outcome=failed"))
	}
	if n := planned.Planned.ByKind[restore.Recreate]; len(applied.IDMap) != n {
		t.Errorf("%d re-creates, id map %v", n, applied.IDMap)
	}
	for old, n := range applied.IDMap {
		original[n] = old
	}
	for _, a := range h.actions(connectorID, rid, "kind=add_role") {
		original[a.NewID] = a.ID // a restored role assignment has a new id
	}
	if code := h.call("POST", base+"/restores/"+rid+"/apply", nil, nil); code != http.StatusConflict {
		t.Errorf("applying an applied restore: %d", code)
	}

	// The tenant equals the snapshot again: a new plan from the same
	// snapshots is only skips, and applying it writes nothing.
	before := h.writes()
	again := h.startRestore(connectorID, map[string]any{"snapshots": snapshotIDs(applied), "apply": true})
	second := h.waitRestore(connectorID, again, workflows.RestoreSucceeded, workflows.RestorePartiallySucceeded)
	for k, n := range second.Planned.ByKind {
		if k != restore.Skip && n > 0 {
			t.Errorf("after the restore, a new plan still has %d %s: %+v", n, k, h.actions(connectorID, again, "kind="+string(k)))
		}
	}
	if w := h.writes() - before; w != 0 {
		t.Errorf("restoring a restored tenant wrote %d times", w)
	}
	for _, a := range h.actions(connectorID, again, "kind=skip") {
		if a.Reason == "" {
			t.Errorf("a skip without a reason: %+v", a)
		}
	}
	t.Logf("%s: plan %v, applied %v", kind, planned.Planned.ByKind, applied.Applied.ByOutcome)
}

func snapshotIDs(v api.RestoreView) []string {
	var out []string
	for _, sid := range v.Snapshots {
		out = append(out, sid)
	}
	return out
}

// checkRestoreAccess: the connector rule holds on every restore endpoint:
// unlisted callers see nothing, listed viewers plan and read but neither
// apply nor cancel, callers without a token are refused.
func (h *harness) checkRestoreAccess(connectorID string, planned api.RestoreView, bob, carol string) {
	h.t.Helper()
	as := func(tok string) *harness { hh := *h; hh.key = tok; return &hh }
	base := "/api/v1/connectors/" + connectorID + "/restores"
	one := base + "/" + planned.ID
	endpoints := []struct {
		method, path string
		body         any
		viewer       int
	}{
		{"GET", base, nil, http.StatusOK},
		{"POST", base, map[string]any{}, http.StatusCreated},
		{"POST", base, map[string]any{"apply": true}, http.StatusForbidden},
		{"GET", one, nil, http.StatusOK},
		{"GET", one + "/actions", nil, http.StatusOK},
		{"POST", one + "/apply", nil, http.StatusForbidden},
		{"POST", one + "/cancel", nil, http.StatusForbidden},
	}
	for _, ep := range endpoints {
		if code := as(bob).call(ep.method, ep.path, ep.body, nil); code != http.StatusNotFound {
			h.t.Errorf("unlisted operator: %s %s = %d, want 404", ep.method, ep.path, code)
		}
		if code := as(carol).call(ep.method, ep.path, ep.body, nil); code != ep.viewer {
			h.t.Errorf("listed viewer: %s %s = %d, want %d", ep.method, ep.path, code, ep.viewer)
		}
		if code := as("").call(ep.method, ep.path, ep.body, nil); code != http.StatusUnauthorized {
			h.t.Errorf("no token: %s %s = %d, want 401", ep.method, ep.path, code)
		}
	}
}

// checkRestoreBadInput: every malformed request gets a clear 4xx and
// starts nothing.
func (h *harness) checkRestoreBadInput(connectorID string, planned api.RestoreView) {
	h.t.Helper()
	base := "/api/v1/connectors/" + connectorID + "/restores"
	// Restores this admin started: visibility may list the viewer's
	// restores (checkRestoreAccess) late, so they are left out by name.
	count := func() int {
		var list struct {
			Restores []struct {
				RequestedBy string `json:"requested_by"`
			} `json:"restores"`
		}
		h.call("GET", base+"?limit=50", nil, &list)
		n := 0
		for _, r := range list.Restores {
			if r.RequestedBy != "view-carol" {
				n++
			}
		}
		return n
	}
	before := count()
	for deadline := time.Now().Add(10 * time.Second); before < 1 && time.Now().Before(deadline); before = count() {
		time.Sleep(100 * time.Millisecond) // the plan made before this check, listed once visibility has it
	}
	var live string
	for _, sid := range planned.Live {
		live = sid
	}
	unknown := strings.Repeat("ab", 32)
	for _, bad := range []struct {
		body any
		want int
	}{
		{map[string]any{"at": "yesterday"}, http.StatusBadRequest},
		{map[string]any{"at": "2000-01-01T00:00:00Z"}, http.StatusConflict},
		{map[string]any{"snapshots": []string{"not-a-snapshot"}}, http.StatusBadRequest},
		{map[string]any{"snapshots": []string{unknown}}, http.StatusNotFound},
		{map[string]any{"snapshots": []string{live}}, http.StatusBadRequest}, // a live read, not a backup
		{map[string]any{"at": "2030-01-01T00:00:00Z", "snapshots": []string{unknown}}, http.StatusBadRequest},
		{map[string]any{"select": map[string]any{}}, http.StatusBadRequest},
		{map[string]any{"select": map[string]any{"types": []string{"device"}}}, http.StatusBadRequest},
		{map[string]any{"select": map[string]any{"ids": []string{"../etc"}}}, http.StatusBadRequest},
		{map[string]any{"options": map[string]any{"everything": true}}, http.StatusBadRequest},
		{"[]", http.StatusBadRequest},
	} {
		var answer map[string]any
		if code := h.call("POST", base, bad.body, &answer); code != bad.want {
			h.t.Errorf("POST restores %v = %d %v, want %d\n%s", bad.body, code, answer, bad.want, lastLines(h.logs.String(), "level=", 8))
		}
	}
	for path, want := range map[string]int{
		base + "/r-0123456789abcdef":                        http.StatusNotFound,
		base + "/not-a-restore":                             http.StatusNotFound,
		base + "/" + planned.ID + "/actions?kind=explode":   http.StatusBadRequest,
		base + "/" + planned.ID + "/actions?outcome=maybe":  http.StatusBadRequest,
		base + "/" + planned.ID + "/actions?cursor=garbage": http.StatusBadRequest,
		base + "?cursor=bm90LWEtdG9rZW4":                    http.StatusBadRequest,
	} {
		if code := h.call("GET", path, nil, nil); code != want {
			h.t.Errorf("GET %s = %d, want %d", path, code, want)
		}
	}
	if code := h.call("POST", base+"/r-0123456789abcdef/apply", nil, nil); code != http.StatusNotFound {
		h.t.Errorf("applying an unknown restore = %d", code)
	}
	if after := count(); after != before {
		h.t.Errorf("bad requests started %d restores", after-before)
	}
}

func (h *harness) apiKey(name string, role auth.Role) string {
	h.t.Helper()
	keys, _ := h.keyStore()
	tok, _, err := keys.Create(h.ctx, name, role)
	if err != nil {
		h.t.Fatal(err)
	}
	return tok
}

// consentToRestore has the Global Administrator grant the restore
// application's permissions through its own link, then waits until the
// verification report shows every object type ready.
func (h *harness) consentToRestore(connectorID string) {
	h.t.Helper()
	h.consentToRestoreAs(connectorID, h.admin("Global Administrator").UPN)
}

// consentToRestoreAs is consentToRestore by the administrator upn (of
// another tenant).
func (h *harness) consentToRestoreAs(connectorID, upn string) {
	h.t.Helper()
	var rc api.RestoreConsentResponse
	if code := h.call("POST", "/api/v1/connectors/"+connectorID+"/restore-consent", nil, &rc); code != http.StatusOK {
		h.t.Fatalf("restore consent link: %d", code)
	}
	if code, page := h.signIn(rc.ConsentURL, "accept", upn); code != http.StatusOK || !strings.Contains(page, "Restore consent received") {
		h.t.Fatalf("restore consent callback %d: %s", code, page)
	}
	if code, _ := h.signIn(rc.ConsentURL, "accept", upn); code == http.StatusOK {
		h.t.Error("a restore consent link worked twice")
	}
	h.waitFor(connectorID, "restore readiness", func(v connectorView) bool {
		var full struct {
			Verification struct {
				Restore []struct {
					Ready bool `json:"ready"`
				} `json:"restore"`
			} `json:"verification"`
		}
		h.call("GET", "/api/v1/connectors/"+connectorID, nil, &full)
		n := 0
		for _, r := range full.Verification.Restore {
			if r.Ready {
				n++
			}
		}
		return v.Status == "active" && n == len(restore.SelectableTypes)
	})
}

// lastLines returns the last n lines of s that contain sub.
func lastLines(s, sub string, n int) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out[max(0, len(out)-n):], "\n")
}
