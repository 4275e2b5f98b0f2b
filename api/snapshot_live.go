package api

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/workflows"
)

// readLive reads one scope of the tenant as it is now, by running the scope
// backup workflow (the API itself never talks to Graph) into a full
// snapshot of the connector's live namespace, and returns it; its id is
// in the diff's "to", for paging.
func (h *handlers) readLive(ctx context.Context, connectorID string, scope connector.Scope) (repository.SnapshotID, error) {
	st, err := h.queryState(ctx, connectorID)
	if err != nil {
		return "", err
	}
	if st.Status != connector.StatusActive {
		return "", apiError(http.StatusConflict, "wrong_status", "the connector is "+string(st.Status)+": the tenant cannot be read", nil)
	}
	// A GET stays a read: the API never prunes; the worker's daily
	// retention keeps the newest live read per scope. How often a caller
	// may read the tenant live is bounded in heavy.go.
	now := h.Now().UTC()
	runID := fmt.Sprintf("live-%s-%d", scope, now.UnixNano())
	run, err := h.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:            fmt.Sprintf("%s/live/%s", workflows.ConnectorWorkflowID(connectorID), runID),
		TaskQueue:     h.TaskQueue,
		StaticSummary: fmt.Sprintf("Read %s of %s live for a diff", scope, st.Config.Name),
	}, workflows.ScopeBackupWorkflow, activities.BackupInput{
		ConnectorID: connector.LiveNamespace(connectorID), TenantID: st.TenantID, RunID: runID, Scope: scope,
		Scopes: st.Config.Scopes, Time: now, ForceFull: true,
	})
	if err != nil {
		return "", fmt.Errorf("start live read: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	var res activities.BackupResult
	if err := run.Get(wctx, &res); err != nil {
		return "", apiError(http.StatusBadGateway, "live_read_failed", "reading the tenant failed: "+err.Error(), nil)
	}
	return repository.SnapshotID(res.SnapshotID), nil
}
