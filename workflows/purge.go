package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/workflow"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
)

// A purge destroys a connector's backup history, so it is scheduled, not
// done: it runs at PurgeAt, the delete's time plus the API's
// --purge-grace, and until then an admin can cancel it (issue 15 item 8:
// a stolen key must not erase the backups it would be restored from).

// UpdateCancelPurge cancels a pending purge; the connector stays deleted
// and its snapshots stay.
const UpdateCancelPurge = "cancel-purge"

// purgeGraceChange versions finish: histories from before it purge at
// once, without the grace.
const purgeGraceChange = "purge-grace"

// DeleteResult answers the delete update: when the purge will run.
type DeleteResult struct {
	PurgeAt time.Time `json:"purge_at,omitzero"`
}

// finishAfterGrace ends a deleted connector once its runs are over. A
// purge waits for PurgeAt (a timer re-armed from the state after
// continue-as-new), then removes every snapshot. A cancelled purge keeps
// the workflow open, deleted, so that an admin can ask for it again;
// without a purge the snapshots stay under retention and the workflow ends.
func (c *connectorRun) finishAfterGrace(ctx workflow.Context) error {
	if err := workflow.Await(ctx, func() bool { return c.running == 0 }); err != nil {
		return err
	}
	for c.s.Purge || c.s.PurgeCancelled {
		if c.shouldContinueAsNew(ctx) {
			return c.continueAsNew(ctx)
		}
		if !c.s.Purge { // cancelled: wait until a purge is asked again
			if err := workflow.Await(ctx, func() bool { return c.s.Purge }); err != nil {
				return err
			}
			continue
		}
		if wait := c.s.PurgeAt.Sub(workflow.Now(ctx)); wait > 0 {
			if _, err := workflow.AwaitWithTimeout(ctx, wait, func() bool { return !c.s.Purge }); err != nil {
				return err
			}
			continue
		}
		c.purging = true
		actx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			StartToCloseTimeout: time.Hour, HeartbeatTimeout: time.Minute, RetryPolicy: storageRetry, Summary: "purge snapshots",
		})
		if err := workflow.ExecuteActivity(actx, (*activities.Retention).PurgeConnector, activities.PurgeInput{ConnectorID: c.s.ConnectorID}).Get(ctx, nil); err != nil {
			return err
		}
		break
	}
	return workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) })
}

func (c *connectorRun) validateCancelPurge(_ workflow.Context) error {
	if c.s.Status != connector.StatusDeleted || !c.s.Purge || c.purging {
		return fmt.Errorf("cancel purge: %w: no purge is pending", errWrongStatus)
	}
	return nil
}

func (c *connectorRun) onCancelPurge(_ workflow.Context) error {
	c.s.Purge, c.s.PurgeCancelled = false, true
	return nil
}
