package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/devserver"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/internal/tenantsim/graphapi"
	"github.com/entravault/entravault/internal/tenantsim/model"
	"github.com/entravault/entravault/workflows"
)

// restoreFixture is a Temporal server, a simulated tenant, a worker
// process and a users snapshot, for restore tests that kill workers or
// break Graph.
type restoreFixture struct {
	t      *testing.T
	sim    *tenantsim.Simulator
	spec   workerSpec
	c      client.Client
	worker *exec.Cmd
	snap   string
	upns   []string // of the users the incident touched
}

const fixtureConnector = "c-00000000000000a1"

func newRestoreFixture(t *testing.T, ctx context.Context, opts tenantsim.Options) *restoreFixture {
	srv, err := devserver.Start(devserver.Options{Namespace: "default", SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	f := &restoreFixture{t: t, sim: tenantsim.NewTest(t, opts)}
	f.spec = workerSpec{Temporal: srv.HostPort(), Queue: "restoretest", RepoDir: t.TempDir(), Creds: f.sim.Credentials()}
	f.worker = startWorkerProcess(t, f.spec)
	if f.c, err = client.Dial(client.Options{HostPort: srv.HostPort()}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.c.Close)
	backup, err := f.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "restoretest-backup", TaskQueue: f.spec.Queue}, workflows.ScopeBackupWorkflow,
		activities.BackupInput{ConnectorID: fixtureConnector, TenantID: f.spec.Creds.TenantID, RunID: "b1", Scope: connector.ScopeUsers, Time: time.Now().UTC()})
	if err != nil {
		t.Fatal(err)
	}
	var snap activities.BackupResult
	if err := backup.Get(ctx, &snap); err != nil {
		t.Fatal(err)
	}
	f.snap = snap.SnapshotID
	return f
}

// breakUsers deletes a third of users [from, to) for good, puts a third in
// the recycle bin and tampers with the rest.
func (f *restoreFixture) breakUsers(from, to int32) {
	tenant := f.sim.Tenant()
	tenant.Lock()
	defer tenant.Unlock()
	for i := from; i < to; i++ {
		r := model.MakeRef(model.KindUser, i)
		if !tenant.IsLive(r) {
			continue
		}
		f.upns = append(f.upns, tenant.UPN(i))
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
}

func (f *restoreFixture) restore(ctx context.Context, rid string, apply bool) client.WorkflowRun {
	run, err := f.c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: workflows.RestoreWorkflowID(fixtureConnector, rid), TaskQueue: f.spec.Queue},
		workflows.RestoreWorkflowName, workflows.RestoreInput{ConnectorID: fixtureConnector, TenantID: f.spec.Creds.TenantID, RestoreID: rid,
			Snapshots: map[connector.Scope]string{connector.ScopeUsers: f.snap}, Scopes: connector.Scopes{Users: true},
			Options: restore.DefaultOptions(), Apply: apply, HeartbeatTimeout: 3 * time.Second})
	if err != nil {
		f.t.Fatal(err)
	}
	return run
}

func (f *restoreFixture) writes() map[string]int {
	out := map[string]int{}
	for route, rc := range f.sim.Graph().Counters().Routes {
		if !strings.HasPrefix(route, "GET ") {
			out[route] = rc.Requests
		}
	}
	return out
}

// failed lists the actions of a report that did not succeed.
func (f *restoreFixture) failed(ctx context.Context, report string) string {
	repo, err := repository.OpenLocal(ctx, f.spec.RepoDir)
	if err != nil {
		return err.Error()
	}
	defer repo.Close()
	var out []string
	_ = repo.ScanStored(ctx, repository.SnapshotID(report), restore.ActionType, func(_, _ string, raw []byte) error {
		var a restore.Action
		if json.Unmarshal(raw, &a) == nil && (a.Outcome == restore.Failed || a.Outcome == restore.ChangedSincePlan) {
			out = append(out, fmt.Sprintf("%s %s %s %s %v new=%s: %s%s", a.Kind, a.Type, a.ID, a.Outcome, a.Links, a.NewID, a.Error, a.Note))
		}
		return nil
	})
	return strings.Join(out, "\n")
}

// checkOneEach: every touched user is live exactly once.
func (f *restoreFixture) checkOneEach() {
	tenant := f.sim.Tenant()
	tenant.RLock()
	defer tenant.RUnlock()
	live := map[string]int{}
	for i := 0; i < tenant.Len(model.KindUser); i++ {
		if tenant.IsLive(model.MakeRef(model.KindUser, int32(i))) {
			live[strings.ToLower(tenant.UPN(int32(i)))]++
		}
	}
	for _, upn := range f.upns {
		if n := live[strings.ToLower(upn)]; n != 1 {
			f.t.Errorf("%s: %d live users after the restore", upn, n)
		}
	}
}

// TestRestoreWorkerKilledMidApply kills the worker process (SIGKILL) while
// a restore applies; a new worker resumes from the report's checkpoint,
// and every write happened exactly once: no user created, undeleted or
// patched twice.
func TestRestoreWorkerKilledMidApply(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	f := newRestoreFixture(t, ctx, tenantsim.Options{Seed: 12, Users: 200, Groups: 4, AdministrativeUnits: 1, Applications: 1,
		Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	f.breakUsers(10, 100) // 30 of each
	// Slow Graph down so the apply takes seconds, long enough to be killed.
	f.sim.Graph().SetFaults(graphapi.Faults{Latency: 60 * time.Millisecond})
	run := f.restore(ctx, "r-00000000000000a1", true)
	// Kill once a checkpoint holds part of the report.
	f.killWhenApplied(ctx, run, 20)
	killed := time.Now()

	var st workflows.RestoreState
	if err := run.Get(ctx, &st); err != nil {
		t.Fatal(err)
	}
	t.Logf("resumed and finished %v after the kill", time.Since(killed).Round(time.Millisecond))
	if st.Status != workflows.RestoreSucceeded || st.Applied.ByOutcome[restore.Failed] > 0 {
		rep := f.failed(ctx, st.Report)
		t.Fatalf("restore ended %s: %+v (%s)\n%s", st.Status, st.Applied, st.Error, rep)
	}
	writes := f.writes()
	want := map[string]int{"POST users": 30, "POST directory/deletedItems/{id}/restore": 30, "PATCH users/{id}": 30}
	for route, n := range want {
		if writes[route] != n {
			t.Errorf("%s: %d writes, want %d (all writes %v)", route, writes[route], n, writes)
		}
	}
	f.checkOneEach()
}

// TestRestoreUnderThrottlingAndFaults applies a restore while Graph throttles
// writes (a budget below the restore's pace) and fails a fifth of all
// requests: it succeeds, never retries before Retry-After, creates nothing
// twice, and leaves alone an object changed between plan and apply.
func TestRestoreUnderThrottlingAndFaults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	f := newRestoreFixture(t, ctx, tenantsim.Options{Seed: 13, Users: 150, Groups: 4, AdministrativeUnits: 1, Applications: 1,
		Throttle: tenantsim.ThrottleConfig{Writes: 40, WriteWindow: 4 * time.Second}})
	f.breakUsers(10, 70) // 20 of each
	run := f.restore(ctx, "r-00000000000000b1", false)
	var st workflows.RestoreState
	for st.Status != workflows.RestorePlanned {
		v, err := f.c.QueryWorkflow(ctx, run.GetID(), "", workflows.QueryRestore)
		if err != nil || v.Get(&st) != nil || ctx.Err() != nil {
			t.Fatalf("query the restore: %v %v", err, ctx.Err())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Someone fixes one tampered user by hand, differently, before apply.
	tenant := f.sim.Tenant()
	changed := model.MakeRef(model.KindUser, 11) // 11 % 3 == 2: tampered
	tenant.Lock()
	_ = tenant.Update(changed, map[string]any{"jobTitle": "Fixed by hand"})
	changedID := tenant.Meta(changed).ID.String()
	tenant.Unlock()

	f.sim.Graph().SetFaults(graphapi.Faults{Rate429: 0.05, Rate503: 0.05, ResetRate: 0.05, TruncateRate: 0.05, Seed: 7})
	h, err := f.c.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{WorkflowID: run.GetID(), UpdateName: workflows.UpdateApply,
		Args: []any{"tester"}, WaitForStage: client.WorkflowUpdateStageCompleted})
	if err == nil {
		err = h.Get(ctx, nil)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, &st); err != nil {
		t.Fatal(err)
	}
	f.sim.Graph().SetFaults(graphapi.Faults{})
	counters := f.sim.Graph().Counters()
	t.Logf("restore %s %+v; Graph: %d requests, %d throttled, %d faults", st.Status, st.Applied.ByOutcome,
		counters.Total.Requests, counters.Total.Throttled, counters.Total.FaultsCount)
	if st.Status != workflows.RestorePartiallySucceeded || st.Applied.ByOutcome[restore.ChangedSincePlan] != 1 || st.Applied.ByOutcome[restore.Failed] > 0 {
		t.Errorf("want one change since plan and no failure: %s %+v\n%s", st.Status, st.Applied, f.failed(ctx, st.Report))
	}
	if counters.Total.EarlyRetry != 0 {
		t.Errorf("%d requests retried before Retry-After", counters.Total.EarlyRetry)
	}
	if counters.Total.Throttled == 0 || counters.Total.FaultsCount == 0 {
		t.Errorf("the test throttled %d and injected %d faults: it proves nothing", counters.Total.Throttled, counters.Total.FaultsCount)
	}
	tenant.RLock()
	title := tenant.Render(changed)["jobTitle"]
	tenant.RUnlock()
	if title != "Fixed by hand" {
		t.Errorf("user %s changed after the plan was overwritten: jobTitle %v", changedID, title)
	}
	if n := f.writes()["POST users"]; n < 20 {
		t.Errorf("%d creates for 20 users deleted for good", n)
	}
	f.checkOneEach()
}

func decodePayloads(p *commonpb.Payloads, into any) error {
	return converter.GetDefaultDataConverter().FromPayloads(p, into)
}
