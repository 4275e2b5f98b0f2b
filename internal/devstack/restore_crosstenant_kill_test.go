package devstack

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/internal/tenantsim/graphapi"
	"github.com/entravault/entravault/internal/tenantsim/model"
	"github.com/entravault/entravault/workflows"
)

// TestRestoreIntoAnotherTenantWorkerKilled kills the worker process while
// a restore into another tenant applies: the resumed apply finds what the
// killed one created through the pair's id map and natural keys, so every
// user of A is in B exactly once and was created once.
func TestRestoreIntoAnotherTenantWorkerKilled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	f := newRestoreFixture(t, ctx, tenantsim.Options{Seed: 14, Users: 120, Groups: 4, AdministrativeUnits: 1, Applications: 1,
		Tenants: 2, OtherTenantUsers: 3, Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	target := f.sim.Tenants()[1]
	f.sim.Graph().SetFaults(graphapi.Faults{Latency: 60 * time.Millisecond})
	target.Graph().SetFaults(graphapi.Faults{Latency: 60 * time.Millisecond})
	run, err := f.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.RestoreWorkflowID(fixtureConnector, "r-00000000000000c1"), TaskQueue: f.spec.Queue},
		workflows.RestoreWorkflowName, workflows.RestoreInput{ConnectorID: fixtureConnector, TenantID: f.spec.Creds.TenantID, RestoreID: "r-00000000000000c1",
			Snapshots: map[connector.Scope]string{connector.ScopeUsers: f.snap}, Scopes: connector.Scopes{Users: true},
			Options: restore.DefaultOptions(), Apply: true, HeartbeatTimeout: 3 * time.Second,
			Target: &workflows.RestoreTarget{ConnectorID: "c-00000000000000c2", TenantID: target.Credentials().TenantID, Scopes: connector.Scopes{Users: true}}})
	if err != nil {
		t.Fatal(err)
	}
	f.killWhenApplied(ctx, run, 20)
	var st workflows.RestoreState
	if err := run.Get(ctx, &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != workflows.RestoreSucceeded || st.Applied.ByOutcome[restore.Failed] > 0 {
		t.Fatalf("restore ended %s: %+v (%s)\n%s", st.Status, st.Applied, st.Error, f.failed(ctx, st.Report))
	}
	created := target.Graph().Counters().Routes["POST users"]
	live := map[string]int{}
	tb := target.Tenant()
	tb.RLock()
	for i := 0; i < tb.Len(model.KindUser); i++ {
		if tb.IsLive(model.MakeRef(model.KindUser, int32(i))) {
			live[strings.ToLower(strings.Split(tb.UPN(int32(i)), "@")[0])]++
		}
	}
	tb.RUnlock()
	ta := f.sim.Tenant()
	ta.RLock()
	defer ta.RUnlock()
	source := 0
	for i := 0; i < ta.Len(model.KindUser); i++ {
		if !ta.IsLive(model.MakeRef(model.KindUser, int32(i))) {
			continue
		}
		source++
		if nick := strings.ToLower(strings.Split(ta.UPN(int32(i)), "@")[0]); live[nick] != 1 {
			t.Errorf("%s: %d users in B", nick, live[nick])
		}
	}
	// The sign-in accounts were in B already (matched by UPN); every other
	// user was created once.
	if created == nil || created.Writes != source-3 {
		t.Errorf("POST users in B: %+v, want %d", created, source-3)
	}
	t.Logf("%d users of A restored into B; %+v", source, st.Applied.ByOutcome)
}

// killWhenApplied SIGKILLs the worker process once the apply's checkpoint
// holds n actions, and starts another.
func (f *restoreFixture) killWhenApplied(ctx context.Context, run client.WorkflowRun, n int) {
	f.t.Helper()
	for {
		desc, err := f.c.DescribeWorkflowExecution(ctx, run.GetID(), "")
		if err != nil {
			f.t.Fatal(err)
		}
		for _, pa := range desc.GetPendingActivities() {
			if pa.GetHeartbeatDetails() == nil {
				continue
			}
			p, found := activities.ReadApplyProgress(func(into any) error { return decodePayloads(pa.GetHeartbeatDetails(), into) })
			if found && p.Done >= n {
				f.t.Logf("killing the worker at %d/%d actions, %d writes", p.Done, p.Total, p.Writes)
				if err := f.worker.Process.Kill(); err != nil {
					f.t.Fatal(err)
				}
				_, _ = f.worker.Process.Wait()
				f.worker = startWorkerProcess(f.t, f.spec)
				return
			}
		}
		if ctx.Err() != nil {
			f.t.Fatal("the apply never got going")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
