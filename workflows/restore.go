package workflows

import (
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/restore"
)

// Names the API uses to talk to a RestoreWorkflow.
const (
	RestoreWorkflowName = "RestoreWorkflow"
	QueryRestore        = "restore"
	UpdateApply         = "apply"
	UpdateCancel        = "cancel"
)

// RestoreWorkflowID is the workflow id of one restore of a connector.
func RestoreWorkflowID(connectorID, restoreID string) string {
	return ConnectorWorkflowID(connectorID) + "/restore/" + restoreID
}

// RestoreStatus is where a restore is.
type RestoreStatus string

// Restore statuses.
const (
	RestorePlanning           RestoreStatus = "planning"
	RestorePlanned            RestoreStatus = "planned"
	RestoreApplying           RestoreStatus = "applying"
	RestoreSucceeded          RestoreStatus = "succeeded"
	RestorePartiallySucceeded RestoreStatus = "partially_succeeded"
	RestoreFailed             RestoreStatus = "failed"
	RestoreCancelled          RestoreStatus = "cancelled"
)

const (
	// planExpiry is how long a plan waits to be applied.
	planExpiry = 7 * 24 * time.Hour
	// applyHeartbeat is how soon a lost worker's apply resumes elsewhere.
	applyHeartbeat = backupHeartbeat
)

// RestoreInput starts a restore. Snapshots are the backed-up snapshot of
// each scope to restore from; the API resolved them.
type RestoreInput struct {
	ConnectorID string
	TenantID    string
	RestoreID   string
	Snapshots   map[connector.Scope]string
	Scopes      connector.Scopes // the connector's scope settings, for the live read
	Select      restore.Selection
	Options     restore.Options
	Apply       bool
	RequestedBy string
	// HeartbeatTimeout overrides how soon a lost worker's apply moves on
	// (tests); default 30 s.
	HeartbeatTimeout time.Duration `json:",omitempty"`
	// Target, when set, is the connector whose tenant the snapshots are
	// restored into (TenantID is then the snapshots' tenant).
	Target *RestoreTarget `json:",omitempty"`
}

// RestoreTarget is another connector's tenant a restore writes to.
type RestoreTarget struct {
	ConnectorID string            `json:"connector_id"`
	TenantID    string            `json:"tenant_id"`
	Scopes      connector.Scopes  `json:"scopes"`
	Domains     restore.DomainMap `json:"domain_map,omitempty"`
}

// writes are the connector and tenant a restore reads live and writes,
// and the id map it goes through.
func (in RestoreInput) writes() (connectorID, tenantID string, scopes connector.Scopes, idmap string, cross *activities.CrossTenant) {
	if in.Target == nil {
		return in.ConnectorID, in.TenantID, in.Scopes, "", nil
	}
	t := in.Target
	return t.ConnectorID, t.TenantID, t.Scopes, restore.PairIDMap(in.TenantID, t.TenantID),
		&activities.CrossTenant{SourceTenantID: in.TenantID, Domains: t.Domains}
}

// RestoreState is what GET …/restores/{rid} shows. Plans and reports are
// in the repository; only their ids and counts are here.
type RestoreState struct {
	ID          string                     `json:"id"`
	ConnectorID string                     `json:"connector_id"`
	Status      RestoreStatus              `json:"status"`
	CreatedAt   time.Time                  `json:"created_at"`
	UpdatedAt   time.Time                  `json:"updated_at"`
	RequestedBy string                     `json:"requested_by,omitempty"`
	AppliedBy   string                     `json:"applied_by,omitempty"`
	Snapshots   map[connector.Scope]string `json:"snapshots"`
	Live        map[connector.Scope]string `json:"live,omitempty"`
	Select      restore.Selection          `json:"select"`
	Options     restore.Options            `json:"options"`
	Target      *RestoreTarget             `json:"target,omitempty"`
	Plan        string                     `json:"plan,omitempty"`
	Planned     restore.Counts             `json:"planned"`
	Report      string                     `json:"report,omitempty"`
	Applied     restore.Counts             `json:"applied"`
	Writes      int                        `json:"writes"`
	IDsCreated  int                        `json:"ids_created"`
	Error       string                     `json:"error,omitempty"`
}

type restoreRun struct {
	in          RestoreInput
	s           RestoreState
	applyAsked  bool
	cancelAsked bool
	cancel      workflow.CancelFunc
}

// RestoreWorkflow reads the tenant live, plans the restore, waits for the
// go-ahead (or applies at once), applies, and reports.
func RestoreWorkflow(ctx workflow.Context, in RestoreInput) (RestoreState, error) {
	r := &restoreRun{in: in, applyAsked: in.Apply, s: RestoreState{ID: in.RestoreID, ConnectorID: in.ConnectorID, Status: RestorePlanning,
		CreatedAt: workflow.Now(ctx), RequestedBy: in.RequestedBy, Snapshots: in.Snapshots, Select: in.Select, Options: in.Options,
		Target: in.Target}}
	r.s.UpdatedAt = r.s.CreatedAt
	if err := r.handlers(ctx); err != nil {
		return r.s, err
	}
	work, cancel := workflow.WithCancel(ctx)
	r.cancel = cancel
	if err := r.plan(work); err != nil {
		return r.end(ctx, err)
	}
	r.set(ctx, RestorePlanned)
	ok := true
	if !r.applyAsked {
		ok, _ = workflow.AwaitWithTimeout(ctx, planExpiry, func() bool { return r.applyAsked || r.cancelAsked })
	}
	if r.cancelAsked || !ok {
		if !ok {
			r.s.Error = "the plan expired without being applied"
		}
		r.set(ctx, RestoreCancelled)
		return r.s, nil
	}
	r.set(ctx, RestoreApplying)
	return r.end(ctx, r.apply(work))
}

func (r *restoreRun) handlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, QueryRestore, func() (RestoreState, error) { return r.s, nil }); err != nil {
		return err
	}
	err := workflow.SetUpdateHandlerWithOptions(ctx, UpdateApply, func(ctx workflow.Context, by string) (RestoreState, error) {
		r.applyAsked, r.s.AppliedBy = true, by
		return r.s, nil
	}, workflow.UpdateHandlerOptions{Validator: func(by string) error {
		if r.s.Status != RestorePlanned && !(r.s.Status == RestorePlanning && !r.applyAsked) {
			return fmt.Errorf("the restore is %s: only a planned restore can be applied", r.s.Status)
		}
		return nil
	}})
	if err != nil {
		return err
	}
	return workflow.SetUpdateHandlerWithOptions(ctx, UpdateCancel, func(ctx workflow.Context) (RestoreState, error) {
		r.cancelAsked = true
		r.cancel()
		return r.s, nil
	}, workflow.UpdateHandlerOptions{Validator: func() error {
		switch r.s.Status {
		case RestorePlanning, RestorePlanned, RestoreApplying:
			return nil
		}
		return fmt.Errorf("the restore is %s already", r.s.Status)
	}})
}

func (r *restoreRun) set(ctx workflow.Context, st RestoreStatus) {
	r.s.Status, r.s.UpdatedAt = st, workflow.Now(ctx)
	workflow.SetCurrentDetails(ctx, fmt.Sprintf("**%s**: %v planned, %v applied", st, r.s.Planned.ByKind, r.s.Applied.ByOutcome))
}

// plan reads every scope live (the same read diff?to=live makes), then
// plans against the recycle bin.
func (r *restoreRun) plan(ctx workflow.Context) error {
	liveConnector, tenantID, scopes, idmap, cross := r.in.writes()
	live := map[connector.Scope]workflow.ChildWorkflowFuture{}
	for _, scope := range restore.Scopes {
		if r.in.Snapshots[scope] == "" {
			continue
		}
		runID := fmt.Sprintf("restore-%s-%s", r.in.RestoreID, scope)
		cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
			WorkflowID:    RestoreWorkflowID(r.in.ConnectorID, r.in.RestoreID) + "/live/" + string(scope),
			StaticSummary: "read " + string(scope) + " live for restore " + r.in.RestoreID,
		})
		live[scope] = workflow.ExecuteChildWorkflow(cctx, ScopeBackupWorkflow, activities.BackupInput{
			ConnectorID: connector.LiveNamespace(liveConnector), TenantID: tenantID, RunID: runID, Scope: scope,
			Scopes: scopes, Time: workflow.Now(ctx), ForceFull: true,
		})
	}
	r.s.Live = map[connector.Scope]string{}
	for scope, f := range live {
		var res activities.BackupResult
		if err := f.Get(ctx, &res); err != nil {
			return fmt.Errorf("read %s live: %w", scope, err)
		}
		r.s.Live[scope] = res.SnapshotID
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: time.Hour, HeartbeatTimeout: 2 * time.Minute, RetryPolicy: backupRetry, Summary: "plan restore " + r.in.RestoreID,
	})
	var res activities.RestorePlanResult
	err := workflow.ExecuteActivity(actx, (*activities.Restore).PlanRestore, activities.RestorePlanInput{
		ConnectorID: r.in.ConnectorID, TenantID: tenantID, RestoreID: r.in.RestoreID,
		Snapshots: r.in.Snapshots, Live: r.s.Live, Select: r.in.Select, Options: r.in.Options, IDMap: idmap, Cross: cross, Scopes: scopes,
	}).Get(ctx, &res)
	if err != nil {
		return err
	}
	r.s.Plan, r.s.Planned = res.Plan, res.Counts
	return nil
}

// apply runs the plan. Its activity heartbeats every action, so a lost
// worker's apply resumes elsewhere within the heartbeat timeout.
func (r *restoreRun) apply(ctx workflow.Context) error {
	hb := applyHeartbeat
	if r.in.HeartbeatTimeout > 0 {
		hb = r.in.HeartbeatTimeout
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 48 * time.Hour, HeartbeatTimeout: hb, RetryPolicy: backupRetry, WaitForCancellation: true,
		Summary: "apply restore " + r.in.RestoreID,
	})
	_, tenantID, _, idmap, _ := r.in.writes()
	var res activities.RestoreApplyResult
	err := workflow.ExecuteActivity(actx, (*activities.Restore).ApplyRestore, activities.RestoreApplyInput{
		ConnectorID: r.in.ConnectorID, TenantID: tenantID, RestoreID: r.in.RestoreID, Plan: r.s.Plan, IDMap: idmap,
	}).Get(ctx, &res)
	var canceled *temporal.CanceledError
	if errors.As(err, &canceled) && canceled.HasDetails() {
		_ = canceled.Details(&res)
	}
	r.s.Report, r.s.Applied, r.s.Writes, r.s.IDsCreated = res.Report, res.Counts, res.Writes, res.Created
	return err
}

// end records how the restore ended. A failure is the restore's status,
// not the workflow's: the workflow completes so its state stays queryable.
func (r *restoreRun) end(ctx workflow.Context, err error) (RestoreState, error) {
	var canceled *temporal.CanceledError
	switch {
	case r.cancelAsked || errors.As(err, &canceled):
		r.set(ctx, RestoreCancelled)
	case err != nil:
		r.s.Error = err.Error()
		r.set(ctx, RestoreFailed)
	case r.s.Applied.ByOutcome[restore.Failed] > 0 || r.s.Applied.ByOutcome[restore.ChangedSincePlan] > 0:
		r.set(ctx, RestorePartiallySucceeded)
	default:
		r.set(ctx, RestoreSucceeded)
	}
	return r.s, nil
}
