package workflows

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/workflow"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
)

// Names the API and operators use to talk to a ConnectorWorkflow. Signals
// can be sent from the Temporal UI too ("Send a Signal").
const (
	ConnectorWorkflowName = "ConnectorWorkflow"
	QueryStatus           = "status"
	UpdateConsent         = "submit-consent"
	UpdateRenewConsent    = "renew-consent"
	UpdateConfig          = "update-config"
	UpdateRunNow          = "run-now"
	UpdateVerify          = "verify"
	UpdateDelete          = "delete"
	SignalPause           = "pause"
	SignalResume          = "resume"
	SignalRunNow          = "run-now"
)

// ConnectorWorkflowID is the workflow id of a connector: one per connector.
func ConnectorWorkflowID(connectorID string) string { return "connector/" + connectorID }

// Tunables of the connector loop; tests shrink them.
const (
	maxRunsKept       = 100
	retentionInterval = 24 * time.Hour
	// continueAfterEvents bounds history when the server has not suggested
	// continue-as-new yet.
	continueAfterEvents = 10_000
)

// ConnectorInput starts a connector, or continues one after
// continue-as-new (State set).
type ConnectorInput struct {
	ConnectorID string
	Config      connector.Config
	// ConsentStateHash is the SHA-256 (hex) of the OAuth state the API put
	// in the sign-in URL; the state itself never enters history.
	ConsentStateHash string
	ConsentDeadline  time.Time
	CreatedBy        string
	// Consent is set when the administrator signed in before the
	// connector was created (the API's sign-in-first order): the
	// connector starts in verifying.
	Consent *ConsentResult  `json:",omitempty"`
	State   *ConnectorState `json:",omitempty"`
}

// ConnectorState is everything the connector remembers; it is carried
// across continue-as-new.
type ConnectorState struct {
	ConnectorID      string
	Config           connector.Config
	Status           connector.Status
	PausedFrom       connector.Status `json:",omitempty"`
	CreatedBy        string
	CreatedAt        time.Time
	ConsentStateHash string
	ConsentDeadline  time.Time
	TenantID         string                   // resolved from consent
	Admin            *Admin                   `json:",omitempty"`
	Report           *activities.VerifyReport `json:",omitempty"`
	Scopes           map[connector.Scope]*ScopeState
	Runs             []RunRecord
	LastError        string    `json:",omitempty"`
	LastRetention    time.Time `json:",omitempty"`
	Purge            bool      `json:",omitempty"` // pending until PurgeAt (purge.go)
	PurgeAt          time.Time `json:",omitzero"`
	PurgeCancelled   bool      `json:",omitempty"` // an admin cancelled the last purge
	RunSeq           int
	VerifyRequested  bool `json:",omitempty"`
	// RestoreConsent is the restore application's consent (restoreconsent.go).
	RestoreConsent *RestoreConsent `json:",omitempty"`
}

// Admin is the account that granted consent.
type Admin struct {
	ObjectID string `json:"object_id"`
	UPN      string `json:"upn"`
}

// ScopeState is the schedule of one scope.
type ScopeState struct {
	LastRunID    string    `json:"last_run_id,omitempty"`
	LastStart    time.Time `json:"last_start,omitzero"`
	LastEnd      time.Time `json:"last_end,omitzero"`
	LastStatus   string    `json:"last_status,omitempty"`
	LastSnapshot string    `json:"last_snapshot,omitempty"`
	NextRun      time.Time `json:"next_run,omitzero"`
	Running      string    `json:"running,omitempty"` // run id in flight
	// Again asks for one more run once Running ends: a run-now that came
	// while one ran wants a backup taken after it asked.
	Again bool `json:"again,omitempty"`
}

// RunRecord is one scope backup run as GET /runs shows it.
type RunRecord struct {
	RunID      string                   `json:"run_id"`
	WorkflowID string                   `json:"workflow_id"`
	Scope      connector.Scope          `json:"scope"`
	Trigger    string                   `json:"trigger"` // first, schedule, manual
	Start      time.Time                `json:"start"`
	End        time.Time                `json:"end,omitzero"`
	Status     string                   `json:"status"` // running, succeeded, failed
	Result     *activities.BackupResult `json:"result,omitempty"`
	Error      string                   `json:"error,omitempty"`
}

// ConsentResult is what the API learned from the sign-in callback.
type ConsentResult struct {
	StateHash        string
	TenantID         string
	AdminObjectID    string
	AdminUPN         string
	Error            string // OAuth error code, e.g. access_denied
	ErrorDescription string
}

// RenewConsentInput starts a new sign-in after expiry or failure.
type RenewConsentInput struct {
	StateHash string
	Deadline  time.Time
}

// RunNowInput asks for an immediate backup of one scope or all.
type RunNowInput struct {
	Scope connector.Scope `json:"scope,omitempty"`
}

// DeleteInput stops the connector; Purge also removes its snapshots,
// Grace after the delete (the API's --purge-grace).
type DeleteInput struct {
	Purge bool
	Grace time.Duration `json:",omitempty"`
}

var (
	errWrongStatus = errors.New("not allowed in the connector's current status")
	errBadState    = errors.New("consent state does not match or was already used")
)

// ConnectorWorkflow is the life of one connector: wait for the tenant
// administrator's consent, verify it, back up every scope on its schedule as
// child workflows, apply retention daily, and continue-as-new before history
// grows large.
func ConnectorWorkflow(ctx workflow.Context, in ConnectorInput) error {
	c := &connectorRun{}
	if err := c.setup(ctx, in); err != nil {
		return err
	}
	return c.run(ctx)
}

type connectorRun struct {
	s       *ConnectorState
	wake    bool // a handler or a child changed something the loop must see
	running int  // children in flight in this run
	purging bool // the purge's grace is over: it can no longer be cancelled
	logger  log.Logger
}

func (c *connectorRun) setup(ctx workflow.Context, in ConnectorInput) error {
	c.logger = workflow.GetLogger(ctx)
	if in.State != nil {
		c.s = in.State
	} else {
		c.s = &ConnectorState{
			ConnectorID:      in.ConnectorID,
			Config:           in.Config,
			Status:           connector.StatusAwaitingConsent,
			CreatedBy:        in.CreatedBy,
			CreatedAt:        workflow.Now(ctx),
			ConsentStateHash: in.ConsentStateHash,
			ConsentDeadline:  in.ConsentDeadline,
			Scopes:           map[connector.Scope]*ScopeState{},
		}
		if in.Consent != nil {
			c.s.TenantID, c.s.Admin = in.Consent.TenantID, &Admin{ObjectID: in.Consent.AdminObjectID, UPN: in.Consent.AdminUPN}
			c.s.Status = connector.StatusVerifying
		}
	}
	// Runs that were in flight when the previous run continued as new
	// cannot be: the loop only continues with no child running.
	if err := workflow.SetQueryHandler(ctx, QueryStatus, func() (ConnectorState, error) { return *c.s, nil }); err != nil {
		return err
	}
	handlers := []struct {
		name     string
		handler  any
		validate any
	}{
		{UpdateConsent, c.onConsent, c.validateConsent},
		{UpdateRenewConsent, c.onRenewConsent, c.validateRenewConsent},
		{UpdateConfig, c.onConfig, c.validateConfig},
		{UpdateRunNow, c.onRunNow, c.validateRunNow},
		{UpdateVerify, c.onVerify, c.validateVerify},
		{UpdateRequestRestoreConsent, c.onRequestRestoreConsent, c.validateRequestRestoreConsent},
		{UpdateRestoreConsent, c.onRestoreConsent, c.validateRestoreConsent},
		{UpdateDelete, c.onDelete, c.validateDelete},
		{UpdateCancelPurge, c.onCancelPurge, c.validateCancelPurge},
	}
	for _, h := range handlers {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, h.name, h.handler, workflow.UpdateHandlerOptions{Validator: h.validate}); err != nil {
			return err
		}
	}
	workflow.Go(ctx, func(ctx workflow.Context) { c.listenSignals(ctx) })
	return c.publish(ctx)
}

// publish makes the connector findable and readable in the Temporal UI
// and by the API's list: search attributes, memo and current details.
func (c *connectorRun) publish(ctx workflow.Context) error {
	s := c.s
	tenant := s.TenantID
	if tenant == "" {
		tenant = s.Config.Tenant
	}
	if err := workflow.UpsertTypedSearchAttributes(ctx,
		ConnectorIDKey.ValueSet(s.ConnectorID),
		TenantIDKey.ValueSet(tenant),
		ConnectorStatusKey.ValueSet(string(s.Status)),
	); err != nil {
		return err
	}
	if err := workflow.UpsertMemo(ctx, map[string]interface{}{
		MemoSummary: ConnectorSummary{Name: s.Config.Name, Tenant: s.Config.Tenant, TenantID: s.TenantID, Kind: s.Config.Kind, Status: s.Status, Access: s.Config.Access, CreatedAt: s.CreatedAt},
	}); err != nil {
		return err
	}
	workflow.SetCurrentDetails(ctx, c.details())
	return nil
}

// MemoSummary is the memo key the API lists connectors by, without a query
// to every workflow.
const MemoSummary = "connector"

// ConnectorSummary is the memo: enough to list and filter connectors.
type ConnectorSummary struct {
	Name      string           `json:"name"`
	Tenant    string           `json:"tenant"`
	TenantID  string           `json:"tenant_id,omitempty"`
	Kind      connector.Kind   `json:"kind"`
	Status    connector.Status `json:"status"`
	Access    []string         `json:"access,omitempty"`
	CreatedAt time.Time        `json:"created_at"`
}

func (c *connectorRun) details() string {
	s := c.s
	md := fmt.Sprintf("**%s** · tenant `%s` · %s\n\nStatus: **%s**\n", s.Config.Name, s.Config.Tenant, s.Config.Kind, s.Status)
	if s.LastError != "" {
		md += "\nLast error: " + s.LastError + "\n"
	}
	if len(s.Scopes) > 0 {
		md += "\n| scope | last run | status | next run |\n|---|---|---|---|\n"
		for _, sc := range s.Config.Scopes.Enabled() {
			st := s.Scopes[sc]
			if st == nil {
				continue
			}
			md += fmt.Sprintf("| %s | %s | %s | %s |\n", sc, fmtTime(st.LastStart), st.LastStatus, fmtTime(st.NextRun))
		}
	}
	return md
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func (c *connectorRun) setStatus(ctx workflow.Context, st connector.Status) {
	if c.s.Status == st {
		return
	}
	c.logger.Info("connector status", "from", c.s.Status, "to", st)
	c.s.Status = st
	c.wake = true
	_ = c.publish(ctx)
}

func (c *connectorRun) run(ctx workflow.Context) error {
	for {
		c.wake = false
		switch c.s.Status {
		case connector.StatusAwaitingConsent:
			if err := c.awaitConsent(ctx); err != nil {
				return err
			}
		case connector.StatusVerifying:
			c.verify(ctx)
		case connector.StatusActive:
			if err := c.active(ctx); err != nil {
				return err
			}
		case connector.StatusDeleted:
			return c.finish(ctx)
		default: // expired, failed or paused: wait for an operator
			if err := workflow.Await(ctx, func() bool { return c.wake }); err != nil {
				return err
			}
		}
		if c.shouldContinueAsNew(ctx) {
			return c.continueAsNew(ctx)
		}
	}
}

func (c *connectorRun) awaitConsent(ctx workflow.Context) error {
	wait := c.s.ConsentDeadline.Sub(workflow.Now(ctx))
	if wait <= 0 {
		c.s.LastError = "the sign-in link expired before the administrator accepted"
		c.setStatus(ctx, connector.StatusConsentExpired)
		return nil
	}
	ok, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return c.wake })
	if err != nil {
		return err
	}
	if !ok && c.s.Status == connector.StatusAwaitingConsent {
		c.s.LastError = "the sign-in link expired before the administrator accepted"
		c.setStatus(ctx, connector.StatusConsentExpired)
	}
	return nil
}

func (c *connectorRun) verify(ctx workflow.Context) {
	c.s.VerifyRequested = false
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 5 * time.Minute,
		RetryPolicy:         verifyRetry,
		Summary:             "verify consent and permissions",
	})
	var report activities.VerifyReport
	in := activities.VerifyInput{
		ConnectorID: c.s.ConnectorID, TenantID: c.s.TenantID, ConfigTenant: c.s.Config.Tenant,
		Kind: c.s.Config.Kind, Scopes: c.s.Config.Scopes,
	}
	if c.s.Admin != nil {
		in.AdminObjectID, in.AdminUPN = c.s.Admin.ObjectID, c.s.Admin.UPN
	}
	err := workflow.ExecuteActivity(actx, (*activities.Verifier).VerifyConnector, in).Get(ctx, &report)
	if err != nil {
		c.s.LastError = "verification could not run: " + RootMessage(err)
		c.setStatus(ctx, connector.StatusVerificationFailed)
		return
	}
	c.s.Report = &report
	if !report.OK {
		c.s.LastError = "verification failed: " + failedChecks(report)
		c.setStatus(ctx, connector.StatusVerificationFailed)
		return
	}
	c.s.LastError = ""
	now := workflow.Now(ctx)
	for _, sc := range c.s.Config.Scopes.Enabled() {
		st := c.scope(sc)
		if st.LastRunID == "" {
			st.NextRun = now // the first backup of every scope, at once
		}
	}
	if c.s.LastRetention.IsZero() {
		c.s.LastRetention = now
	}
	c.setStatus(ctx, connector.StatusActive)
}

func failedChecks(r activities.VerifyReport) string {
	var out string
	for _, ch := range r.Checks {
		if !ch.OK {
			if out != "" {
				out += "; "
			}
			out += ch.Name
			if ch.Detail != "" {
				out += ": " + ch.Detail
			}
		}
	}
	return out
}

func (c *connectorRun) scope(sc connector.Scope) *ScopeState {
	st := c.s.Scopes[sc]
	if st == nil {
		st = &ScopeState{}
		c.s.Scopes[sc] = st
	}
	return st
}

// active starts every due backup and the daily retention, then sleeps
// until the next due time or until something changes.
func (c *connectorRun) active(ctx workflow.Context) error {
	if c.s.VerifyRequested {
		c.setStatus(ctx, connector.StatusVerifying)
		return nil
	}
	now := workflow.Now(ctx)
	interval := c.s.Config.IntervalDuration()
	for _, sc := range c.s.Config.Scopes.Enabled() {
		st := c.scope(sc)
		if st.Running != "" {
			continue
		}
		trigger := ""
		switch {
		case st.LastRunID == "":
			trigger = "first"
		case !st.NextRun.After(now):
			trigger = "schedule"
		}
		if trigger != "" {
			c.startBackup(ctx, sc, trigger)
		}
	}
	if now.Sub(c.s.LastRetention) >= retentionInterval {
		c.s.LastRetention = now
		c.startRetention(ctx)
	}
	next := now.Add(interval)
	for _, sc := range c.s.Config.Scopes.Enabled() {
		if st := c.scope(sc); st.Running == "" && st.NextRun.Before(next) {
			next = st.NextRun
		}
	}
	if r := c.s.LastRetention.Add(retentionInterval); r.Before(next) {
		next = r
	}
	_ = c.publish(ctx)
	wait := next.Sub(now)
	if wait < time.Second {
		wait = time.Second
	}
	_, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return c.wake })
	return err
}

// startBackup runs one scope backup as a child workflow: its own history
// (paging heartbeats do not grow the connector's), visible, resettable and
// retryable on its own in the Temporal UI.
func (c *connectorRun) startBackup(ctx workflow.Context, sc connector.Scope, trigger string) string {
	s := c.s
	now := workflow.Now(ctx)
	s.RunSeq++
	runID := fmt.Sprintf("%s-%s-%d", sc, now.UTC().Format("20060102T150405Z"), s.RunSeq)
	wfID := fmt.Sprintf("%s/backup/%s", ConnectorWorkflowID(s.ConnectorID), runID)
	in := activities.BackupInput{
		ConnectorID: s.ConnectorID, TenantID: s.TenantID, RunID: runID, Scope: sc,
		Scopes: s.Config.Scopes, Time: now, FullResyncEvery: s.Config.FullResyncDuration(),
	}
	st := c.scope(sc)
	if sc.IsActivityLog() && st.LastSnapshot == "" {
		in.LogSince = now.Add(-s.Config.LogSpanDuration())
	}
	st.Running = runID
	st.LastRunID = runID
	st.LastStart = now
	st.NextRun = now.Add(s.Config.IntervalDuration())
	rec := RunRecord{RunID: runID, WorkflowID: wfID, Scope: sc, Trigger: trigger, Start: now, Status: "running"}
	c.addRun(rec)
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:    wfID,
		StaticSummary: fmt.Sprintf("Back up %s of %s (%s)", sc, s.Config.Name, trigger),
		TypedSearchAttributes: searchAttributes(
			ConnectorIDKey.ValueSet(s.ConnectorID), TenantIDKey.ValueSet(s.TenantID), ScopeKey.ValueSet(string(sc))),
	})
	c.running++
	fut := workflow.ExecuteChildWorkflow(cctx, ScopeBackupWorkflow, in)
	workflow.Go(ctx, func(ctx workflow.Context) {
		var res activities.BackupResult
		err := fut.Get(ctx, &res)
		c.running--
		c.finishRun(ctx, sc, runID, res, err)
	})
	return runID
}

func (c *connectorRun) finishRun(ctx workflow.Context, sc connector.Scope, runID string, res activities.BackupResult, err error) {
	now := workflow.Now(ctx)
	st := c.scope(sc)
	if st.Running == runID {
		st.Running = ""
	}
	st.LastEnd = now
	for i := range c.s.Runs {
		r := &c.s.Runs[i]
		if r.RunID != runID {
			continue
		}
		r.End = now
		if err != nil {
			r.Status = "failed"
			r.Error = RootMessage(err)
		} else {
			r.Status = "succeeded"
			r.Result = &res
		}
	}
	if err != nil {
		st.LastStatus = "failed"
		c.s.LastError = fmt.Sprintf("%s backup %s failed: %s", sc, runID, RootMessage(err))
		c.needConsentAfter(ctx, err)
	} else {
		st.LastStatus = "succeeded"
		st.LastSnapshot = res.SnapshotID
	}
	c.wake = true
	if st.Again && st.Running == "" {
		st.Again = false
		c.startBackup(ctx, sc, "manual")
	}
	_ = c.publish(ctx)
}

func (c *connectorRun) addRun(r RunRecord) {
	c.s.Runs = append(c.s.Runs, r)
	if n := len(c.s.Runs); n > maxRunsKept {
		// Drop the oldest finished runs; a running one is never dropped.
		keep := c.s.Runs[:0]
		drop := n - maxRunsKept
		for _, old := range c.s.Runs {
			if drop > 0 && old.Status != "running" {
				drop--
				continue
			}
			keep = append(keep, old)
		}
		c.s.Runs = keep
	}
}

func (c *connectorRun) startRetention(ctx workflow.Context) {
	s := c.s
	now := workflow.Now(ctx)
	in := activities.RetentionInput{ConnectorID: s.ConnectorID, Scopes: s.Config.Scopes.Enabled(), Policy: s.Config.Retention, Now: now}
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:            fmt.Sprintf("%s/retention/%s", ConnectorWorkflowID(s.ConnectorID), now.UTC().Format("20060102T150405Z")),
		StaticSummary:         "Retention cleanup of " + s.Config.Name,
		TypedSearchAttributes: searchAttributes(ConnectorIDKey.ValueSet(s.ConnectorID), TenantIDKey.ValueSet(s.TenantID)),
	})
	c.running++
	fut := workflow.ExecuteChildWorkflow(cctx, RetentionWorkflow, in)
	workflow.Go(ctx, func(ctx workflow.Context) {
		var res activities.RetentionResult
		if err := fut.Get(ctx, &res); err != nil {
			c.s.LastError = "retention cleanup failed: " + RootMessage(err)
		}
		c.running--
		c.wake = true
	})
}

func (c *connectorRun) shouldContinueAsNew(ctx workflow.Context) bool {
	info := workflow.GetInfo(ctx)
	return c.running == 0 && (info.GetContinueAsNewSuggested() || info.GetCurrentHistoryLength() > continueAfterEvents)
}

func (c *connectorRun) continueAsNew(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) }); err != nil {
		return err
	}
	return workflow.NewContinueAsNewError(ctx, ConnectorWorkflow, ConnectorInput{ConnectorID: c.s.ConnectorID, State: c.s})
}

// finish ends a deleted connector once its runs are over, purging its
// snapshots when asked; otherwise they stay under retention. Histories
// from before the purge grace purge at once.
func (c *connectorRun) finish(ctx workflow.Context) error {
	if workflow.GetVersion(ctx, purgeGraceChange, workflow.DefaultVersion, 1) != workflow.DefaultVersion {
		return c.finishAfterGrace(ctx)
	}
	if err := workflow.Await(ctx, func() bool { return c.running == 0 }); err != nil {
		return err
	}
	if c.s.Purge {
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: time.Hour, HeartbeatTimeout: time.Minute, RetryPolicy: storageRetry, Summary: "purge snapshots",
		})
		if err := workflow.ExecuteActivity(actx, (*activities.Retention).PurgeConnector, activities.PurgeInput{ConnectorID: c.s.ConnectorID}).Get(ctx, nil); err != nil {
			return err
		}
	}
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

// listenSignals serves the operator signals the Temporal UI can send.
func (c *connectorRun) listenSignals(ctx workflow.Context) {
	pause := workflow.GetSignalChannel(ctx, SignalPause)
	resume := workflow.GetSignalChannel(ctx, SignalResume)
	runNow := workflow.GetSignalChannel(ctx, SignalRunNow)
	finished := workflow.GetSignalChannel(ctx, SignalBackupFinished)
	for {
		sel := workflow.NewSelector(ctx)
		sel.AddReceive(pause, func(ch workflow.ReceiveChannel, _ bool) {
			var reason string
			ch.Receive(ctx, &reason)
			if c.s.Status == connector.StatusActive {
				c.s.PausedFrom = c.s.Status
				c.setStatus(ctx, connector.StatusPaused)
			}
		})
		sel.AddReceive(resume, func(ch workflow.ReceiveChannel, _ bool) {
			ch.Receive(ctx, nil)
			if c.s.Status == connector.StatusPaused {
				c.setStatus(ctx, connector.StatusActive)
			}
		})
		sel.AddReceive(finished, func(ch workflow.ReceiveChannel, _ bool) {
			var in BackupFinished
			ch.Receive(ctx, &in)
			c.onBackupFinished(ctx, in)
		})
		sel.AddReceive(runNow, func(ch workflow.ReceiveChannel, _ bool) {
			var in RunNowInput
			ch.Receive(ctx, &in)
			if c.validateRunNow(ctx, in) == nil {
				c.runNow(ctx, in)
			}
		})
		sel.Select(ctx)
	}
}

// --- updates: validators run before anything is written to history ---

func (c *connectorRun) validateConsent(_ workflow.Context, in ConsentResult) error {
	if c.s.Status != connector.StatusAwaitingConsent {
		return fmt.Errorf("consent: %w (%s)", errWrongStatus, c.s.Status)
	}
	if c.s.ConsentStateHash == "" || subtle.ConstantTimeCompare([]byte(in.StateHash), []byte(c.s.ConsentStateHash)) != 1 {
		return errBadState
	}
	if in.Error == "" && (in.TenantID == "" || in.AdminObjectID == "") {
		return errors.New("consent: tenant and administrator are required")
	}
	return nil
}

func (c *connectorRun) onConsent(ctx workflow.Context, in ConsentResult) (connector.Status, error) {
	c.s.ConsentStateHash = "" // single use
	if in.Error != "" {
		c.s.LastError = fmt.Sprintf("consent failed: %s: %s", in.Error, in.ErrorDescription)
		c.setStatus(ctx, connector.StatusConsentFailed)
		return c.s.Status, nil
	}
	c.s.TenantID = in.TenantID
	c.s.Admin = &Admin{ObjectID: in.AdminObjectID, UPN: in.AdminUPN}
	c.s.LastError = ""
	c.setStatus(ctx, connector.StatusVerifying)
	return c.s.Status, nil
}

func (c *connectorRun) validateRenewConsent(_ workflow.Context, in RenewConsentInput) error {
	switch c.s.Status {
	case connector.StatusAwaitingConsent, connector.StatusConsentExpired, connector.StatusConsentFailed, connector.StatusVerificationFailed,
		connector.StatusNeedsConsent:
	default:
		return fmt.Errorf("renew consent: %w (%s)", errWrongStatus, c.s.Status)
	}
	if len(in.StateHash) != 64 {
		return errors.New("renew consent: state hash required")
	}
	return nil
}

func (c *connectorRun) onRenewConsent(ctx workflow.Context, in RenewConsentInput) error {
	c.s.ConsentStateHash = in.StateHash
	c.s.ConsentDeadline = in.Deadline
	c.s.Status = "" // force a publish with the new status
	c.setStatus(ctx, connector.StatusAwaitingConsent)
	return nil
}

func (c *connectorRun) validateConfig(_ workflow.Context, cfg connector.Config) error {
	if c.s.Status == connector.StatusDeleted {
		return fmt.Errorf("update: %w (%s)", errWrongStatus, c.s.Status)
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	if cfg.Tenant != c.s.Config.Tenant || cfg.Kind != c.s.Config.Kind {
		return errors.New("tenant and kind cannot change: create a new connector")
	}
	return nil
}

func (c *connectorRun) onConfig(ctx workflow.Context, cfg connector.Config) (connector.Config, error) {
	old := c.s.Config
	c.s.Config = cfg
	if cfg.Schedule.Interval != old.Schedule.Interval {
		// Re-plan every scope from its last run under the new interval.
		for _, sc := range cfg.Scopes.Enabled() {
			if st := c.scope(sc); !st.LastStart.IsZero() {
				st.NextRun = st.LastStart.Add(cfg.IntervalDuration())
			}
		}
	}
	c.wake = true
	_ = c.publish(ctx)
	return cfg, nil
}

func (c *connectorRun) validateRunNow(_ workflow.Context, in RunNowInput) error {
	if c.s.Status != connector.StatusActive {
		return fmt.Errorf("run now: %w (%s)", errWrongStatus, c.s.Status)
	}
	if in.Scope != "" && !slices.Contains(c.s.Config.Scopes.Enabled(), in.Scope) {
		return fmt.Errorf("run now: scope %q is not enabled on this connector", in.Scope)
	}
	return nil
}

// RunNowResult names the runs started, or already running, per scope.
type RunNowResult struct {
	RunIDs map[connector.Scope]string `json:"run_ids"`
	// Queued scopes were running: another backup starts when that run ends.
	Queued []connector.Scope `json:"queued,omitempty"`
}

func (c *connectorRun) onRunNow(ctx workflow.Context, in RunNowInput) (RunNowResult, error) {
	return c.runNow(ctx, in), nil
}

func (c *connectorRun) runNow(ctx workflow.Context, in RunNowInput) RunNowResult {
	res := RunNowResult{RunIDs: map[connector.Scope]string{}}
	for _, sc := range c.s.Config.Scopes.Enabled() {
		if in.Scope != "" && in.Scope != sc {
			continue
		}
		if st := c.scope(sc); st.Running != "" {
			res.RunIDs[sc] = st.Running
			if workflow.GetVersion(ctx, "run-now-again", workflow.DefaultVersion, 1) == 1 {
				st.Again = true
				res.Queued = append(res.Queued, sc)
			}
			continue
		}
		res.RunIDs[sc] = c.startBackup(ctx, sc, "manual")
	}
	c.wake = true
	return res
}

func (c *connectorRun) validateVerify(_ workflow.Context) error {
	switch c.s.Status {
	case connector.StatusActive, connector.StatusVerificationFailed, connector.StatusPaused:
		return nil
	}
	return fmt.Errorf("verify: %w (%s)", errWrongStatus, c.s.Status)
}

func (c *connectorRun) onVerify(ctx workflow.Context) error {
	if c.s.Status == connector.StatusVerificationFailed || c.s.Status == connector.StatusPaused {
		c.setStatus(ctx, connector.StatusVerifying)
		return nil
	}
	c.s.VerifyRequested = true
	c.wake = true
	return nil
}

// validateDelete accepts a delete of a live connector, and a purge asked
// again of a deleted one whose purge was cancelled.
func (c *connectorRun) validateDelete(_ workflow.Context, in DeleteInput) error {
	if in.Grace < 0 {
		return errors.New("delete: negative purge grace")
	}
	if c.s.Status == connector.StatusDeleted && !(in.Purge && c.s.PurgeCancelled && !c.s.Purge) {
		return fmt.Errorf("delete: %w (%s)", errWrongStatus, c.s.Status)
	}
	return nil
}

func (c *connectorRun) onDelete(ctx workflow.Context, in DeleteInput) (DeleteResult, error) {
	c.s.Purge = in.Purge
	if in.Purge {
		c.s.PurgeAt, c.s.PurgeCancelled = workflow.Now(ctx).Add(in.Grace), false
	}
	c.setStatus(ctx, connector.StatusDeleted)
	return DeleteResult{PurgeAt: c.s.PurgeAt}, nil
}
