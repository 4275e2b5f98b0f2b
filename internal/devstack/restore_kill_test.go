package devstack

import (
	"context"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/devserver"
	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/internal/tenantsim/graphapi"
	"github.com/entravault/entravault/internal/tenantsim/model"
	"github.com/entravault/entravault/workflows"
)

// TestRestoreWorkerKilledMidApply kills the worker process (SIGKILL) while
// a restore applies; a new worker resumes from the report's checkpoint,
// and every write happened exactly once: no user created, undeleted or
// patched twice.
func TestRestoreWorkerKilledMidApply(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	srv, err := devserver.Start(devserver.Options{Namespace: "default", SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	sim := tenantsim.NewTest(t, tenantsim.Options{Seed: 12, Users: 200, Groups: 4, AdministrativeUnits: 1, Applications: 1,
		Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	spec := workerSpec{Temporal: srv.HostPort(), Queue: "killrestore", RepoDir: t.TempDir(), Creds: sim.Credentials()}
	first := startWorkerProcess(t, spec)
	c, err := client.Dial(client.Options{HostPort: srv.HostPort()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const connectorID = "c-00000000000000a1"
	backup, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "killrestore-backup", TaskQueue: spec.Queue}, workflows.ScopeBackupWorkflow,
		activities.BackupInput{ConnectorID: connectorID, TenantID: spec.Creds.TenantID, RunID: "b1", Scope: connector.ScopeUsers, Time: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	var snap activities.BackupResult
	if err := backup.Get(ctx, &snap); err != nil {
		t.Fatal(err)
	}

	// 30 users deleted for good, 30 in the recycle bin, 30 tampered.
	tenant := sim.Tenant()
	tenant.Lock()
	var upns []string
	for i := int32(10); i < 100; i++ {
		r := model.MakeRef(model.KindUser, i)
		if !tenant.IsLive(r) {
			continue
		}
		upns = append(upns, tenant.UPN(i))
		switch i % 3 {
		case 0:
			_ = tenant.Delete(r)
			_ = tenant.PurgeDeleted(r)
		case 1:
			_ = tenant.Delete(r)
		default:
			_ = tenant.Update(r, map[string]any{"jobTitle": "Tampered"})
		}
	}
	tenant.Unlock()
	// Slow Graph down so the apply takes seconds, long enough to be killed.
	sim.Graph().SetFaults(graphapi.Faults{Latency: 60 * time.Millisecond})

	rid := "r-00000000000000a1"
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.RestoreWorkflowID(connectorID, rid), TaskQueue: spec.Queue},
		workflows.RestoreWorkflowName, workflows.RestoreInput{ConnectorID: connectorID, TenantID: spec.Creds.TenantID, RestoreID: rid,
			Snapshots: map[connector.Scope]string{connector.ScopeUsers: snap.SnapshotID}, Scopes: connector.Scopes{Users: true},
			Options: restore.DefaultOptions(), Apply: true, HeartbeatTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// Kill once a checkpoint holds part of the report.
	for {
		var p activities.ApplyProgress
		found := false
		desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), "")
		if err != nil {
			t.Fatal(err)
		}
		for _, pa := range desc.GetPendingActivities() {
			if pa.GetHeartbeatDetails() != nil {
				p, found = activities.ReadApplyProgress(func(into any) error { return decodePayloads(pa.GetHeartbeatDetails(), into) })
			}
		}
		if found && p.Done >= 20 {
			t.Logf("killing the worker at %d/%d actions, %d writes", p.Done, p.Total, p.Writes)
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the apply never got going")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = first.Process.Wait()
	startWorkerProcess(t, spec)

	var st workflows.RestoreState
	if err := run.Get(ctx, &st); err != nil {
		t.Fatal(err)
	}
	if st.Status != workflows.RestoreSucceeded || st.Applied.ByOutcome[restore.Failed] > 0 {
		t.Fatalf("restore ended %s: %+v (%s)", st.Status, st.Applied, st.Error)
	}
	writes := map[string]int{}
	for route, rc := range sim.Graph().Counters().Routes {
		if !strings.HasPrefix(route, "GET ") {
			writes[route] = rc.Requests
		}
	}
	want := map[string]int{"POST users": 30, "POST directory/deletedItems/{id}/restore": 30, "PATCH users/{id}": 30}
	for route, n := range want {
		if writes[route] != n {
			t.Errorf("%s: %d writes, want %d (all writes %v)", route, writes[route], n, writes)
		}
	}
	tenant.RLock()
	defer tenant.RUnlock()
	for _, upn := range upns {
		n := 0
		for i := 0; i < tenant.Len(model.KindUser); i++ {
			if tenant.IsLive(model.MakeRef(model.KindUser, int32(i))) && strings.EqualFold(tenant.UPN(int32(i)), upn) {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%s: %d live users after the restore", upn, n)
		}
	}
}

func decodePayloads(p *commonpb.Payloads, into any) error {
	return converter.GetDefaultDataConverter().FromPayloads(p, into)
}
