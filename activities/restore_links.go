package activities

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/entravault/entravault/internal/restore"
)

// bindBatch is Graph's limit of references in one members@odata.bind.
const bindBatch = 20

func directoryObjectURL(id string) string {
	return "https://graph.microsoft.com/v1.0/directoryObjects/" + url.PathEscape(id)
}

func queryEscape(s string) string { return url.QueryEscape(s) }

// addLinks adds missing members, owners or the manager. A reference that
// exists already counts as done, so a retried action writes nothing twice.
func (r *applyRun) addLinks(ctx context.Context, a *restore.Action) error {
	owner := r.objectURL(a.Type, a.ID)
	ids := make([]string, len(a.Links))
	for i, id := range a.Links {
		ids[i] = r.idmap.Resolve(id)
	}
	if a.Relation == "manager" {
		return r.setManager(ctx, a, owner, ids[0])
	}
	var added, already int
	var missing []string
	for start := 0; start < len(ids); start += bindBatch {
		batch := ids[start:min(start+bindBatch, len(ids))]
		n, m, gone, err := r.addBatch(ctx, a, owner, batch)
		if err != nil {
			return err
		}
		added, already, missing = added+n, already+m, append(missing, gone...)
	}
	a.Outcome, a.Note = restore.Succeeded, fmt.Sprintf("%d added, %d already there", added, already)
	switch {
	case len(missing) > 0 && added == 0 && already == 0:
		a.Outcome = restore.Skipped
		a.Note = "not restored: the linked objects are not in the tenant (deleted, and not in this snapshot): " + strings.Join(missing, ", ")
	case len(missing) > 0:
		a.Note += "; not restored, not in the tenant (deleted, and not in this snapshot): " + strings.Join(missing, ", ")
	case added == 0:
		a.Outcome = restore.AlreadyDone
	}
	return nil
}

// addBatch binds up to 20 references in one PATCH (groups), falling back
// to one request each when some exist already or for administrative units.
// A reference to an object that no longer exists (deleted for good, not in
// the snapshot) is reported as missing, not failed: Graph cannot link it.
func (r *applyRun) addBatch(ctx context.Context, a *restore.Action, owner string, ids []string) (added, already int, missing []string, err error) {
	if a.Type == "group" && len(ids) > 1 {
		refs := make([]string, len(ids))
		for i, id := range ids {
			refs[i] = directoryObjectURL(id)
		}
		err := r.consistent(ctx, ids, func() error {
			_, err := r.call(ctx, a, http.MethodPatch, owner, map[string]any{a.Relation + "@odata.bind": refs})
			return err
		})
		if err == nil {
			return len(ids), 0, nil, nil
		}
		if !alreadyThere(err) && !notVisibleYet(err) {
			return 0, 0, nil, err
		}
	}
	for _, id := range ids {
		err := r.consistent(ctx, []string{id}, func() error {
			_, err := r.call(ctx, a, http.MethodPost, owner+"/"+a.Relation+"/$ref", map[string]string{"@odata.id": directoryObjectURL(id)})
			return err
		})
		switch {
		case err == nil:
			added++
		case alreadyThere(err):
			already++
		case notVisibleYet(err) && GraphStatus(err) == http.StatusBadRequest:
			missing = append(missing, id)
		default:
			return added, already, missing, err
		}
	}
	return added, already, missing, nil
}

// consistent retries fn while Entra does not see an object this apply just
// created, up to ConsistencyWait.
func (r *applyRun) consistent(ctx context.Context, ids []string, fn func() error) error {
	limit := r.ConsistencyWait
	if limit <= 0 {
		limit = time.Minute
	}
	wait := callBackoff
	deadline := time.Now().Add(limit)
	for {
		err := fn()
		if err == nil || !notVisibleYet(err) || !r.anyFresh(ids) || time.Now().After(deadline) {
			return err
		}
		if _, err := sleepAfter(ctx, err, &wait); err != nil {
			return err
		}
	}
}

func (r *applyRun) anyFresh(ids []string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, id := range ids {
		if t, ok := r.fresh[id]; ok && time.Since(t) < 5*time.Minute {
			return true
		}
	}
	return false
}

func (r *applyRun) setManager(ctx context.Context, a *restore.Action, user, manager string) error {
	var cur struct {
		ID string `json:"id"`
	}
	err := r.getJSON(ctx, a, user+"/manager?$select=id", &cur)
	if err != nil && !notFound(err) {
		return err
	}
	if err == nil && cur.ID == manager {
		a.Outcome = restore.AlreadyDone
		return nil
	}
	err = r.consistent(ctx, []string{manager}, func() error {
		_, err := r.call(ctx, a, http.MethodPut, user+"/manager/$ref", map[string]string{"@odata.id": directoryObjectURL(manager)})
		return err
	})
	switch {
	case err == nil:
		a.Outcome = restore.Succeeded
	case notVisibleYet(err) && GraphStatus(err) == http.StatusBadRequest:
		a.Outcome, a.Note = restore.Skipped, "not restored: the manager "+manager+" is not in the tenant (deleted, and not in this snapshot)"
		return nil
	}
	return err
}

// removeLinks removes references added since the snapshot; one that is
// gone already counts as done.
func (r *applyRun) removeLinks(ctx context.Context, a *restore.Action) error {
	owner := r.objectURL(a.Type, a.ID)
	removed := 0
	for _, id := range a.Links {
		target := owner + "/" + a.Relation + "/" + url.PathEscape(id) + "/$ref"
		if a.Relation == "manager" {
			target = owner + "/manager/$ref"
		}
		_, err := r.call(ctx, a, http.MethodDelete, target, nil)
		if err != nil && !notFound(err) {
			return err
		}
		if err == nil {
			removed++
		}
	}
	a.Outcome = restore.Succeeded
	if removed == 0 {
		a.Outcome = restore.AlreadyDone
	}
	return nil
}

const roleAssignments = "/roleManagement/directory/roleAssignments"

// addRole creates a directory role assignment unless the principal holds
// that role at that scope already.
func (r *applyRun) addRole(ctx context.Context, a *restore.Action) error {
	var ra restore.RoleAssignmentBody
	if err := json.Unmarshal(a.Object, &ra); err != nil {
		return fmt.Errorf("role assignment: %w", err)
	}
	ra.PrincipalID = r.idmap.Resolve(ra.PrincipalID)
	ra.DirectoryScopeID = restore.ResolveScope(ra.DirectoryScopeID, r.idmap)
	exists, err := r.hasRole(ctx, a, ra)
	if err != nil || exists {
		if exists {
			a.Outcome = restore.AlreadyDone
		}
		return err
	}
	err = r.post(ctx, a, roleAssignments, ra, ra.PrincipalID)
	if err == nil {
		a.Outcome = restore.Succeeded
	}
	return err
}

// post creates what a names at url, retried while Entra does not see the
// objects refs yet; the new object's id is a's NewID.
func (r *applyRun) post(ctx context.Context, a *restore.Action, url string, body any, refs ...string) error {
	return r.consistent(ctx, refs, func() error {
		b, err := r.call(ctx, a, http.MethodPost, url, body)
		if err == nil {
			var created struct {
				ID string `json:"id"`
			}
			_ = json.Unmarshal(b, &created)
			a.NewID = created.ID
		}
		return err
	})
}

func (r *applyRun) hasRole(ctx context.Context, a *restore.Action, ra restore.RoleAssignmentBody) (bool, error) {
	filter := fmt.Sprintf("principalId eq '%s'", ra.PrincipalID)
	var page struct {
		Value []restore.RoleAssignmentBody `json:"value"`
	}
	if err := r.getJSON(ctx, a, roleAssignments+"?$filter="+queryEscape(filter), &page); err != nil {
		return false, err
	}
	for _, v := range page.Value {
		if v.PrincipalID == ra.PrincipalID && v.RoleDefinitionID == ra.RoleDefinitionID && (v.DirectoryScopeID == ra.DirectoryScopeID || v.DirectoryScopeID == "" && ra.DirectoryScopeID == "/") {
			return true, nil
		}
	}
	return false, nil
}

func (r *applyRun) removeRole(ctx context.Context, a *restore.Action) error {
	return r.deleteIfPresent(ctx, a, roleAssignments+"/"+url.PathEscape(a.ID))
}

// deleteAdded soft-deletes an object created after the snapshot (users,
// Microsoft 365 groups and units go to the recycle bin).
func (r *applyRun) deleteAdded(ctx context.Context, a *restore.Action) error {
	return r.deleteIfPresent(ctx, a, restore.Kinds[a.Type].Path+"/"+url.PathEscape(a.ID))
}

// deleteIfPresent DELETEs target; already gone counts as done.
func (r *applyRun) deleteIfPresent(ctx context.Context, a *restore.Action, target string) error {
	_, err := r.call(ctx, a, http.MethodDelete, target, nil)
	switch {
	case notFound(err):
		a.Outcome = restore.AlreadyDone
		return nil
	case err == nil:
		a.Outcome = restore.Succeeded
	}
	return err
}
