package workflows

import (
	"context"
	"testing"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/entravault/entravault/internal/connector"
)

// purges records when the PurgeConnector activity starts.
func (e *env) purges() *[]time.Time {
	var at []time.Time
	e.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, _ converter.EncodedValues) {
		if info.ActivityType.Name == "PurgeConnector" {
			at = append(at, e.Now())
		}
	})
	return &at
}

// TestPurgeWaitsForGrace: a purge is scheduled at the delete's time plus
// the grace, runs then and not before, and ends the workflow. (Updates
// complete after the callback that sends them: each is checked in the next.)
func TestPurgeWaitsForGrace(t *testing.T) {
	e := newEnv(t)
	purges := e.purges()
	const grace = 7 * 24 * time.Hour
	deleted := e.Now().Add(time.Hour)
	var purge, again *updateResult
	e.RegisterDelayedCallback(func() { e.update(UpdateConsent, consent()) }, time.Minute)
	e.RegisterDelayedCallback(func() { purge = e.update(UpdateDelete, DeleteInput{Purge: true, Grace: grace}) }, time.Hour)
	e.RegisterDelayedCallback(func() {
		if !purge.accepted || purge.err != nil {
			t.Errorf("purge: %+v", purge)
		}
		st := e.state()
		if st.Status != connector.StatusDeleted || !st.Purge || !st.PurgeAt.Equal(deleted.Add(grace)) {
			t.Errorf("after the purge request: %s purge %v at %s", st.Status, st.Purge, st.PurgeAt)
		}
		again = e.update(UpdateDelete, DeleteInput{Purge: true})
	}, time.Hour+time.Minute)
	e.RegisterDelayedCallback(func() {
		if !again.rejected {
			t.Error("a second purge, without grace, accepted while one is pending")
		}
		if len(*purges) != 0 {
			t.Errorf("purged during the grace: %v", *purges)
		}
	}, time.Hour+grace-time.Minute)
	e.ExecuteWorkflow(ConnectorWorkflowName, input(e.Now().Add(24*time.Hour)))
	if err := e.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(*purges) != 1 || (*purges)[0].Before(deleted.Add(grace)) {
		t.Fatalf("purges at %v, want one at %s", *purges, deleted.Add(grace))
	}
}

// TestPurgeCancelled: an admin cancels during the grace, nothing is purged
// when it would have run, and the connector stays deleted; a purge asked
// again runs after its own grace.
func TestPurgeCancelled(t *testing.T) {
	e := newEnv(t)
	purges := e.purges()
	again := e.Now().Add(10*time.Hour + time.Minute)
	var early, cancel, second, del, purge *updateResult
	e.RegisterDelayedCallback(func() { e.update(UpdateConsent, consent()) }, time.Minute)
	e.RegisterDelayedCallback(func() { early = e.update(UpdateCancelPurge) }, time.Hour)
	e.RegisterDelayedCallback(func() {
		if !early.rejected {
			t.Error("cancel accepted with no purge pending")
		}
		e.update(UpdateDelete, DeleteInput{Purge: true, Grace: 2 * time.Hour})
	}, time.Hour+time.Minute)
	e.RegisterDelayedCallback(func() { cancel = e.update(UpdateCancelPurge) }, 2*time.Hour)
	e.RegisterDelayedCallback(func() {
		if !cancel.accepted || cancel.err != nil {
			t.Errorf("cancel: %+v", cancel)
		}
		if len(*purges) != 0 {
			t.Errorf("purged after cancel: %v", *purges)
		}
		st := e.state()
		if st.Status != connector.StatusDeleted || st.Purge || !st.PurgeCancelled {
			t.Errorf("after cancel: %s purge %v cancelled %v", st.Status, st.Purge, st.PurgeCancelled)
		}
		second = e.update(UpdateCancelPurge)
		del = e.update(UpdateDelete, DeleteInput{})
	}, 10*time.Hour)
	e.RegisterDelayedCallback(func() {
		if !second.rejected || !del.rejected {
			t.Errorf("second cancel %+v, delete of a deleted connector %+v: want both rejected", second, del)
		}
		purge = e.update(UpdateDelete, DeleteInput{Purge: true, Grace: time.Hour})
	}, 10*time.Hour+time.Minute)
	e.ExecuteWorkflow(ConnectorWorkflowName, input(e.Now().Add(24*time.Hour)))
	if err := e.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if !purge.accepted || purge.err != nil {
		t.Errorf("purge asked again: %+v", purge)
	}
	if len(*purges) != 1 || (*purges)[0].Before(again.Add(time.Hour)) {
		t.Fatalf("purges at %v, want one at %s", *purges, again.Add(time.Hour))
	}
}

// TestPurgeSurvivesContinueAsNew: a run continued with a pending purge
// waits for the PurgeAt it carries.
func TestPurgeSurvivesContinueAsNew(t *testing.T) {
	e := newEnv(t)
	purges := e.purges()
	at := e.Now().Add(5 * time.Hour)
	st := &ConnectorState{ConnectorID: "c-0123456789abcdef", Config: testConfig(), Status: connector.StatusDeleted,
		TenantID: "tid-1", Scopes: map[connector.Scope]*ScopeState{}, Purge: true, PurgeAt: at}
	e.ExecuteWorkflow(ConnectorWorkflowName, ConnectorInput{ConnectorID: st.ConnectorID, State: st})
	if err := e.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(*purges) != 1 || (*purges)[0].Before(at) {
		t.Fatalf("purges at %v, want one at %s", *purges, at)
	}
}

// TestPurgeBeforeGraceVersion: histories recorded before the grace
// (GetVersion answers DefaultVersion) purge at once, as they did.
func TestPurgeBeforeGraceVersion(t *testing.T) {
	e := newEnv(t)
	e.OnGetVersion(purgeGraceChange, workflow.DefaultVersion, 1).Return(workflow.DefaultVersion)
	purges := e.purges()
	var deleted time.Time
	e.RegisterDelayedCallback(func() {
		deleted = e.Now()
		e.update(UpdateDelete, DeleteInput{Purge: true})
	}, time.Minute)
	e.ExecuteWorkflow(ConnectorWorkflowName, input(e.Now().Add(24*time.Hour)))
	if err := e.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(*purges) != 1 || (*purges)[0].Sub(deleted) > time.Second {
		t.Fatalf("purges at %v, want one at once after %s", *purges, deleted)
	}
}
