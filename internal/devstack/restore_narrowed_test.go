package devstack

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/workflows"
)

// TestRestoreAfterNarrowingGroups: a connector backed up all groups, then
// was narrowed to one. A restore reads live only what the connector now
// covers, so the other groups, still in the snapshot, must not look
// deleted: the plan re-creates none of them and says why it leaves them.
// The next backup reads the narrowed scope whole, so its snapshot no
// longer holds them.
func TestRestoreAfterNarrowingGroups(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	h := newHarness(t, ctx, false)
	c := h.create(restoreConnector(h.creds.TenantDomain, "narrowed"))
	h.signIn(c.ConsentURL, "accept", h.admin("Global Administrator").UPN)
	first := h.waitFor(c.ID, "first snapshots", func(v connectorView) bool { return v.Scopes["groups"].LastStatus == "succeeded" })
	var groups struct {
		Objects []struct{ ID string } `json:"objects"`
	}
	h.call("GET", "/api/v1/connectors/"+c.ID+"/snapshots/"+first.Scopes["groups"].LastSnapshot+"/objects?type=group&limit=100", nil, &groups)
	if len(groups.Objects) < 3 {
		t.Fatalf("only %d groups backed up", len(groups.Objects))
	}
	kept := groups.Objects[0].ID
	patch := map[string]any{"scopes": map[string]any{"users": true, "groups": map[string]any{"include": []string{kept}, "members": true},
		"administrative_units": map[string]any{"all": true}, "roles": true}}
	if code := h.call("PATCH", "/api/v1/connectors/"+c.ID, patch, nil); code != http.StatusOK {
		t.Fatalf("narrow the groups: %d", code)
	}
	plan := h.waitRestore(c.ID, h.startRestore(c.ID, map[string]any{}), workflows.RestorePlanned)
	for kind, n := range plan.Planned.ByKind {
		if kind != restore.Skip && n > 0 {
			t.Errorf("plan after narrowing holds %d %s: %+v", n, kind, h.actions(c.ID, plan.ID, "kind="+string(kind)))
		}
	}
	left := map[string]bool{}
	for _, act := range h.actions(c.ID, plan.ID, "kind=skip") {
		if act.Type == "group" && strings.Contains(act.Reason, "groups scope") {
			left[act.ID] = true
		}
	}
	if len(left) != len(groups.Objects)-1 || left[kept] {
		t.Errorf("%d groups left out with a reason, want the %d outside the scope", len(left), len(groups.Objects)-1)
	}

	// The next backup reads the narrowed scope in full: its snapshot holds
	// the one group, not the others carried over from before.
	if code := h.call("POST", "/api/v1/connectors/"+c.ID+"/backups", map[string]any{"scope": "groups"}, nil); code != http.StatusAccepted {
		t.Fatalf("run now: %d", code)
	}
	next := h.waitFor(c.ID, "a groups backup after narrowing", func(v connectorView) bool {
		return v.Scopes["groups"].LastStatus == "succeeded" && v.Scopes["groups"].LastSnapshot != first.Scopes["groups"].LastSnapshot
	})
	var after struct {
		Objects []struct{ ID string } `json:"objects"`
	}
	h.call("GET", "/api/v1/connectors/"+c.ID+"/snapshots/"+next.Scopes["groups"].LastSnapshot+"/objects?type=group&limit=100", nil, &after)
	if len(after.Objects) != 1 || after.Objects[0].ID != kept {
		t.Errorf("after narrowing, the groups snapshot holds %+v, want only %s", after.Objects, kept)
	}
}
