package workflows

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
)

const stateHash = "0000000000000000000000000000000000000000000000000000000000000001"

func testConfig() connector.Config {
	c := connector.Config{
		Name: "Contoso", Tenant: "contoso.com", Kind: connector.KindDirectory,
		Scopes:   connector.Scopes{Users: true, Roles: true},
		Schedule: connector.Schedule{Interval: "6h"}, Retention: connector.Retention{Days: 30},
	}
	return c
}

type env struct {
	*testsuite.TestWorkflowEnvironment
	t       *testing.T
	backups map[connector.Scope]int
	prunes  int
	verify  activities.VerifyReport
}

func newEnv(t *testing.T) *env {
	var s testsuite.WorkflowTestSuite
	e := &env{TestWorkflowEnvironment: s.NewTestWorkflowEnvironment(), t: t, backups: map[connector.Scope]int{}}
	e.verify = activities.VerifyReport{OK: true, Checks: []activities.Check{{Name: "global administrator", OK: true}}}
	e.RegisterWorkflowWithOptions(ConnectorWorkflow, workflow.RegisterOptions{Name: ConnectorWorkflowName})
	e.RegisterWorkflow(ScopeBackupWorkflow)
	e.RegisterWorkflow(RetentionWorkflow)
	var v *activities.Verifier
	var b *activities.Backup
	var r *activities.Retention
	e.RegisterActivity(v)
	e.RegisterActivity(b)
	e.RegisterActivity(r)
	e.OnActivity(v.VerifyConnector, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.VerifyInput) (activities.VerifyReport, error) {
			return e.verify, nil
		})
	e.OnActivity(b.BackupScope, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.BackupInput) (activities.BackupResult, error) {
			e.backups[in.Scope]++
			return activities.BackupResult{SnapshotID: in.RunID + "-snap", Counts: map[string]int{"user": 3}}, nil
		})
	e.OnActivity(r.ApplyRetention, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.RetentionInput) (activities.RetentionResult, error) {
			e.prunes++
			return activities.RetentionResult{}, nil
		})
	e.OnActivity(r.PurgeConnector, mock.Anything, mock.Anything).Return(nil)
	return e
}

func input(deadline time.Time) ConnectorInput {
	return ConnectorInput{ConnectorID: "c-0123456789abcdef", Config: testConfig(), ConsentStateHash: stateHash, ConsentDeadline: deadline, CreatedBy: "ops"}
}

func (e *env) state() ConnectorState {
	e.t.Helper()
	v, err := e.QueryWorkflow(QueryStatus)
	if err != nil {
		e.t.Fatal(err)
	}
	var st ConnectorState
	if err := v.Get(&st); err != nil {
		e.t.Fatal(err)
	}
	return st
}

type updateResult struct {
	accepted, rejected bool
	err                error
}

func (e *env) update(name string, args ...any) *updateResult {
	r := &updateResult{}
	e.UpdateWorkflow(name, "", &testsuite.TestUpdateCallback{
		OnAccept:   func() { r.accepted = true },
		OnReject:   func(err error) { r.rejected, r.err = true, err },
		OnComplete: func(_ interface{}, err error) { r.err = err },
	}, args...)
	return r
}

func consent() ConsentResult {
	return ConsentResult{StateHash: stateHash, TenantID: "tid-1", AdminObjectID: "oid-admin", AdminUPN: "admin@contoso.com"}
}

func TestConsentTimeout(t *testing.T) {
	e := newEnv(t)
	var late *updateResult
	start := e.Now()
	e.RegisterDelayedCallback(func() {
		if st := e.state(); st.Status != connector.StatusAwaitingConsent {
			t.Errorf("before the deadline: %s", st.Status)
		}
	}, 47*time.Hour)
	e.RegisterDelayedCallback(func() {
		st := e.state()
		if st.Status != connector.StatusConsentExpired {
			t.Errorf("after the deadline: %s", st.Status)
		}
		// A late callback with the old state is refused.
		late = e.update(UpdateConsent, consent())
	}, 49*time.Hour)
	e.RegisterDelayedCallback(func() {
		if !late.rejected {
			t.Error("consent accepted after expiry")
		}
		e.update(UpdateDelete, DeleteInput{})
	}, 50*time.Hour)
	e.ExecuteWorkflow(ConnectorWorkflowName, input(start.Add(48*time.Hour)))
	if err := e.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(e.backups) != 0 {
		t.Fatalf("backups ran without consent: %v", e.backups)
	}
}

func TestConsentStateIsCheckedAndSingleUse(t *testing.T) {
	e := newEnv(t)
	var wrong, good, replay *updateResult
	e.RegisterDelayedCallback(func() {
		bad := consent()
		bad.StateHash = strings.Repeat("f", 64)
		wrong = e.update(UpdateConsent, bad)
	}, time.Minute)
	e.RegisterDelayedCallback(func() {
		if !wrong.rejected {
			t.Error("wrong state accepted")
		}
		if st := e.state(); st.Status != connector.StatusAwaitingConsent {
			t.Errorf("a rejected update changed the status to %s", st.Status)
		}
		good = e.update(UpdateConsent, consent())
	}, 2*time.Minute)
	e.RegisterDelayedCallback(func() {
		if !good.accepted || good.err != nil {
			t.Errorf("valid consent: %v", good.err)
		}
		replay = e.update(UpdateConsent, consent())
	}, 3*time.Minute)
	e.RegisterDelayedCallback(func() {
		if !replay.rejected {
			t.Error("replayed state accepted")
		}
	}, 4*time.Minute)
	e.RegisterDelayedCallback(func() { e.update(UpdateDelete, DeleteInput{}) }, time.Hour)
	e.ExecuteWorkflow(ConnectorWorkflowName, input(e.Now().Add(time.Hour*24)))
	if err := e.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
}

func TestConsentErrorFails(t *testing.T) {
	e := newEnv(t)
	e.RegisterDelayedCallback(func() {
		e.update(UpdateConsent, ConsentResult{StateHash: stateHash, Error: "access_denied", ErrorDescription: "AADSTS65004: the admin cancelled"})
	}, time.Minute)
	e.RegisterDelayedCallback(func() {
		st := e.state()
		if st.Status != connector.StatusConsentFailed || !strings.Contains(st.LastError, "AADSTS65004") {
			t.Errorf("status %s, error %q", st.Status, st.LastError)
		}
		e.update(UpdateDelete, DeleteInput{})
	}, 2*time.Minute)
	e.ExecuteWorkflow(ConnectorWorkflowName, input(e.Now().Add(24*time.Hour)))
	if err := e.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
}

func TestVerificationFailureStopsBackups(t *testing.T) {
	e := newEnv(t)
	e.verify = activities.VerifyReport{OK: false, Checks: []activities.Check{{Name: "application permissions", OK: false, Detail: "missing: User.Read.All"}}, MissingPermissions: []string{"User.Read.All"}}
	e.RegisterDelayedCallback(func() { e.update(UpdateConsent, consent()) }, time.Minute)
	e.RegisterDelayedCallback(func() {
		st := e.state()
		if st.Status != connector.StatusVerificationFailed || !strings.Contains(st.LastError, "User.Read.All") {
			t.Errorf("status %s error %q", st.Status, st.LastError)
		}
		if st.Report == nil || len(st.Report.MissingPermissions) != 1 {
			t.Errorf("report %+v", st.Report)
		}
		e.update(UpdateDelete, DeleteInput{})
	}, 10*time.Minute)
	e.ExecuteWorkflow(ConnectorWorkflowName, input(e.Now().Add(24*time.Hour)))
	if err := e.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if len(e.backups) != 0 {
		t.Fatalf("backups ran after failed verification: %v", e.backups)
	}
}

// TestScheduleTicksAndConfigUpdate: the first backup of every scope runs
// at once, then every interval; a new interval applies without a restart;
// an invalid config is rejected and changes nothing; retention runs daily.
func TestScheduleTicksAndConfigUpdate(t *testing.T) {
	e := newEnv(t)
	var badInterval, badTenant, goodUpdate *updateResult
	e.RegisterDelayedCallback(func() { e.update(UpdateConsent, consent()) }, time.Minute)
	e.RegisterDelayedCallback(func() {
		if e.backups[connector.ScopeUsers] != 1 || e.backups[connector.ScopeRoles] != 1 {
			t.Errorf("first backups: %v", e.backups)
		}
		st := e.state()
		if st.Status != connector.StatusActive || st.Scopes[connector.ScopeUsers].LastStatus != "succeeded" {
			t.Errorf("after first backup: %s %+v", st.Status, st.Scopes[connector.ScopeUsers])
		}
	}, 30*time.Minute)
	// 6h interval: by 13h, users ran at 1m, 6h and 12h.
	e.RegisterDelayedCallback(func() {
		if got := e.backups[connector.ScopeUsers]; got != 3 {
			t.Errorf("users backups after 13h: %d, want 3", got)
		}
		bad := testConfig()
		bad.Schedule.Interval = "1m"
		badInterval = e.update(UpdateConfig, bad)
		moved := testConfig()
		moved.Tenant = "fabrikam.com"
		badTenant = e.update(UpdateConfig, moved)
	}, 13*time.Hour)
	e.RegisterDelayedCallback(func() {
		if !badInterval.rejected || !badTenant.rejected {
			t.Errorf("invalid updates accepted: interval %+v tenant %+v", badInterval, badTenant)
		}
		if st := e.state(); st.Config.Schedule.Interval != "6h" || st.Config.Tenant != "contoso.com" {
			t.Errorf("rejected updates changed the config: %+v", st.Config)
		}
		good := testConfig()
		good.Schedule.Interval = "1h"
		good.Name = "Contoso (hourly)"
		goodUpdate = e.update(UpdateConfig, good)
	}, 13*time.Hour+time.Minute)
	// From 13h on hourly: 12h run + next due 13h → by 16h30 four more.
	e.RegisterDelayedCallback(func() {
		if !goodUpdate.accepted || goodUpdate.err != nil {
			t.Errorf("valid update: %+v", goodUpdate)
		}
		if got := e.backups[connector.ScopeUsers]; got < 6 {
			t.Errorf("users backups after the interval change: %d", got)
		}
		st := e.state()
		if st.Config.Name != "Contoso (hourly)" || st.Config.Schedule.Interval != "1h" {
			t.Errorf("config not applied: %+v", st.Config)
		}
		if e.prunes != 0 {
			t.Errorf("retention ran early: %d", e.prunes)
		}
	}, 16*time.Hour+30*time.Minute)
	e.RegisterDelayedCallback(func() {
		if e.prunes != 1 {
			t.Errorf("retention runs after a day: %d", e.prunes)
		}
		var runs []RunRecord = e.state().Runs
		if len(runs) == 0 || runs[0].Trigger != "first" || runs[len(runs)-1].Trigger != "schedule" {
			t.Errorf("runs %+v", runs)
		}
		e.update(UpdateDelete, DeleteInput{Purge: true})
	}, 25*time.Hour)
	e.ExecuteWorkflow(ConnectorWorkflowName, input(e.Now().Add(24*time.Hour)))
	if err := e.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
}

func TestRunNow(t *testing.T) {
	e := newEnv(t)
	var disabled, users *updateResult
	e.RegisterDelayedCallback(func() { e.update(UpdateConsent, consent()) }, time.Minute)
	e.RegisterDelayedCallback(func() {
		disabled = e.update(UpdateRunNow, RunNowInput{Scope: connector.ScopeSignIns})
		users = e.update(UpdateRunNow, RunNowInput{Scope: connector.ScopeUsers})
	}, time.Hour)
	e.RegisterDelayedCallback(func() {
		if !disabled.rejected {
			t.Error("run-now for a disabled scope accepted")
		}
		if !users.accepted || users.err != nil {
			t.Errorf("run now: %+v", users)
		}
		if e.backups[connector.ScopeUsers] != 2 || e.backups[connector.ScopeRoles] != 1 {
			t.Errorf("backups %v", e.backups)
		}
		runs := e.state().Runs
		if runs[len(runs)-1].Trigger != "manual" {
			t.Errorf("last run %+v", runs[len(runs)-1])
		}
		e.update(UpdateDelete, DeleteInput{})
	}, 2*time.Hour)
	e.ExecuteWorkflow(ConnectorWorkflowName, input(e.Now().Add(24*time.Hour)))
	if err := e.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
}

func TestContinueAsNewCarriesState(t *testing.T) {
	e := newEnv(t)
	e.RegisterDelayedCallback(func() { e.update(UpdateConsent, consent()) }, time.Minute)
	e.RegisterDelayedCallback(func() { e.SetContinueAsNewSuggested(true) }, 7*time.Hour)
	e.ExecuteWorkflow(ConnectorWorkflowName, input(e.Now().Add(24*time.Hour)))
	err := e.GetWorkflowError()
	var can *workflow.ContinueAsNewError
	if err == nil || !asContinueAsNew(err, &can) {
		t.Fatalf("want continue-as-new, got %v", err)
	}
	var next ConnectorInput
	if err := e.GetWorkflowResult(nil); err == nil {
		t.Fatal("no continue-as-new")
	}
	if err := decodeContinueInput(can, &next); err != nil {
		t.Fatal(err)
	}
	if next.State == nil || next.State.Status != connector.StatusActive || next.State.TenantID != "tid-1" || len(next.State.Runs) < 2 {
		t.Fatalf("state not carried: %+v", next.State)
	}
}

func asContinueAsNew(err error, target **workflow.ContinueAsNewError) bool {
	return errors.As(err, target)
}

func decodeContinueInput(can *workflow.ContinueAsNewError, into *ConnectorInput) error {
	return converter.GetDefaultDataConverter().FromPayloads(can.Input, into)
}

// TestPauseAndResumeSignals: operators pause and resume a connector from
// the Temporal UI with signals; no scheduled backup runs while paused.
func TestPauseAndResumeSignals(t *testing.T) {
	e := newEnv(t)
	e.RegisterDelayedCallback(func() { e.update(UpdateConsent, consent()) }, time.Minute)
	e.RegisterDelayedCallback(func() { e.SignalWorkflow(SignalPause, "maintenance window") }, time.Hour)
	e.RegisterDelayedCallback(func() {
		if st := e.state(); st.Status != connector.StatusPaused {
			t.Errorf("after pause: %s", st.Status)
		}
		if got := e.backups[connector.ScopeUsers]; got != 1 {
			t.Errorf("backups while paused: %d, want only the first", got)
		}
		e.SignalWorkflow(SignalResume, nil)
	}, 20*time.Hour)
	e.RegisterDelayedCallback(func() {
		if st := e.state(); st.Status != connector.StatusActive {
			t.Errorf("after resume: %s", st.Status)
		}
		if got := e.backups[connector.ScopeUsers]; got != 2 {
			t.Errorf("backups after resume: %d, want the overdue one at once", got)
		}
		e.SignalWorkflow(SignalRunNow, RunNowInput{Scope: connector.ScopeRoles})
	}, 20*time.Hour+time.Minute)
	e.RegisterDelayedCallback(func() {
		if got := e.backups[connector.ScopeRoles]; got != 3 {
			t.Errorf("roles backups after a run-now signal: %d, want 3", got)
		}
		e.update(UpdateDelete, DeleteInput{})
	}, 20*time.Hour+2*time.Minute)
	e.ExecuteWorkflow(ConnectorWorkflowName, input(e.Now().Add(24*time.Hour)))
	if err := e.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
}
