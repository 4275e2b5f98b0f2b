package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/workflows"
)

// liveWait is how long a diff?to=live request waits for the live read
// before answering 202 with the read to poll: a request never holds a
// connection for the minutes a large tenant takes.
const liveWait = 20 * time.Second

// errReading says a live read is still running; the diff answers 202.
type errReading struct{ read string }

func (e errReading) Error() string { return "the live read " + e.read + " is still running" }

// readLive reads one scope of the tenant as it is now, by running the scope
// backup workflow on a worker (the API itself never talks to Graph, and
// never prunes: the worker's daily retention keeps the newest live read per
// scope) into a full snapshot of the connector's live namespace. With read
// set, it waits for that earlier read instead of starting one. A read that
// outlasts liveWait is an errReading naming it.
func (h *handlers) readLive(ctx context.Context, connectorID string, scope connector.Scope, read string) (repository.SnapshotID, error) {
	st, err := h.queryState(ctx, connectorID)
	if err != nil {
		return "", err
	}
	if st.Status != connector.StatusActive {
		return "", apiError(http.StatusConflict, "wrong_status", "the connector is "+string(st.Status)+": the tenant cannot be read", nil)
	}
	prefix := fmt.Sprintf("%s/live/live-%s-", workflows.ConnectorWorkflowID(connectorID), scope)
	var run client.WorkflowRun
	if read != "" {
		if !strings.HasPrefix(read, prefix) {
			return "", apiError(http.StatusBadRequest, "bad_request", "read names no live read of this connector and scope", nil)
		}
		run = h.Temporal.GetWorkflow(ctx, read, "")
	} else {
		now := h.Now().UTC()
		runID := fmt.Sprintf("live-%s-%d", scope, now.UnixNano())
		run, err = h.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
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
	}
	wctx, cancel := context.WithTimeout(ctx, liveWait)
	defer cancel()
	var res activities.BackupResult
	err = run.Get(wctx, &res)
	if err == nil {
		return repository.SnapshotID(res.SnapshotID), nil
	}
	if ctx.Err() == nil && h.stillRunning(ctx, run.GetID()) {
		return "", errReading{read: run.GetID()}
	}
	return "", apiError(http.StatusBadGateway, "live_read_failed", "reading the tenant failed: "+err.Error(), nil)
}

// stillRunning: whatever error waiting for a workflow gave (the SDK ends
// its long poll its own way), a workflow that runs is still reading.
func (h *handlers) stillRunning(ctx context.Context, workflowID string) bool {
	desc, err := h.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	return err == nil && desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING
}

// readingAnswer is the 202 of a diff whose live read still runs.
func readingAnswer(c echo.Context, e errReading) error {
	c.Response().Header().Set("Retry-After", "10")
	return c.JSON(http.StatusAccepted, map[string]string{"status": "reading", "read": e.read,
		"message": "the tenant is being read; ask again with read=" + e.read})
}
