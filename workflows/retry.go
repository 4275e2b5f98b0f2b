package workflows

import (
	"errors"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
)

// Operators retry a failed backup from the Temporal UI with Reset: a new
// run of the backup workflow, which the connector did not start and does
// not wait for. The backup workflow reports its success to the connector
// with this signal, so the connector's runs show the retried run.
const SignalBackupFinished = "backup-finished"

// BackupFinished is a backup's result, reported by the backup workflow.
type BackupFinished struct {
	RunID  string
	Scope  connector.Scope
	Result activities.BackupResult
}

// reportToConnector signals the connector that started this backup.
func reportToConnector(ctx workflow.Context, in activities.BackupInput, res activities.BackupResult) {
	if workflow.GetVersion(ctx, "report-to-connector", workflow.DefaultVersion, 1) != 1 {
		return
	}
	parent := workflow.GetInfo(ctx).ParentWorkflowExecution
	if parent == nil || parent.ID != ConnectorWorkflowID(in.ConnectorID) {
		return // a live read for a diff or a restore
	}
	_ = workflow.SignalExternalWorkflow(ctx, parent.ID, "", SignalBackupFinished,
		BackupFinished{RunID: in.RunID, Scope: in.Scope, Result: res}).Get(ctx, nil)
}

// onBackupFinished records a backup that succeeded, after its first run
// failed and an operator retried it, or as the backup's own report.
func (c *connectorRun) onBackupFinished(ctx workflow.Context, in BackupFinished) {
	for i := range c.s.Runs {
		r := &c.s.Runs[i]
		if r.RunID != in.RunID || r.Status == "succeeded" {
			continue
		}
		if r.Status == "running" {
			return // the child's completion records it
		}
		r.Status, r.Error, r.End, r.Result = "succeeded", "", workflow.Now(ctx), &in.Result
		if st := c.scope(in.Scope); st.LastRunID == in.RunID {
			st.LastStatus, st.LastSnapshot = "succeeded", in.Result.SnapshotID
		}
		c.s.LastError = ""
		c.wake = true
		_ = c.publish(ctx)
	}
}

// needConsentAfter: a backup refused for good because the tenant no longer
// grants the permissions moves the connector to needs_consent, with the
// reason, instead of staying active with failing runs.
func (c *connectorRun) needConsentAfter(ctx workflow.Context, err error) {
	var app *temporal.ApplicationError
	if !errors.As(err, &app) || app.Type() != activities.ErrTypeForbidden || c.s.Status != connector.StatusActive {
		return
	}
	if workflow.GetVersion(ctx, "needs-consent", workflow.DefaultVersion, 1) != 1 {
		return
	}
	c.s.LastError = fmt.Sprintf("the tenant no longer grants the backup permissions (%s): an administrator must consent again (POST /connectors/%s/consent)",
		app.Error(), c.s.ConnectorID)
	c.setStatus(ctx, connector.StatusNeedsConsent)
}
