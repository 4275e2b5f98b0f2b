package api

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/sdk/client"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/workflows"
)

// Before Create, the configure page lets the operator pick groups and
// units by name from the tenant the administrator just consented. The
// consent grant is the proof: only its holder may search, only in its
// tenant, only while it is valid. The search runs on a worker, which holds
// the Graph credentials; the API never reads Graph itself.

// DirectorySearchRequest is POST /consent/directory-search.
type DirectorySearchRequest struct {
	ConsentGrant string `json:"consent_grant"`
	Type         string `json:"type"` // group or administrativeUnit
	Query        string `json:"q"`
}

// DirectorySearchResponse answers it.
type DirectorySearchResponse struct {
	Results []activities.DirectoryObject `json:"results"`
}

// directorySearchTimeout bounds the wait for a worker's answer.
const directorySearchTimeout = 30 * time.Second

func init() {
	paths := openAPI["paths"].(map[string]any)
	paths["/api/v1/consent/directory-search"] = map[string]any{"post": op(
		`Before create: {"consent_grant", "type": "group" | "administrativeUnit", "q": name prefix} → 200 {"results": [{id, display_name, mail}]}, `+
			fmt.Sprintf("at most %d, read live from the grant's tenant on a worker", activities.DirectorySearchLimit), true)}
}

func (h *handlers) directorySearch(c echo.Context) error {
	var req DirectorySearchRequest
	if err := decodeStrict(c, &req); err != nil {
		return err
	}
	if req.Type != "group" && req.Type != "administrativeUnit" {
		return apiError(http.StatusBadRequest, "bad_request", `type must be "group" or "administrativeUnit"`, nil)
	}
	if len(req.Query) > 120 {
		return apiError(http.StatusBadRequest, "bad_request", "q is longer than 120 characters", nil)
	}
	g, err := h.openGrant(principal(c), req.ConsentGrant)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), directorySearchTimeout)
	defer cancel()
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	run, err := h.Temporal.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: "directory-search/" + hex.EncodeToString(b), TaskQueue: h.TaskQueue, WorkflowExecutionTimeout: directorySearchTimeout,
		StaticSummary: "Search " + req.Type + " in tenant " + g.TenantID,
	}, workflows.DirectorySearchWorkflow, activities.DirectorySearchInput{TenantID: g.TenantID, Type: req.Type, Query: req.Query})
	if err != nil {
		return fmt.Errorf("start directory search: %w", err)
	}
	res := DirectorySearchResponse{Results: []activities.DirectoryObject{}}
	if err := run.Get(ctx, &res.Results); err != nil {
		return apiError(http.StatusBadGateway, "search_failed", "the tenant could not be searched: "+workflows.RootMessage(err), nil)
	}
	return c.JSON(http.StatusOK, res)
}
