package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/workflows"
)

var idRE = regexp.MustCompile(`^c-[0-9a-f]{16}$`)

func validID(id string) bool { return idRE.MatchString(id) }

func newConnectorID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "c-" + hex.EncodeToString(b)
}

// decodeStrict reads a JSON body, refusing unknown fields, trailing data
// and wrong types with a message naming the problem.
func decodeStrict(c echo.Context, into any) error {
	if ct := c.Request().Header.Get(echo.HeaderContentType); ct != "" && !strings.HasPrefix(ct, echo.MIMEApplicationJSON) {
		return apiError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send application/json", nil)
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return he
		}
		return apiError(http.StatusBadRequest, "bad_request", "cannot read the body", nil)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &te):
			return apiError(http.StatusBadRequest, "invalid_json", fmt.Sprintf("field %q: expected %s, got %s", te.Field, te.Type, te.Value), nil)
		case errors.Is(err, io.EOF):
			return apiError(http.StatusBadRequest, "invalid_json", "empty body", nil)
		default:
			return apiError(http.StatusBadRequest, "invalid_json", err.Error(), nil)
		}
	}
	if dec.More() {
		return apiError(http.StatusBadRequest, "invalid_json", "trailing data after the JSON object", nil)
	}
	return nil
}

func principal(c echo.Context) auth.Principal {
	p, _ := auth.PrincipalFrom(c)
	return p
}

// CreateConnectorResponse answers POST /connectors.
type CreateConnectorResponse struct {
	ID         string           `json:"id"`
	Status     connector.Status `json:"status"`
	ConsentURL string           `json:"consent_url,omitempty"`
	ExpiresAt  time.Time        `json:"consent_expires_at,omitzero"`
}

// createRequest is POST /connectors: a connector's config and, when the
// administrator signed in first (signin.go), the consent grant.
type createRequest struct {
	connector.Config
	ConsentGrant string `json:"consent_grant,omitempty"`
}

func (h *handlers) createConnector(c echo.Context) error {
	p := principal(c)
	if !p.CanWrite() {
		return apiError(http.StatusForbidden, "forbidden", "role "+string(p.Role)+" may not create connectors", nil)
	}
	var req createRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	cfg := req.Config
	cfg.Normalize()
	if err := h.resolveAccess(c.Request().Context(), &cfg.Access); err != nil {
		return err
	}
	if !p.IsAdmin() && !auth.CanSee(p, cfg.Access) && len(p.IDs) > 0 {
		// Whoever creates a connector can see it.
		cfg.Access = append(cfg.Access, p.IDs[0])
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	ctx := c.Request().Context()
	id := newConnectorID()
	in := workflows.ConnectorInput{ConnectorID: id, Config: cfg, CreatedBy: p.Name}
	status, resp := connector.StatusAwaitingConsent, CreateConnectorResponse{ID: id}
	if req.ConsentGrant != "" {
		consent, err := h.checkGrant(p, cfg, req.ConsentGrant)
		if err != nil {
			return err
		}
		in.Consent, status = consent, connector.StatusVerifying
	} else {
		state, hash := newState(id)
		in.ConsentStateHash, in.ConsentDeadline = hash, h.Now().Add(h.consentTimeout())
		resp.ConsentURL, resp.ExpiresAt = h.Consent.signInURL(cfg.Tenant, state, !h.skipConsentPrompt(ctx, p, cfg.Tenant)), in.ConsentDeadline.UTC()
	}
	resp.Status = status
	_, err := h.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:        workflows.ConnectorWorkflowID(id),
		TaskQueue: h.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(
			workflows.ConnectorIDKey.ValueSet(id), workflows.TenantIDKey.ValueSet(cfg.Tenant),
			workflows.ConnectorStatusKey.ValueSet(string(status))),
		Memo: map[string]any{workflows.MemoSummary: workflows.ConnectorSummary{Name: cfg.Name, Tenant: cfg.Tenant, Kind: cfg.Kind,
			Status: status, Access: cfg.Access, CreatedAt: h.Now().UTC()}},
		StaticSummary: fmt.Sprintf("Connector %s (%s, %s)", cfg.Name, cfg.Tenant, cfg.Kind),
		StaticDetails: fmt.Sprintf("Backs up tenant `%s`: %v every %s.", cfg.Tenant, cfg.Scopes.Enabled(), cfg.Schedule.Interval),
	}, workflows.ConnectorWorkflowName, in)
	if err != nil {
		return fmt.Errorf("start connector workflow: %w", err)
	}
	h.index.put(ConnectorListItem{ID: id, ConnectorSummary: workflows.ConnectorSummary{Name: cfg.Name, Tenant: cfg.Tenant, Kind: cfg.Kind,
		Status: status, Access: cfg.Access, CreatedAt: h.Now().UTC()}})
	return c.JSON(http.StatusCreated, resp)
}

func (h *handlers) consentTimeout() time.Duration {
	if h.Consent.Timeout > 0 {
		return h.Consent.Timeout
	}
	return 72 * time.Hour
}

// renewConsent issues a new sign-in link after expiry or failure.
func (h *handlers) renewConsent(c echo.Context) error {
	id, sum, err := h.authorize(c, true)
	if err != nil {
		return err
	}
	state, hash := newState(id)
	deadline := h.Now().Add(h.consentTimeout())
	if err := h.update(c.Request().Context(), id, workflows.UpdateRenewConsent, workflows.RenewConsentInput{StateHash: hash, Deadline: deadline}, nil); err != nil {
		return err
	}
	prompt := !h.skipConsentPrompt(c.Request().Context(), principal(c), sum.Tenant)
	return c.JSON(http.StatusOK, CreateConnectorResponse{ID: id, Status: connector.StatusAwaitingConsent,
		ConsentURL: h.Consent.signInURL(sum.Tenant, state, prompt), ExpiresAt: deadline.UTC()})
}

// authorize finds the connector and applies the access rule: 404 for a
// connector the caller may not see, 403 for a viewer's write.
func (h *handlers) authorize(c echo.Context, write bool) (string, workflows.ConnectorSummary, error) {
	return h.authorizeID(c, c.Param("id"), write)
}

// authorizeID is authorize for connector id (another than the path's).
func (h *handlers) authorizeID(c echo.Context, id string, write bool) (string, workflows.ConnectorSummary, error) {
	notFound := apiError(http.StatusNotFound, "not_found", "connector not found", nil)
	if !validID(id) {
		return "", workflows.ConnectorSummary{}, notFound
	}
	desc, err := h.Temporal.DescribeWorkflowExecution(c.Request().Context(), workflows.ConnectorWorkflowID(id), "")
	if err != nil {
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return "", workflows.ConnectorSummary{}, notFound
		}
		return "", workflows.ConnectorSummary{}, err
	}
	sum, err := decodeSummary(desc.GetWorkflowExecutionInfo().GetMemo())
	if err != nil {
		return "", sum, err
	}
	if err := auth.Authorize(principal(c), sum.Access, write); err != nil {
		return "", sum, err
	}
	return id, sum, nil
}

func decodeSummary(m *commonpb.Memo) (workflows.ConnectorSummary, error) {
	var s workflows.ConnectorSummary
	p := m.GetFields()[workflows.MemoSummary]
	if p == nil {
		return s, errors.New("connector memo missing")
	}
	return s, converter.GetDefaultDataConverter().FromPayload(p, &s)
}

// A query needs a worker to answer it: one busy or restarting can make a
// query fail now and succeed a moment later, so it is tried three times.
func (h *handlers) queryState(ctx context.Context, id string) (workflows.ConnectorState, error) {
	var st workflows.ConnectorState
	var err error
	for attempt := range 3 {
		var v converter.EncodedValue
		if v, err = h.Temporal.QueryWorkflow(ctx, workflows.ConnectorWorkflowID(id), "", workflows.QueryStatus); err == nil {
			return st, v.Get(&st)
		}
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) || ctx.Err() != nil {
			return st, err
		}
		h.Logger.Warn("connector query failed; trying again", "connector", id, "attempt", attempt+1, "error", err)
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(time.Duration(attempt+1) * 500 * time.Millisecond):
		}
	}
	return st, err
}

// update runs a workflow Update; a validator's refusal is a 400 (or 409
// for the connector's status) and changes nothing.
func (h *handlers) update(ctx context.Context, id, name string, arg any, result any) error {
	opts := client.UpdateWorkflowOptions{
		WorkflowID: workflows.ConnectorWorkflowID(id), UpdateName: name,
		WaitForStage: client.WorkflowUpdateStageCompleted,
	}
	if arg != nil {
		opts.Args = []any{arg}
	}
	handle, err := h.Temporal.UpdateWorkflow(ctx, opts)
	if err == nil {
		err = handle.Get(ctx, result)
	}
	if err == nil {
		return nil
	}
	var nf *serviceerror.NotFound
	if errors.As(err, &nf) {
		return apiError(http.StatusConflict, "connector_closed", "the connector is deleted", nil)
	}
	var app *temporal.ApplicationError
	if errors.As(err, &app) {
		msg := app.Error()
		if strings.Contains(msg, "not allowed in the connector's current status") {
			return apiError(http.StatusConflict, "wrong_status", msg, nil)
		}
		return apiError(http.StatusBadRequest, "rejected", msg, nil)
	}
	return err
}

// ConnectorView answers GET /connectors/{id}.
type ConnectorView struct {
	ID               string                                    `json:"id"`
	Config           connector.Config                          `json:"config"`
	Status           connector.Status                          `json:"status"`
	TenantID         string                                    `json:"tenant_id,omitempty"`
	Admin            *workflows.Admin                          `json:"consented_by,omitempty"`
	Report           any                                       `json:"verification,omitempty"`
	Scopes           map[connector.Scope]*workflows.ScopeState `json:"scopes"`
	LastError        string                                    `json:"last_error,omitempty"`
	CreatedBy        string                                    `json:"created_by,omitempty"`
	CreatedAt        time.Time                                 `json:"created_at"`
	ConsentExpiresAt *time.Time                                `json:"consent_expires_at,omitempty"`
	PurgeAt          *time.Time                                `json:"purge_at,omitempty"` // scheduled (or done) purge
	PurgeCancelled   bool                                      `json:"purge_cancelled,omitempty"`
}

func view(id string, st workflows.ConnectorState) ConnectorView {
	v := ConnectorView{ID: id, Config: st.Config, Status: st.Status, TenantID: st.TenantID, Admin: st.Admin,
		Scopes: st.Scopes, LastError: st.LastError, CreatedBy: st.CreatedBy, CreatedAt: st.CreatedAt}
	if st.Report != nil {
		v.Report = st.Report
	}
	if st.Status == connector.StatusAwaitingConsent {
		d := st.ConsentDeadline.UTC()
		v.ConsentExpiresAt = &d
	}
	if v.Scopes == nil {
		v.Scopes = map[connector.Scope]*workflows.ScopeState{}
	}
	if !st.PurgeAt.IsZero() {
		at := st.PurgeAt.UTC()
		v.PurgeAt, v.PurgeCancelled = &at, st.PurgeCancelled
	}
	return v
}

func (h *handlers) getConnector(c echo.Context) error {
	id, _, err := h.authorize(c, false)
	if err != nil {
		return err
	}
	st, err := h.queryState(c.Request().Context(), id)
	if err != nil {
		return fmt.Errorf("query connector %s: %w", id, err)
	}
	return c.JSON(http.StatusOK, view(id, st))
}

// ConnectorListItem is one row of GET /connectors.
type ConnectorListItem struct {
	ID string `json:"id"`
	workflows.ConnectorSummary
	touched time.Time // set when this API changed it (listindex.go)
	removed bool
}

func escapeQuery(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `'`, `\'`)
}

func listRequest(ns, query string, size int32, token []byte) *workflowservice.ListWorkflowExecutionsRequest {
	return &workflowservice.ListWorkflowExecutionsRequest{Namespace: ns, Query: query, PageSize: size, NextPageToken: token}
}

// listConnectors serves the in-memory index of every connector, filtered
// by what the caller may see.
func (h *handlers) listConnectors(c echo.Context) error {
	p := principal(c)
	status := connector.Status(c.QueryParam("status"))
	tenant := strings.ToLower(c.QueryParam("tenant"))
	all, err := h.index.list(c.Request().Context())
	if err != nil {
		return err
	}
	items := []ConnectorListItem{}
	for _, it := range all {
		if it.removed || !auth.CanSee(p, it.Access) || (status != "" && it.Status != status) {
			continue
		}
		if tenant != "" && tenant != strings.ToLower(it.Tenant) && tenant != strings.ToLower(it.TenantID) {
			continue
		}
		items = append(items, it)
	}
	sort.Slice(items, func(i, j int) bool { return items[i].ID < items[j].ID })
	return c.JSON(http.StatusOK, map[string]any{"connectors": items})
}

// loadConnectors reads every running connector from Temporal visibility:
// one query plus memos, no call per connector.
func (h *handlers) loadConnectors(ctx context.Context) ([]ConnectorListItem, error) {
	q := fmt.Sprintf("WorkflowType = '%s' AND ExecutionStatus = 'Running'", workflows.ConnectorWorkflowName)
	var items []ConnectorListItem
	var token []byte
	for {
		resp, err := h.Temporal.ListWorkflow(ctx, listRequest(h.Namespace, q, 1000, token))
		if err != nil {
			return nil, fmt.Errorf("list connectors: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			if e.GetStatus() != enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
				continue
			}
			sum, err := decodeSummary(e.GetMemo())
			if err != nil {
				continue
			}
			items = append(items, ConnectorListItem{ID: strings.TrimPrefix(e.GetExecution().GetWorkflowId(), "connector/"), ConnectorSummary: sum})
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			return items, nil
		}
	}
}

// ConnectorPatch is PATCH /connectors/{id}: absent fields stay as they are.
type ConnectorPatch struct {
	Name           *string              `json:"name"`
	Scopes         *connector.Scopes    `json:"scopes"`
	InitialLogSpan *string              `json:"initial_log_span"`
	Schedule       *connector.Schedule  `json:"schedule"`
	Retention      *connector.Retention `json:"retention"`
	Access         *[]string            `json:"access"`
}

func (h *handlers) patchConnector(c echo.Context) error {
	id, sum, err := h.authorize(c, true)
	if err != nil {
		return err
	}
	var patch ConnectorPatch
	if err := decodeStrict(c, &patch); err != nil {
		return err
	}
	st, err := h.queryState(c.Request().Context(), id)
	if err != nil {
		return err
	}
	cfg := st.Config
	if patch.Name != nil {
		cfg.Name = strings.TrimSpace(*patch.Name)
	}
	if patch.Scopes != nil {
		cfg.Scopes = *patch.Scopes
	}
	if patch.InitialLogSpan != nil {
		cfg.InitialLogSpan = *patch.InitialLogSpan
	}
	if patch.Schedule != nil {
		cfg.Schedule = *patch.Schedule
	}
	if patch.Retention != nil {
		cfg.Retention = *patch.Retention
		if retentionShrinks(st.Config.Retention, cfg.Retention) && !principal(c).IsAdmin() {
			return apiError(http.StatusForbidden, "forbidden", "shortening retention destroys backup history: it needs the admin role (operators may lengthen it)", nil)
		}
	}
	if patch.Access != nil {
		cfg.Access = *patch.Access
		if err := h.resolveAccess(c.Request().Context(), &cfg.Access); err != nil {
			return err
		}
		if p := principal(c); !p.IsAdmin() && !auth.CanSee(p, cfg.Access) {
			return apiError(http.StatusBadRequest, "rejected", "the change would remove your own access", nil)
		}
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	var applied connector.Config
	if err := h.update(c.Request().Context(), id, workflows.UpdateConfig, cfg, &applied); err != nil {
		return err
	}
	st.Config = applied
	sum.Name, sum.Access = applied.Name, applied.Access
	h.index.put(ConnectorListItem{ID: id, ConnectorSummary: sum})
	return c.JSON(http.StatusOK, view(id, st))
}

// retentionShrinks reports whether policy next may forget a snapshot that
// policy old keeps. A snapshot is kept when any rule keeps it (the newest
// always is); a zero rule keeps nothing, and a policy of zeros keeps
// everything (internal/repository/retention). So next keeps at least what
// old keeps exactly when next keeps everything, or neither does and no
// rule of next is lower than in old; any other change shrinks it.
func retentionShrinks(old, next connector.Retention) bool {
	if next == (connector.Retention{}) {
		return false
	}
	return old == (connector.Retention{}) || next.Days < old.Days || next.KeepLast < old.KeepLast || next.KeepDaily < old.KeepDaily ||
		next.KeepWeekly < old.KeepWeekly || next.KeepMonthly < old.KeepMonthly || next.KeepYearly < old.KeepYearly
}

// resolveAccess rewrites an access list to immutable principal IDs before
// it is stored: the name of a live API key becomes "apikey:<id>" of that
// key, so a later key given the name does not inherit its access; a UPN,
// mail or unknown name is a 400 (users are listed as
// "oid:<tenant id>/<object id>"). Lists stored before this rule keep their
// name entries, which admit nobody until the list is written again.
func (h *handlers) resolveAccess(ctx context.Context, access *[]string) error {
	var keys *auth.KeyStore
	if h.Auth != nil {
		keys = h.Auth.Keys
	}
	out, err := auth.ResolveAccess(ctx, keys, *access)
	switch {
	case errors.Is(err, auth.ErrUnresolved):
		return apiError(http.StatusBadRequest, "invalid_access", strings.TrimPrefix(err.Error(), "auth: "), nil)
	case errors.Is(err, auth.ErrUnavailable):
		return apiError(http.StatusServiceUnavailable, "unavailable", "cannot read API keys right now", nil)
	case err != nil:
		return err
	}
	*access = out
	return nil
}

// RunNowRequest is POST /connectors/{id}/backups.
type RunNowRequest struct {
	Scope connector.Scope `json:"scope,omitempty"`
}

func (h *handlers) runNow(c echo.Context) error {
	id, _, err := h.authorize(c, true)
	if err != nil {
		return err
	}
	var req RunNowRequest
	if c.Request().ContentLength != 0 {
		if err := decodeStrict(c, &req); err != nil {
			return err
		}
	}
	if req.Scope != "" && !slices.Contains(connector.AllScopes, req.Scope) {
		return apiError(http.StatusBadRequest, "invalid_scope", fmt.Sprintf("unknown scope %q", req.Scope), nil)
	}
	var res workflows.RunNowResult
	if err := h.update(c.Request().Context(), id, workflows.UpdateRunNow, workflows.RunNowInput{Scope: req.Scope}, &res); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, res)
}

func (h *handlers) listRuns(c echo.Context) error {
	id, _, err := h.authorize(c, false)
	if err != nil {
		return err
	}
	st, err := h.queryState(c.Request().Context(), id)
	if err != nil {
		return err
	}
	scope := connector.Scope(c.QueryParam("scope"))
	runs := []RunView{}
	for i := len(st.Runs) - 1; i >= 0; i-- { // newest first
		r := st.Runs[i]
		if scope != "" && r.Scope != scope {
			continue
		}
		v := RunView{RunRecord: r}
		if r.Status == "running" {
			v.Progress = h.runProgress(c.Request().Context(), r.WorkflowID)
		}
		runs = append(runs, v)
	}
	return c.JSON(http.StatusOK, map[string]any{"runs": runs})
}

func (h *handlers) verify(c echo.Context) error {
	id, _, err := h.authorize(c, true)
	if err != nil {
		return err
	}
	if err := h.update(c.Request().Context(), id, workflows.UpdateVerify, nil, nil); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]string{"status": string(connector.StatusVerifying)})
}

func (h *handlers) deleteConnector(c echo.Context) error {
	id, sum, err := h.authorize(c, true)
	if err != nil {
		return err
	}
	purge := false
	if v := c.QueryParam("purge"); v != "" {
		if v != "true" && v != "false" {
			return apiError(http.StatusBadRequest, "bad_request", "purge must be true or false", nil)
		}
		purge = v == "true"
	}
	// A purge destroys the backup history: admins only, and it waits out
	// the grace, during which an admin can cancel it (cancelPurge).
	if purge && !principal(c).IsAdmin() {
		return apiError(http.StatusForbidden, "forbidden", "purging a connector's snapshots needs the admin role; delete without purge to stop its backups", nil)
	}
	var res workflows.DeleteResult
	if err := h.update(c.Request().Context(), id, workflows.UpdateDelete, workflows.DeleteInput{Purge: purge, Grace: h.PurgeGrace}, &res); err != nil {
		return err
	}
	body := map[string]any{"id": id, "status": connector.StatusDeleted, "purge": purge}
	if purge {
		body["purge_at"] = res.PurgeAt.UTC()
		sum.Status = connector.StatusDeleted // listed until purged, so that it can be cancelled
		h.index.put(ConnectorListItem{ID: id, ConnectorSummary: sum})
	} else {
		h.index.remove(id)
	}
	return c.JSON(http.StatusAccepted, body)
}

func init() {
	openAPI["paths"].(map[string]any)["/api/v1/connectors/{id}/purge/cancel"] = map[string]any{"post": withParams(op("Cancel a scheduled purge during its grace (admin); the connector stays deleted and its snapshots stay", true), path("id"))}
}

// cancelPurge cancels a purge still in its grace: admins only.
func (h *handlers) cancelPurge(c echo.Context) error {
	id, _, err := h.authorize(c, true)
	if err != nil {
		return err
	}
	if !principal(c).IsAdmin() {
		return apiError(http.StatusForbidden, "forbidden", "cancelling a purge needs the admin role", nil)
	}
	if err := h.update(c.Request().Context(), id, workflows.UpdateCancelPurge, nil, nil); err != nil {
		return err
	}
	st, err := h.queryState(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, view(id, st))
}

// RunView is a run with, while it runs, the progress its backup activity
// last heartbeated (as of its last checkpoint).
type RunView struct {
	workflows.RunRecord
	Progress *RunProgress `json:"progress,omitempty"`
}

// RunProgress is the backup activity's live counters and its attempt.
type RunProgress struct {
	Attempt int32 `json:"attempt"`
	activities.LiveProgress
}

// runProgress reads a running backup's pending activity; nil when it has
// not heartbeated yet or cannot be described.
func (h *handlers) runProgress(ctx context.Context, workflowID string) *RunProgress {
	var p *RunProgress
	h.eachHeartbeat(ctx, workflowID, func(attempt int32, decode func(any) error) bool {
		var hb struct {
			Live *activities.LiveProgress `json:"live"`
		}
		if decode(&hb) != nil || hb.Live == nil {
			return false
		}
		p = &RunProgress{Attempt: attempt, LiveProgress: *hb.Live}
		return true
	})
	return p
}

// eachHeartbeat hands the last heartbeat of each pending activity of a
// workflow to fn until fn accepts one.
func (h *handlers) eachHeartbeat(ctx context.Context, workflowID string, fn func(attempt int32, decode func(any) error) bool) {
	desc, err := h.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	if err != nil {
		return
	}
	for _, pa := range desc.GetPendingActivities() {
		if pa.GetHeartbeatDetails() == nil {
			continue
		}
		decode := func(into any) error {
			return converter.GetDefaultDataConverter().FromPayloads(pa.GetHeartbeatDetails(), into)
		}
		if fn(pa.GetAttempt(), decode) {
			return
		}
	}
}
