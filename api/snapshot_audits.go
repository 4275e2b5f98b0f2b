package api

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"go.temporal.io/api/serviceerror"

	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/workflows"
)

// AuditRef is a directory audit record that targets an object of a diff:
// who changed what, and when.
type AuditRef struct {
	ID          string    `json:"id"`
	Time        time.Time `json:"time"`
	Activity    string    `json:"activity"`
	Result      string    `json:"result,omitempty"`
	InitiatedBy string    `json:"initiated_by,omitempty"`
	// Properties are the modified properties the record names.
	Properties []string `json:"properties,omitempty"`
}

// auditLog indexes a directory audit snapshot by target object id, each
// list in time order.
type auditLog struct {
	byTarget map[string][]AuditRef
}

var auditLogs = &snapCache[*auditLog]{max: 2, build: buildAuditLog}

// directoryAudit is the part of a Graph directoryAudit the diff shows.
type directoryAudit struct {
	ID                  string    `json:"id"`
	ActivityDisplayName string    `json:"activityDisplayName"`
	ActivityDateTime    time.Time `json:"activityDateTime"`
	Result              string    `json:"result"`
	InitiatedBy         struct {
		User *struct {
			UserPrincipalName string `json:"userPrincipalName"`
			DisplayName       string `json:"displayName"`
			ID                string `json:"id"`
		} `json:"user"`
		App *struct {
			DisplayName        string `json:"displayName"`
			ServicePrincipalID string `json:"servicePrincipalId"`
		} `json:"app"`
	} `json:"initiatedBy"`
	TargetResources []struct {
		ID                 string `json:"id"`
		ModifiedProperties []struct {
			DisplayName string `json:"displayName"`
		} `json:"modifiedProperties"`
	} `json:"targetResources"`
}

func (a directoryAudit) initiator() string {
	switch {
	case a.InitiatedBy.User != nil:
		for _, s := range []string{a.InitiatedBy.User.UserPrincipalName, a.InitiatedBy.User.DisplayName, a.InitiatedBy.User.ID} {
			if s != "" {
				return s
			}
		}
	case a.InitiatedBy.App != nil:
		if a.InitiatedBy.App.DisplayName != "" {
			return a.InitiatedBy.App.DisplayName
		}
		return a.InitiatedBy.App.ServicePrincipalID
	}
	return ""
}

func buildAuditLog(ctx context.Context, repo *repository.Repository, snap repository.SnapshotID) (*auditLog, error) {
	l := &auditLog{byTarget: map[string][]AuditRef{}}
	err := repo.ScanStored(ctx, snap, "directoryAudit", func(_, _ string, raw []byte) error {
		var a directoryAudit
		if json.Unmarshal(raw, &a) != nil {
			return nil // a record we cannot read names no target
		}
		for _, t := range a.TargetResources {
			if t.ID == "" {
				continue
			}
			ref := AuditRef{ID: a.ID, Time: a.ActivityDateTime.UTC(), Activity: a.ActivityDisplayName, Result: a.Result, InitiatedBy: a.initiator()}
			for _, p := range t.ModifiedProperties {
				ref.Properties = append(ref.Properties, p.DisplayName)
			}
			l.byTarget[t.ID] = append(l.byTarget[t.ID], ref)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, refs := range l.byTarget {
		slices.SortFunc(refs, func(a, b AuditRef) int { return a.Time.Compare(b.Time) })
	}
	return l, nil
}

// in returns the records targeting id with from < time <= to.
func (l *auditLog) in(id string, from, to time.Time) []AuditRef {
	var out []AuditRef
	for _, r := range l.byTarget[id] {
		if r.Time.After(from) && !r.Time.After(to) {
			out = append(out, r)
		}
	}
	return out
}

// auditsFor finds the directory audits to attach to a diff: from the
// connector named by ?audits= (an activity-log connector of the same
// tenant the caller may see), else from the connector itself. It answers
// nil when there are none to use.
func (s *snapshotService) auditsFor(ctx context.Context, connectorID, named string) (*auditLog, error) {
	source := connectorID
	if named != "" && named != connectorID {
		if s.canReadOther == nil {
			return nil, apiError(http.StatusNotFound, "not_found", "audit connector not found", nil)
		}
		if err := s.canReadOther(ctx, named); err != nil {
			return nil, err
		}
		source = named
	}
	latest, err := s.repo.Latest(ctx, source, string(connector.ScopeDirectoryAudits))
	if errors.Is(err, repository.ErrNotFound) {
		if named != "" {
			return nil, apiError(http.StatusBadRequest, "no_audits", "that connector has no directory audit snapshot", nil)
		}
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return auditLogs.get(ctx, s.repo, latest.ID)
}

// canReadOther checks a second connector named in a request: the caller
// must see it and it must back up the same tenant; otherwise it does not
// exist as far as the caller can tell.
func (h *handlers) canReadOther(c echo.Context, sum workflows.ConnectorSummary) func(ctx context.Context, id string) error {
	return func(ctx context.Context, id string) error {
		notFound := apiError(http.StatusNotFound, "not_found", "audit connector not found", nil)
		if !validID(id) {
			return notFound
		}
		desc, err := h.Temporal.DescribeWorkflowExecution(ctx, workflows.ConnectorWorkflowID(id), "")
		var nf *serviceerror.NotFound
		if errors.As(err, &nf) {
			return notFound
		}
		if err != nil {
			return err
		}
		other, err := decodeSummary(desc.GetWorkflowExecutionInfo().GetMemo())
		if err != nil {
			return err
		}
		if !auth.CanSee(principal(c), other.Access) || !sameTenant(sum, other) {
			return notFound
		}
		return nil
	}
}

func sameTenant(a, b workflows.ConnectorSummary) bool {
	if a.TenantID != "" && b.TenantID != "" {
		return strings.EqualFold(a.TenantID, b.TenantID)
	}
	return strings.EqualFold(a.Tenant, b.Tenant)
}
