package activities

import (
	"context"
	"errors"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/restore"
)

// Retention applies retention policies and purges deleted connectors.
type Retention struct {
	Repo *repository.Repository
}

// ApplyRetention prunes each scope of the connector by its policy. The
// repository never removes a scope's newest snapshot; while a backup holds
// the repository, prune reports ErrLocked and the activity retries later.
func (a *Retention) ApplyRetention(ctx context.Context, in RetentionInput) (RetentionResult, error) {
	var res RetentionResult
	policy := repository.RetentionPolicy{
		KeepWithinDays: in.Policy.Days, KeepLast: in.Policy.KeepLast, KeepDaily: in.Policy.KeepDaily,
		KeepWeekly: in.Policy.KeepWeekly, KeepMonthly: in.Policy.KeepMonthly, KeepYearly: in.Policy.KeepYearly,
	}
	for _, sc := range in.Scopes {
		rep, err := a.Repo.Prune(ctx, repository.PruneOptions{Connector: in.ConnectorID, Scope: string(sc), Policy: policy})
		if err != nil {
			if errors.Is(err, repository.ErrLocked) {
				return res, temporal.NewApplicationErrorWithOptions("repository busy with a backup; retrying", "Locked",
					temporal.ApplicationErrorOptions{Cause: err})
			}
			return res, err
		}
		res.SnapshotsRemoved += len(rep.Forget)
		res.PacksRemoved += rep.PacksDeleted
		res.BytesFreed += rep.BytesFreed
		activity.RecordHeartbeat(ctx, res)
		// Live reads (diffs with the tenant, restore plans) keep only the
		// newest per scope: only workers prune.
		live, err := a.Repo.Prune(ctx, repository.PruneOptions{Connector: connector.LiveNamespace(in.ConnectorID), Scope: string(sc),
			Policy: repository.RetentionPolicy{KeepLast: 1}})
		if err != nil && !errors.Is(err, repository.ErrNotFound) {
			return res, err
		}
		res.SnapshotsRemoved += len(live.Forget)
	}
	return res, nil
}

// PurgeConnector removes every snapshot of a deleted connector.
// Its live reads and restore plans and reports go too: they hold the same
// directory data.
func (a *Retention) PurgeConnector(ctx context.Context, in PurgeInput) error {
	for _, ns := range []string{in.ConnectorID, connector.LiveNamespace(in.ConnectorID), restore.Namespace(in.ConnectorID)} {
		_, err := a.Repo.Prune(ctx, repository.PruneOptions{Connector: ns, All: true})
		if errors.Is(err, repository.ErrLocked) {
			return temporal.NewApplicationErrorWithOptions("repository busy with a backup; retrying", "Locked",
				temporal.ApplicationErrorOptions{Cause: err})
		}
		if err != nil {
			return err
		}
	}
	return nil
}
