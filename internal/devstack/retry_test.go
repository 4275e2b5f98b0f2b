package devstack

import (
	"context"
	"net/http"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/entravault/entravault/workflows"
)

// TestOperatorRetriesFailedBackup is the operator's path through the
// Temporal UI: the tenant revokes consent, a backup fails for good, the
// connector says it needs consent (not active with failing runs), the
// administrator consents again, and the operator resets the failed backup
// workflow the way the UI's Reset does; the retried run succeeds and the
// connector's runs show it.
func TestOperatorRetriesFailedBackup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	h := newHarness(t, ctx, false)
	c := h.create(directoryConnector(h.creds.TenantDomain, "retried"))
	ga := h.admin("Global Administrator")
	h.signIn(c.ConsentURL, "accept", ga.UPN)
	h.waitFor(c.ID, "a first backup", func(v connectorView) bool { return v.Scopes["users"].LastStatus == "succeeded" })

	h.stack.Simulator().RevokeConsent(h.creds.BackupApp.ClientID)
	var runNow struct {
		RunIDs map[string]string `json:"run_ids"`
	}
	if code := h.call("POST", "/api/v1/connectors/"+c.ID+"/backups", map[string]any{"scope": "users"}, &runNow); code != http.StatusAccepted {
		t.Fatalf("run now: %d", code)
	}
	failedRun := runNow.RunIDs["users"]
	v := h.waitFor(c.ID, "needs_consent", func(v connectorView) bool { return v.Status == "needs_consent" })
	if v.LastError == "" {
		t.Error("needs_consent without a reason")
	}
	var renewed created
	if code := h.call("POST", "/api/v1/connectors/"+c.ID+"/consent", nil, &renewed); code != http.StatusOK || renewed.ConsentURL == "" {
		t.Fatalf("renew consent: %d %+v", code, renewed)
	}
	if code, page := h.signIn(renewed.ConsentURL, "accept", ga.UPN); code != http.StatusOK {
		t.Fatalf("consent again: %d %s", code, page)
	}
	h.waitFor(c.ID, "active again", func(v connectorView) bool { return v.Status == "active" })

	// Reset the failed backup workflow to its first workflow task, as the
	// Temporal UI's Reset does.
	wfID := workflows.ConnectorWorkflowID(c.ID) + "/backup/" + failedRun
	tc := h.stack.Client()
	iter := tc.GetWorkflowHistory(ctx, wfID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var firstTask int64
	for iter.HasNext() && firstTask == 0 {
		ev, err := iter.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.GetEventType() == enumspb.EVENT_TYPE_WORKFLOW_TASK_COMPLETED {
			firstTask = ev.GetEventId()
		}
	}
	if _, err := tc.ResetWorkflowExecution(ctx, &workflowservice.ResetWorkflowExecutionRequest{
		Namespace: h.stack.cfg.Temporal.Namespace, WorkflowExecution: &commonpb.WorkflowExecution{WorkflowId: wfID},
		Reason: "consent renewed", WorkflowTaskFinishEventId: firstTask, RequestId: "retry-" + failedRun,
	}); err != nil {
		t.Fatalf("reset: %v", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		var runs struct {
			Runs []struct {
				RunID  string `json:"run_id"`
				Status string `json:"status"`
			} `json:"runs"`
		}
		h.call("GET", "/api/v1/connectors/"+c.ID+"/runs", nil, &runs)
		status := ""
		for _, r := range runs.Runs {
			if r.RunID == failedRun {
				status = r.Status
			}
		}
		if status == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the reset run never showed as succeeded: %+v", runs)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
