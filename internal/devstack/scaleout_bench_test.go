package devstack

import (
	"context"
	"fmt"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/devserver"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/workflows"
)

// BenchmarkScaleOut backs up the users and groups scopes of 20 connectors
// (their first, full backups) with one worker process, then with two, on
// the embedded server, and reports the time to all done, their ratio, and
// the Temporal history events and billable actions of one backup run.
func BenchmarkScaleOut(b *testing.B) {
	ctx := context.Background()
	srv, err := devserver.Start(devserver.Options{Namespace: "default", SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Stop()
	sim := tenantsim.NewTest(b, tenantsim.Options{Seed: 21, Users: 5000, Groups: 500, AdministrativeUnits: 5, Applications: 5,
		Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	c, err := client.Dial(client.Options{HostPort: srv.HostPort()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	const connectors = 20
	scopes := []connector.Scope{connector.ScopeUsers, connector.ScopeGroups}
	var took [3]time.Duration
	var lastRun string
	for i := 0; i < b.N; i++ {
		for _, workers := range []int{1, 2} {
			spec := workerSpec{Temporal: srv.HostPort(), Queue: fmt.Sprintf("scale-%d-%d", i, workers), RepoDir: b.TempDir(), Creds: sim.Credentials()}
			var procs []func()
			for range workers {
				p := startWorkerProcess(b, spec)
				procs = append(procs, func() { _ = p.Process.Kill(); _, _ = p.Process.Wait() })
			}
			start := time.Now()
			var runs []client.WorkflowRun
			for n := range connectors {
				for _, sc := range scopes {
					run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: fmt.Sprintf("%s-c%02d-%s", spec.Queue, n, sc), TaskQueue: spec.Queue},
						workflows.ScopeBackupWorkflow, activities.BackupInput{ConnectorID: fmt.Sprintf("c-%016x", n), TenantID: spec.Creds.TenantID,
							RunID: "first", Scope: sc, Scopes: connector.Scopes{Users: true, Groups: &connector.GroupScope{All: true, Members: true}},
							Time: time.Now().UTC()})
					if err != nil {
						b.Fatal(err)
					}
					runs = append(runs, run)
				}
			}
			for _, run := range runs {
				if err := run.Get(ctx, nil); err != nil {
					b.Fatal(err)
				}
			}
			took[workers] += time.Since(start)
			lastRun = runs[len(runs)-1].GetID()
			for _, stop := range procs {
				stop()
			}
		}
	}
	events, actions := historyCost(b, c, lastRun)
	b.ReportMetric(took[1].Seconds()/float64(b.N), "s-1-worker")
	b.ReportMetric(took[2].Seconds()/float64(b.N), "s-2-workers")
	b.ReportMetric(took[1].Seconds()/took[2].Seconds(), "speed-up")
	b.ReportMetric(float64(events), "history-events/run")
	b.ReportMetric(float64(actions), "actions/run")
}

// historyCost counts a workflow's history events and the ones Temporal
// Cloud bills as actions (starts, activities, timers, signals, children;
// heartbeats it also bills are not in history and come on top).
func historyCost(b *testing.B, c client.Client, workflowID string) (events, actions int) {
	it := c.GetWorkflowHistory(context.Background(), workflowID, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			b.Fatal(err)
		}
		events++
		switch ev.GetEventType() {
		case enumspb.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED, enumspb.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED,
			enumspb.EVENT_TYPE_TIMER_STARTED, enumspb.EVENT_TYPE_SIGNAL_EXTERNAL_WORKFLOW_EXECUTION_INITIATED,
			enumspb.EVENT_TYPE_START_CHILD_WORKFLOW_EXECUTION_INITIATED, enumspb.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
			actions++
		}
	}
	return events, actions
}
