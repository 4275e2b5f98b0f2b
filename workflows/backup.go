package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/entravault/entravault/activities"
)

// Retry policies, one per kind of work. Non-retryable types are failures
// no retry can fix: consent revoked, a missing licence, bad configuration.
var (
	verifyRetry = &temporal.RetryPolicy{
		InitialInterval: 2 * time.Second, BackoffCoefficient: 2, MaximumInterval: time.Minute, MaximumAttempts: 5,
	}
	backupRetry = &temporal.RetryPolicy{
		InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute, MaximumAttempts: 10,
		NonRetryableErrorTypes: []string{activities.ErrTypeNotLicensed, activities.ErrTypeForbidden, activities.ErrTypeBadInput},
	}
	storageRetry = &temporal.RetryPolicy{
		InitialInterval: 5 * time.Second, BackoffCoefficient: 2, MaximumInterval: 5 * time.Minute,
	}
)

// backupHeartbeat is how soon a lost worker's backup is noticed; with the
// retry's first interval, it resumes on another worker within 30 s. The
// activity heartbeats at least every 5 s while it runs (keep-alive).
const backupHeartbeat = 20 * time.Second

// ScopeBackupWorkflow backs up one scope of one connector into one
// snapshot. The activity heartbeats its Graph cursor and the repository
// checkpoint, so a retry after a worker crash resumes where it stopped.
func ScopeBackupWorkflow(ctx workflow.Context, in activities.BackupInput) (activities.BackupResult, error) {
	heartbeat := backupHeartbeat
	if in.HeartbeatTimeout > 0 {
		heartbeat = in.HeartbeatTimeout
	}
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 6 * time.Hour,
		HeartbeatTimeout:    heartbeat,
		RetryPolicy:         backupRetry,
		Summary:             "back up " + string(in.Scope),
	})
	var res activities.BackupResult
	err := workflow.ExecuteActivity(actx, (*activities.Backup).BackupScope, in).Get(ctx, &res)
	if err == nil {
		reportToConnector(ctx, in, res)
	}
	return res, err
}

// RetentionWorkflow applies a connector's retention policy to its scopes
// through the repository's prune, which never removes the newest snapshot
// of a scope and never content a running backup is about to reference.
func RetentionWorkflow(ctx workflow.Context, in activities.RetentionInput) (activities.RetentionResult, error) {
	actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    2 * time.Minute,
		RetryPolicy:         storageRetry,
		Summary:             "apply retention",
	})
	var res activities.RetentionResult
	err := workflow.ExecuteActivity(actx, (*activities.Retention).ApplyRetention, in).Get(ctx, &res)
	return res, err
}

func searchAttributes(updates ...temporal.SearchAttributeUpdate) temporal.SearchAttributes {
	return temporal.NewSearchAttributes(updates...)
}

// RootMessage is the innermost error message: the activity's own words,
// without the layers of "activity error" wrapping.
func RootMessage(err error) string {
	for {
		var app *temporal.ApplicationError
		if errors.As(err, &app) {
			return app.Error()
		}
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}
