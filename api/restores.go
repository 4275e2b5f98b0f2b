package api

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/workflows"
)

// Restores follow the connector access rule: whoever may read a connector
// may plan a restore and read it; applying and cancelling need write.
func registerRestoreRoutes(g *echo.Group, h *handlers) {
	g.POST("/connectors/:id/restores", h.createRestore)
	g.GET("/connectors/:id/restores", h.listRestores)
	g.GET("/connectors/:id/restores/:rid", h.getRestore)
	g.GET("/connectors/:id/restores/:rid/actions", h.restoreActions)
	g.POST("/connectors/:id/restores/:rid/apply", h.applyRestore)
	g.POST("/connectors/:id/restores/:rid/cancel", h.cancelRestore)
}

func init() {
	paths := openAPI["paths"].(map[string]any)
	id, rid := path("id"), path("rid")
	paths["/api/v1/connectors/{id}/restores"] = map[string]any{
		"post": withParams(op(`Plan a restore: {"at": RFC 3339 | "snapshots": [sid…], "select": {"types", "ids"}, "options": {"undelete", "recreate", "properties", "links", "remove_extra_links", "remove_added"}, "apply": bool, "target_connector": id, "domain_map": {"contoso.com": "fabrikam.com"}} → 201 {id, status: planning}; apply needs write access. With target_connector the snapshots are restored into that connector's tenant (write access on it; its restore consent): objects are matched there by the id map of the tenant pair, then UPN (domains mapped; default: default domain → default domain), mailNickname, uniqueName or appId, display name; an ambiguous match is a skip, never a guess; nothing of the target's is removed`, true), id),
		"get":  withParams(op("Restores of the connector, newest first", true), id, query("cursor"), query("limit")),
	}
	paths["/api/v1/connectors/{id}/restores/{rid}"] = map[string]any{"get": withParams(op("A restore: status (planning, planned, applying, succeeded, partially_succeeded, failed, cancelled), counts per action kind and outcome, progress while applying", true), id, rid)}
	paths["/api/v1/connectors/{id}/restores/{rid}/actions"] = map[string]any{"get": withParams(op("The plan's actions in apply order (with outcomes once applied): object, kind, properties and links before → after, outcome, Graph error; paged by cursor", true),
		id, rid, query("kind"), query("outcome"), query("cursor"), query("limit"))}
	paths["/api/v1/connectors/{id}/restores/{rid}/apply"] = map[string]any{"post": withParams(op("Apply a planned restore (write access)", true), id, rid)}
	paths["/api/v1/connectors/{id}/restores/{rid}/cancel"] = map[string]any{"post": withParams(op("Cancel a restore; what was applied stays and is reported (write access)", true), id, rid)}
}

var restoreIDRE = regexp.MustCompile(`^r-[0-9a-f]{16}$`)

func newRestoreID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "r-" + hex.EncodeToString(b)
}

// CreateRestoreRequest is the body of POST …/restores.
type CreateRestoreRequest struct {
	At        *time.Time         `json:"at,omitempty"`
	Snapshots []string           `json:"snapshots,omitempty"`
	Select    *restore.Selection `json:"select,omitempty"`
	Options   *restore.Options   `json:"options,omitempty"`
	Apply     bool               `json:"apply,omitempty"`
	// TargetConnector restores into that connector's tenant instead.
	TargetConnector string            `json:"target_connector,omitempty"`
	DomainMap       restore.DomainMap `json:"domain_map,omitempty"`
}

// RestoreView is a restore as the API shows it.
type RestoreView struct {
	workflows.RestoreState
	Progress *activities.ApplyProgress `json:"progress,omitempty"`
	// IDMap is what the apply re-created, old id → new id.
	IDMap map[string]string `json:"id_map,omitempty"`
}

func (h *handlers) createRestore(c echo.Context) error {
	var req CreateRestoreRequest
	opts := restore.DefaultOptions()
	req.Options = &opts
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	id, _, err := h.authorize(c, req.Apply)
	if err != nil {
		return err
	}
	if err := req.Options.Validate(); err != nil {
		return apiError(http.StatusBadRequest, "bad_options", err.Error(), nil)
	}
	if h.Repo == nil {
		return apiError(http.StatusServiceUnavailable, "unavailable", "snapshot storage is not configured", nil)
	}
	sel := restore.Selection{}
	if req.Select != nil {
		if len(req.Select.Types) == 0 && len(req.Select.IDs) == 0 {
			return apiError(http.StatusBadRequest, "empty_selection", "select names no type and no id: nothing to restore", nil)
		}
		if err := req.Select.Validate(); err != nil {
			return apiError(http.StatusBadRequest, "bad_selection", err.Error(), nil)
		}
		for _, oid := range req.Select.IDs {
			if !validObjectID(oid) {
				return apiError(http.StatusBadRequest, "bad_selection", fmt.Sprintf("select.ids: %q is not an object id", oid), nil)
			}
		}
		sel = *req.Select
	}
	ctx := c.Request().Context()
	st, err := h.queryState(ctx, id)
	if err != nil {
		return err
	}
	if st.TenantID == "" || st.Config.Kind != connector.KindDirectory {
		return apiError(http.StatusConflict, "not_restorable", "only an active directory connector can be restored into", nil)
	}
	snaps, err := h.restoreSnapshots(ctx, id, req)
	if err != nil {
		return err
	}
	target, err := h.restoreTarget(c, st.TenantID, req)
	if err != nil {
		return err
	}
	rid := newRestoreID()
	p := principal(c)
	_, err = h.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.RestoreWorkflowID(id, rid), TaskQueue: h.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ConnectorIDKey.ValueSet(id), workflows.TenantIDKey.ValueSet(st.TenantID)),
		StaticSummary:         fmt.Sprintf("Restore %s of %s", rid, st.Config.Name),
	}, workflows.RestoreWorkflowName, workflows.RestoreInput{
		ConnectorID: id, TenantID: st.TenantID, RestoreID: rid, Snapshots: snaps, Scopes: st.Config.Scopes,
		Select: sel, Options: *req.Options, Apply: req.Apply, RequestedBy: p.Name, Target: target,
	})
	if err != nil {
		return fmt.Errorf("start restore: %w", err)
	}
	return c.JSON(http.StatusCreated, map[string]any{"id": rid, "status": workflows.RestorePlanning, "snapshots": snaps})
}

// restoreTarget resolves target_connector: a directory connector of
// another tenant, on which the caller may write. A restore into another
// tenant never removes anything of the target's.
func (h *handlers) restoreTarget(c echo.Context, sourceTenant string, req CreateRestoreRequest) (*workflows.RestoreTarget, error) {
	if req.TargetConnector == "" {
		if len(req.DomainMap) > 0 {
			return nil, apiError(http.StatusBadRequest, "bad_request", "domain_map needs target_connector", nil)
		}
		return nil, nil
	}
	if req.Options.RemoveAdded || req.Options.RemoveExtraLinks {
		return nil, apiError(http.StatusBadRequest, "bad_options", "a restore into another tenant never removes anything: turn off remove_added and remove_extra_links", nil)
	}
	domains := restore.DomainMap{}
	for from, to := range req.DomainMap {
		domains[strings.ToLower(from)] = strings.ToLower(to)
	}
	if err := domains.Validate(); err != nil {
		return nil, apiError(http.StatusBadRequest, "bad_domain_map", err.Error(), nil)
	}
	tid, _, err := h.authorizeID(c, req.TargetConnector, true)
	if err != nil {
		return nil, err
	}
	st, err := h.queryState(c.Request().Context(), tid)
	if err != nil {
		return nil, err
	}
	switch {
	case st.TenantID == "" || st.Config.Kind != connector.KindDirectory:
		return nil, apiError(http.StatusConflict, "not_restorable", "the target must be an active directory connector", nil)
	case strings.EqualFold(st.TenantID, sourceTenant):
		return nil, apiError(http.StatusBadRequest, "bad_request", "the target connector is of the same tenant: restore without target_connector", nil)
	}
	return &workflows.RestoreTarget{ConnectorID: tid, TenantID: st.TenantID, Scopes: st.Config.Scopes, Domains: domains}, nil
}

// restoreSnapshots resolves what to restore from: the named snapshots, or
// per scope the newest at or before `at` (default now).
func (h *handlers) restoreSnapshots(ctx context.Context, connectorID string, req CreateRestoreRequest) (map[connector.Scope]string, error) {
	if req.At != nil && len(req.Snapshots) > 0 {
		return nil, apiError(http.StatusBadRequest, "bad_request", "give at or snapshots, not both", nil)
	}
	out := map[connector.Scope]string{}
	for _, sid := range req.Snapshots {
		info, err := (&snapshotService{repo: h.Repo}).snapshot(ctx, connectorID, sid)
		if err != nil {
			return nil, err
		}
		scope := connector.Scope(info.Scope)
		if info.Connector != connectorID || !slices.Contains(restore.Scopes, scope) {
			return nil, apiError(http.StatusBadRequest, "not_restorable", fmt.Sprintf("snapshot %s is of %s, which restore does not write (it restores %v)", sid, info.Scope, restore.Scopes), nil)
		}
		if out[scope] != "" {
			return nil, apiError(http.StatusBadRequest, "bad_request", "two snapshots of scope "+info.Scope, nil)
		}
		out[scope] = sid
	}
	if len(req.Snapshots) > 0 {
		return out, nil
	}
	at := time.Now()
	if req.At != nil {
		at = *req.At
	}
	for _, scope := range restore.Scopes {
		snaps, err := h.Repo.Snapshots(ctx, repository.Filter{Connector: connectorID, Scope: string(scope), To: at.Add(time.Nanosecond)})
		if err != nil {
			return nil, storageError(err, "list snapshots")
		}
		if len(snaps) > 0 {
			out[scope] = string(snaps[len(snaps)-1].ID)
		}
	}
	if len(out) == 0 {
		return nil, apiError(http.StatusConflict, "no_snapshot", "no directory snapshot at or before "+at.UTC().Format(time.RFC3339), nil)
	}
	return out, nil
}

// restoreState reads one restore of the connector; 404 for any other.
func (h *handlers) restoreState(c echo.Context, write bool) (string, workflows.RestoreState, error) {
	id, _, err := h.authorize(c, write)
	if err != nil {
		return "", workflows.RestoreState{}, err
	}
	rid := c.Param("rid")
	notFound := apiError(http.StatusNotFound, "not_found", "restore not found", nil)
	if !restoreIDRE.MatchString(rid) {
		return "", workflows.RestoreState{}, notFound
	}
	v, err := h.Temporal.QueryWorkflow(c.Request().Context(), workflows.RestoreWorkflowID(id, rid), "", workflows.QueryRestore)
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return "", workflows.RestoreState{}, notFound
	}
	var st workflows.RestoreState
	if err == nil {
		err = v.Get(&st)
	}
	if err == nil && st.Target != nil {
		if _, _, err := h.authorizeID(c, st.Target.ConnectorID, write); err != nil {
			return "", workflows.RestoreState{}, notFound
		}
	}
	return id, st, err
}

// mayReadTarget: a restore into another tenant is as much the target's;
// whoever may not see the target sees nothing of it.
func (h *handlers) mayReadTarget(c echo.Context, st workflows.RestoreState) bool {
	if st.Target == nil {
		return true
	}
	_, _, err := h.authorizeID(c, st.Target.ConnectorID, false)
	return err == nil
}

func (h *handlers) getRestore(c echo.Context) error {
	id, st, err := h.restoreState(c, false)
	if err != nil {
		return err
	}
	view := RestoreView{RestoreState: st}
	ctx := c.Request().Context()
	if st.Status == workflows.RestoreApplying {
		view.Progress = h.applyProgress(ctx, workflows.RestoreWorkflowID(id, st.ID))
	}
	if st.Report != "" && st.IDsCreated > 0 {
		view.IDMap = h.createdIDs(ctx, repository.SnapshotID(st.Report))
	}
	return c.JSON(http.StatusOK, view)
}

// applyProgress reads the apply activity's last heartbeat.
func (h *handlers) applyProgress(ctx context.Context, workflowID string) *activities.ApplyProgress {
	var p *activities.ApplyProgress
	h.eachHeartbeat(ctx, workflowID, func(_ int32, decode func(any) error) bool {
		if got, ok := activities.ReadApplyProgress(decode); ok {
			p = &got
		}
		return p != nil
	})
	return p
}

// createdIDs lists the re-created objects of a report, old → new.
func (h *handlers) createdIDs(ctx context.Context, report repository.SnapshotID) map[string]string {
	out := map[string]string{}
	_ = h.Repo.ScanStored(ctx, report, restore.ActionType, func(_, _ string, raw []byte) error {
		var a restore.Action
		if json.Unmarshal(raw, &a) == nil && a.Kind == restore.Recreate && a.NewID != "" && a.NewID != a.ID {
			out[a.ID] = a.NewID
		}
		return nil
	})
	return out
}

func (h *handlers) listRestores(c echo.Context) error {
	id, _, err := h.authorize(c, false)
	if err != nil {
		return err
	}
	size, err := pageSize(c)
	if err != nil {
		return err
	}
	var token []byte
	if cur := c.QueryParam("cursor"); cur != "" {
		if token, err = base64.RawURLEncoding.DecodeString(cur); err != nil {
			return badCursor()
		}
	}
	ctx := c.Request().Context()
	q := fmt.Sprintf("WorkflowType = '%s' AND %s = '%s'", workflows.RestoreWorkflowName, workflows.ConnectorIDKey.GetName(), id)
	resp, err := h.Temporal.ListWorkflow(ctx, listRequest(h.Namespace, q, int32(min(size, 50)), token))
	if err != nil && len(token) > 0 {
		// Visibility stores answer a token they cannot read with various
		// errors; the token came from the caller.
		h.Logger.Debug("list restores with a cursor", "error", err)
		return badCursor()
	}
	if err != nil {
		return err
	}
	out := []workflows.RestoreState{}
	for _, e := range resp.GetExecutions() {
		v, err := h.Temporal.QueryWorkflow(ctx, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), workflows.QueryRestore)
		var st workflows.RestoreState
		if err == nil && v.Get(&st) == nil && h.mayReadTarget(c, st) {
			out = append(out, st)
		}
	}
	slices.SortStableFunc(out, func(a, b workflows.RestoreState) int { return b.CreatedAt.Compare(a.CreatedAt) })
	res := map[string]any{"restores": out}
	if t := resp.GetNextPageToken(); len(t) > 0 {
		res["next_cursor"] = base64.RawURLEncoding.EncodeToString(t)
	}
	return c.JSON(http.StatusOK, res)
}

// ActionPage answers GET …/actions.
type ActionPage struct {
	Actions    []restore.Action `json:"actions"`
	NextCursor string           `json:"next_cursor,omitempty"`
}

func (h *handlers) restoreActions(c echo.Context) error {
	_, st, err := h.restoreState(c, false)
	if err != nil {
		return err
	}
	kind, outcome := restore.ActionKind(c.QueryParam("kind")), restore.Outcome(c.QueryParam("outcome"))
	if kind != "" && !slices.Contains(restore.ActionKinds, kind) {
		return apiError(http.StatusBadRequest, "bad_request", fmt.Sprintf("kind: want one of %v", restore.ActionKinds), nil)
	}
	if outcome != "" && !slices.Contains(restore.Outcomes, outcome) {
		return apiError(http.StatusBadRequest, "bad_request", fmt.Sprintf("outcome: want one of %v", restore.Outcomes), nil)
	}
	size, err := pageSize(c)
	if err != nil {
		return err
	}
	after := ""
	if cur := c.QueryParam("cursor"); cur != "" {
		cr, err := decodeCursor(cur, "actions")
		if err != nil {
			return err
		}
		after = cr.ID
	}
	src := st.Report
	if src == "" {
		src = st.Plan
	}
	page := ActionPage{Actions: []restore.Action{}}
	if src == "" {
		return c.JSON(http.StatusOK, page)
	}
	errFull := errors.New("page full")
	last := ""
	err = h.Repo.Scan(c.Request().Context(), repository.SnapshotID(src), restore.ActionType, restore.ActionType, after,
		func(_, key string, load func() ([]byte, error)) error {
			if len(page.Actions) == size {
				page.NextCursor = cursor{Kind: "actions", ID: last}.encode()
				return errFull
			}
			last = key
			raw, err := load()
			if err != nil {
				return err
			}
			var a restore.Action
			if err := json.Unmarshal(raw, &a); err != nil {
				return err
			}
			if (kind == "" || a.Kind == kind) && (outcome == "" || a.Outcome == outcome) {
				page.Actions = append(page.Actions, a)
			}
			return nil
		})
	if err != nil && !errors.Is(err, errFull) {
		return storageError(err, "read the restore plan")
	}
	return c.JSON(http.StatusOK, page)
}

func (h *handlers) applyRestore(c echo.Context) error {
	return h.restoreUpdate(c, workflows.UpdateApply, principal(c).Name)
}

func (h *handlers) cancelRestore(c echo.Context) error {
	return h.restoreUpdate(c, workflows.UpdateCancel, nil)
}

// restoreUpdate sends apply or cancel; the workflow refuses either in the
// wrong status (409).
func (h *handlers) restoreUpdate(c echo.Context, name string, arg any) error {
	id, st, err := h.restoreState(c, true)
	if err != nil {
		return err
	}
	opts := client.UpdateWorkflowOptions{WorkflowID: workflows.RestoreWorkflowID(id, st.ID), UpdateName: name, WaitForStage: client.WorkflowUpdateStageCompleted}
	if arg != nil {
		opts.Args = []any{arg}
	}
	handle, err := h.Temporal.UpdateWorkflow(c.Request().Context(), opts)
	var res workflows.RestoreState
	if err == nil {
		err = handle.Get(c.Request().Context(), &res)
	}
	var app *temporal.ApplicationError
	var nf *serviceerror.NotFound
	switch {
	case errors.As(err, &app):
		return apiError(http.StatusConflict, "wrong_status", app.Error(), nil)
	case errors.As(err, &nf):
		return apiError(http.StatusConflict, "wrong_status", "the restore has ended", nil)
	case err != nil:
		return err
	}
	return c.JSON(http.StatusAccepted, res)
}
