package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/entravault/entravault/activities"
)

// DirectorySearchWorkflow runs one directory search for the API on a
// worker (which holds the Graph credentials): the configure page picks
// groups and units from the tenant before its connector exists. Its
// result is a few names, small enough for history.
func DirectorySearchWorkflow(ctx workflow.Context, in activities.DirectorySearchInput) ([]activities.DirectoryObject, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 20 * time.Second,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3, NonRetryableErrorTypes: []string{activities.ErrTypeBadInput, activities.ErrTypeForbidden}},
		Summary:             "search " + in.Type,
	})
	var out []activities.DirectoryObject
	err := workflow.ExecuteActivity(ctx, (*activities.Directory).SearchDirectory, in).Get(ctx, &out)
	return out, err
}
