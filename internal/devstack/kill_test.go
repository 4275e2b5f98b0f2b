package devstack

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/devserver"
	"github.com/entravault/entravault/internal/graph"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/internal/tenantsim/graphapi"
	"github.com/entravault/entravault/internal/tenantsim/model"
	"github.com/entravault/entravault/worker"
	"github.com/entravault/entravault/workflows"
)

// killTestWorkerEnv makes the test binary run as a bare worker process
// (see TestMain), so a test can kill it for real.
const killTestWorkerEnv = "ENTRAVAULT_KILLTEST_WORKER"

type workerSpec struct {
	Temporal, Queue, RepoDir string
	Creds                    tenantsim.Credentials
}

// runTestWorker is the worker process: it polls until killed.
func runTestWorker(spec string) {
	var s workerSpec
	if err := json.Unmarshal([]byte(spec), &s); err != nil {
		panic(err)
	}
	ctx := context.Background()
	repo, err := repository.OpenLocal(ctx, s.RepoDir)
	if err != nil {
		panic(err)
	}
	c, err := client.Dial(client.Options{HostPort: s.Temporal, Logger: nil})
	if err != nil {
		panic(err)
	}
	gf := &worker.GraphFactory{PageSize: 50, Base: graph.Config{ClientID: s.Creds.BackupApp.ClientID, ClientSecret: s.Creds.BackupApp.ClientSecret,
		AuthorityHost: s.Creds.AuthorityHost, GraphURL: s.Creds.GraphURL, CACertPath: s.Creds.CACertPath}}
	w := worker.New(c, worker.Options{TaskQueue: s.Queue, Logger: slog.New(slog.DiscardHandler),
		Register: []func(worker.Registry){worker.Product(worker.Deps{Graph: gf, Repo: repo, CheckpointEvery: 500 * time.Millisecond})}})
	if err := w.Run(nil); err != nil {
		panic(err)
	}
}

func startWorkerProcess(t testing.TB, spec workerSpec) *exec.Cmd {
	t.Helper()
	b, _ := json.Marshal(spec)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), killTestWorkerEnv+"="+string(b))
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	return cmd
}

// TestWorkerKilledMidRun kills the worker process (SIGKILL) in the middle
// of a users backup; a new worker process resumes from the last heartbeat,
// without reading everything again, and the snapshot holds every user.
func TestWorkerKilledMidRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv, err := devserver.Start(devserver.Options{Namespace: "default", SearchAttributes: workflows.SearchAttributes()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	sim := tenantsim.NewTest(t, tenantsim.Options{Seed: 11, Users: 2000, Groups: 2, AdministrativeUnits: 1, Applications: 1,
		Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	// 40 pages of 50 users at 150 ms each: a run of several seconds, with
	// a 3 s heartbeat timeout. ENTRAVAULT_MEASURE_RECOVERY=1 measures with
	// the production heartbeat timeout instead (the SDK then reports
	// heartbeats only every 16 s, so pages are made slow): about 2 minutes.
	latency, heartbeat := 150*time.Millisecond, 3*time.Second
	if os.Getenv("ENTRAVAULT_MEASURE_RECOVERY") == "1" {
		latency, heartbeat = 1500*time.Millisecond, 0
	}
	sim.Graph().SetFaults(graphapi.Faults{Latency: latency})
	spec := workerSpec{Temporal: srv.HostPort(), Queue: "killtest", RepoDir: t.TempDir(), Creds: sim.Credentials()}
	first := startWorkerProcess(t, spec)

	c, err := client.Dial(client.Options{HostPort: srv.HostPort()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "killtest-users", TaskQueue: spec.Queue}, workflows.ScopeBackupWorkflow,
		activities.BackupInput{ConnectorID: "c-0000000000000001", TenantID: spec.Creds.TenantID, RunID: "r1", Scope: connector.ScopeUsers,
			Time: time.Now().UTC(), HeartbeatTimeout: heartbeat})
	if err != nil {
		t.Fatal(err)
	}

	// Wait for a heartbeat carrying a checkpoint well into the run.
	var pagesAtKill int
	for pagesAtKill == 0 {
		desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), "")
		if err != nil {
			t.Fatal(err)
		}
		for _, pa := range desc.GetPendingActivities() {
			var hb struct {
				Checkpoint *json.RawMessage         `json:"checkpoint"`
				Pages      int                      `json:"pages"`
				Live       *activities.LiveProgress `json:"live"`
			}
			if pa.GetHeartbeatDetails() != nil && converter.GetDefaultDataConverter().FromPayloads(pa.GetHeartbeatDetails(), &hb) == nil &&
				hb.Checkpoint != nil && hb.Pages >= 10 {
				pagesAtKill = hb.Live.Pages
			}
		}
		if ctx.Err() != nil {
			t.Fatal("no checkpoint heartbeat before the deadline")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := first.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_, _ = first.Process.Wait()
	killedAt := time.Now()
	requestsAtKill := sim.Graph().Counters().Total.Requests
	startWorkerProcess(t, spec)
	// Recovery: the retried attempt's first heartbeat on the new worker.
	for recovered := false; !recovered; time.Sleep(100 * time.Millisecond) {
		desc, err := c.DescribeWorkflowExecution(ctx, run.GetID(), "")
		if err != nil {
			t.Fatal(err)
		}
		pas := desc.GetPendingActivities()
		if len(pas) == 0 {
			break // done already
		}
		for _, pa := range pas {
			if pa.GetAttempt() >= 2 && pa.GetLastHeartbeatTime().AsTime().After(killedAt) {
				recovered = true
				t.Logf("recovery: the backup resumed on the new worker %v after the kill", time.Since(killedAt).Round(100*time.Millisecond))
			}
		}
		if ctx.Err() != nil {
			t.Fatal("the backup never resumed")
		}
	}

	var res activities.BackupResult
	if err := run.Get(ctx, &res); err != nil {
		t.Fatal(err)
	}
	tenant := sim.Tenant()
	live := 0
	for i := 0; i < tenant.Len(model.KindUser); i++ {
		if tenant.IsLive(model.MakeRef(model.KindUser, int32(i))) {
			live++
		}
	}
	if res.Counts["user"] != live {
		t.Errorf("snapshot holds %d users, the tenant %d", res.Counts["user"], live)
	}
	total := sim.Graph().Counters().Total.Requests
	after := total - requestsAtKill
	// A restart from scratch would read all ~41 pages again; a resume reads
	// only what came after the last checkpoint.
	if after >= 41 || pagesAtKill < 10 {
		t.Errorf("second worker made %d requests after the kill at page %d (%d in all): not resumed", after, pagesAtKill, total)
	}
	t.Logf("killed at page %d after %d requests; the new worker made %d more", pagesAtKill, requestsAtKill, after)

	repo, err := repository.OpenLocal(ctx, spec.RepoDir)
	if err != nil {
		t.Fatal(err)
	}
	defer repo.Close()
	if rep, err := repo.Verify(ctx, repository.VerifyOptions{ReadDataPercent: 100}); err != nil || !rep.OK() {
		t.Errorf("verify after the kill: %v %+v", err, rep)
	}
}
