package prodtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/repository"
	_ "github.com/entravault/entravault/internal/repository/drivers" // azblob://
	"github.com/entravault/entravault/internal/tenantsim/graphapi"
	"github.com/entravault/entravault/workflows"
)

// chaosUsers is the tenant's size (issue 14: at least 50k users).
const chaosUsers = 50000

// chaosKills is how many times a worker is SIGKILLed.
const chaosKills = 20

// TestChaosNothingLostNothingTwice (issue 14) runs the production topology
// on a 50k-user tenant with churn between rounds and 20% injected Graph
// faults (5% each: 429 with Retry-After, 503, connection resets, truncated
// bodies), while a chaos goroutine SIGKILLs a random worker at random
// moments (at least chaosKills times, the other worker always left
// running, the killed one restarted with the same command), and restarts
// the Temporal server, PostgreSQL (immediate shutdown) and the api once
// each. Then: every run succeeded, the connector's runs are exactly
// Temporal's ScopeBackupWorkflow executions (none lost, none twice), the
// newest snapshot of each scope equals the simulator's ground truth object
// by object and link by link, `repo verify --read-data 100%` is clean,
// `repo prune` leaves no unreferenced pack and nothing missing, and Graph
// never saw a retry before its Retry-After.
//
// It is part of make test and takes about 7 minutes of both cores; alone:
//
//	go test ./internal/prodtest -run TestChaos -v -timeout 30m
func TestChaosNothingLostNothingTwice(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	st := startStackWith(t, ctx, stackOptions{users: chaosUsers})
	a, ps := st.api, st.ps
	simBase := st.graphBase
	tc := st.temporal

	dir := a.create(map[string]any{"name": "directory", "tenant": st.creds.TenantDomain, "kind": "directory",
		"scopes":   map[string]any{"users": true, "groups": map[string]any{"all": true, "members": true}},
		"schedule": map[string]any{"interval": "24h"}, "retention": map[string]any{"days": 7}})
	if dir.ConsentURL != "" {
		if code, page := a.consent(dir.ConsentURL, st.admin.UPN); code != http.StatusOK {
			t.Fatalf("consent: %d %s", code, page)
		}
	}
	scopes := []string{"users", "groups"}
	ca := &chaosAPI{a: a}
	ps.waitFor("connector active", 3*time.Minute, func() error {
		var v struct {
			Status    string `json:"status"`
			LastError string `json:"last_error"`
		}
		if err := ca.get("/api/v1/connectors/"+dir.ID, &v); err != nil {
			return err
		}
		if v.Status != "active" {
			return fmt.Errorf("status %s %s", v.Status, v.LastError)
		}
		return nil
	})
	chaosStart := time.Now()
	// 20% of authenticated Graph requests fail: 5% each.
	faults := graphapi.Faults{Rate429: 0.05, Rate503: 0.05, ResetRate: 0.05, TruncateRate: 0.05, RetryAfterSeconds: 1, Seed: 14}
	simPut(t, simBase+"/_sim/faults", faults)

	ch := &chaos{t: t, ctx: ctx, st: st, connector: dir.ID, done: make(chan struct{}), stop: make(chan struct{})}
	go ch.run()
	stopChaos := sync.OnceFunc(func() { close(ch.stop); <-ch.done })
	defer stopChaos()

	// Rounds: wait until no run is running, churn, run now; until the chaos
	// is over, then one more round after the last churn.
	type round struct {
		n         int
		began     time.Time
		took      time.Duration
		churn     map[string]int // the churn before it
		nextChurn map[string]int
		kills     int
		incr      bool
		requests  int
	}
	var rounds []round
	expectRuns := len(scopes) // the first backups start on activation
	for r, last := 0, false; ; r++ {
		began := time.Now()
		runs := ca.waitIdle(ps, dir.ID, expectRuns, 12*time.Minute)
		rd := round{n: r, began: began, took: time.Since(began), kills: ch.killCount()}
		for _, run := range runs[:len(scopes)] {
			if run.Result != nil {
				rd.requests += run.Result.Requests
				rd.incr = rd.incr || run.Result.Incremental
			}
		}
		if len(rounds) > 0 {
			rd.churn = rounds[len(rounds)-1].nextChurn
		}
		rounds = append(rounds, rd)
		t.Logf("round %d: %d runs ended after %s (kills so far %d, %d Graph requests)", r, expectRuns, rd.took.Round(time.Second), rd.kills, rd.requests)
		if last {
			break
		}
		// Once the chaos has done all it must, the round that starts now,
		// after the last churn, is the last.
		last = ch.finished()
		var cs map[string]int
		simPost(t, simBase+"/_sim/churn?percent=1", nil, &cs)
		ca.runNow(ps, dir.ID)
		expectRuns += len(scopes)
		rounds[len(rounds)-1].nextChurn = cs
	}
	stopChaos()
	simPut(t, simBase+"/_sim/faults", graphapi.Faults{})
	runs := ca.waitIdle(ps, dir.ID, expectRuns, 5*time.Minute)
	chaosTook := time.Since(chaosStart)
	t.Logf("chaos: %d worker kills (%d while a backup ran), temporal restarted in %s, postgresql in %s, api in %s; %d rounds, %d runs, in %s",
		ch.killCount(), ch.killsDuringBackup, ch.recovery["temporal"], ch.recovery["postgresql"], ch.recovery["api"],
		len(rounds), len(runs), chaosTook.Round(time.Second))
	wr := slices.Clone(ch.workerRecovery)
	slices.Sort(wr)
	if len(wr) > 0 {
		t.Logf("worker kill → restarted worker polling: min %s median %s max %s", wr[0], wr[len(wr)/2], wr[len(wr)-1])
	}
	if ch.killCount() < chaosKills {
		t.Errorf("only %d worker kills, want at least %d", ch.killCount(), chaosKills)
	}
	for _, what := range []string{"temporal", "postgresql", "api"} {
		if _, ok := ch.recovery[what]; !ok {
			t.Errorf("%s was never restarted", what)
		}
	}

	// Every run succeeded; none twice.
	seenRun, seenWF := map[string]bool{}, map[string]bool{}
	var durations []time.Duration
	for _, r := range runs {
		if r.Status != "succeeded" {
			t.Errorf("run %s (%s) ended %s: %s", r.RunID, r.Scope, r.Status, r.Error)
		}
		if seenRun[r.RunID] || seenWF[r.WorkflowID] {
			t.Errorf("run %s listed twice", r.RunID)
		}
		seenRun[r.RunID], seenWF[r.WorkflowID] = true, true
		durations = append(durations, r.End.Sub(r.Start))
	}
	if len(runs) != expectRuns {
		t.Errorf("%d runs listed, %d started", len(runs), expectRuns)
	}

	// The connector's runs are Temporal's visibility, execution for
	// execution.
	query := fmt.Sprintf("ConnectorId = '%s' AND WorkflowType = 'ScopeBackupWorkflow'", dir.ID)
	var execs map[string][]enumspb.WorkflowExecutionStatus
	ps.waitFor("visibility matches the connector's runs", time.Minute, func() error {
		execs = map[string][]enumspb.WorkflowExecutionStatus{}
		var token []byte
		for {
			resp, err := tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default", Query: query, NextPageToken: token, PageSize: 1000})
			if err != nil {
				return err
			}
			for _, e := range resp.Executions {
				execs[e.Execution.WorkflowId] = append(execs[e.Execution.WorkflowId], e.Status)
			}
			if token = resp.NextPageToken; len(token) == 0 {
				break
			}
		}
		var problems []string
		for id, sts := range execs {
			if !seenWF[id] {
				problems = append(problems, "not a run of the connector: "+id)
			}
			if len(sts) != 1 || sts[0] != enumspb.WORKFLOW_EXECUTION_STATUS_COMPLETED {
				problems = append(problems, fmt.Sprintf("%s: executions %v", id, sts))
			}
		}
		for id := range seenWF {
			if _, ok := execs[id]; !ok {
				problems = append(problems, "not in visibility: "+id)
			}
		}
		if len(problems) > 0 {
			sort.Strings(problems)
			return fmt.Errorf("%d problems: %s", len(problems), strings.Join(problems[:min(len(problems), 5)], "; "))
		}
		return nil
	})

	// Activity attempts: the retries the kills, restarts and faults cost.
	retries, maxAttempt := 0, 0
	for id := range seenWF {
		it := tc.GetWorkflowHistory(ctx, id, "", false, enumspb.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Errorf("history of %s: %v", id, err)
				break
			}
			if s := ev.GetActivityTaskStartedEventAttributes(); s != nil {
				retries += int(s.Attempt) - 1
				maxAttempt = max(maxAttempt, int(s.Attempt))
			}
		}
	}
	slices.Sort(durations)
	t.Logf("runs: %d, all distinct; activity retries %d (most attempts of one run %d); run durations min %s median %s max %s",
		len(runs), retries, maxAttempt, durations[0].Round(time.Second), durations[len(durations)/2].Round(time.Second),
		durations[len(durations)-1].Round(time.Second))

	// The newest snapshot of each scope is the tenant as it is now.
	t.Setenv("AZURE_STORAGE_ACCOUNT", azuriteAccount)
	t.Setenv("AZURE_STORAGE_KEY", azuriteKey)
	repo, err := repository.Open(ctx, repository.Config{BlobURL: envValue(st.workerEnv, "ENTRAVAULT_BLOB_URL"), SecretsURL: envValue(st.workerEnv, "ENTRAVAULT_SECRETS_URL")})
	if err != nil {
		t.Fatal(err)
	}
	gt := fetchGroundTruth(t, simBase)
	for _, scope := range scopes {
		var list api.SnapshotList
		a.get("/api/v1/connectors/"+dir.ID+"/snapshots?scope="+scope, &list)
		if len(list.Snapshots) == 0 {
			t.Fatalf("no %s snapshot", scope)
		}
		newest := list.Snapshots[0].ID
		for _, r := range runs { // newest first
			if string(r.Scope) == scope {
				if r.Result == nil || r.Result.SnapshotID != newest {
					t.Errorf("%s: the newest snapshot is %s, the last run's %+v", scope, newest, r.Result)
				}
				break
			}
		}
		want := gt.want(t, scope)
		got := storedObjects(t, ctx, repo, newest)
		n := 0
		for _, m := range want {
			n += len(m)
		}
		compareObjects(t, scope, want, got)
		t.Logf("%s: newest snapshot %s holds %d objects and links, as the tenant", scope, newest, n)
	}
	repo.Close()

	// The repository: clean, and clean again after prune with nothing
	// unreferenced left.
	verify := func(when string) repository.VerifyReport {
		start := time.Now()
		out := runStdout(t, ctx, st.workerEnv, st.workDir, st.bins.entravault, "repo", "verify", "--read-data", "100%", "--json")
		var rep repository.VerifyReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("verify --json: %v: %s", err, out)
		}
		if !rep.OK() || rep.PacksRead != rep.Packs {
			t.Errorf("verify %s: %d problems, %d of %d packs read: %+v", when, len(rep.Problems), rep.PacksRead, rep.Packs, rep.Problems)
		}
		t.Logf("verify --read-data 100%% %s: %d snapshots, %d packs read (%d bytes), %d blobs re-hashed, %d unreferenced packs, in %s",
			when, rep.Snapshots, rep.PacksRead, rep.BytesRead, rep.BlobsRehashed, len(rep.UnreferencedPacks), time.Since(start).Round(time.Second))
		return rep
	}
	verify("after the chaos")
	// SIGKILLed workers leave their shared locks in the bucket; prune
	// must see that their holders exited (same host) and run at once.
	out := runStdout(t, ctx, st.workerEnv, st.workDir, st.bins.entravault, "repo", "prune", "--json")
	var pr repository.PruneReport
	if err := json.Unmarshal([]byte(out), &pr); err != nil {
		t.Fatalf("prune --json: %v: %s", err, out)
	}
	t.Logf("prune: %d snapshots kept, %d packs deleted (%d unreferenced), %d bytes freed", pr.Kept, pr.PacksDeleted, pr.UnreferencedPacks, pr.BytesFreed)
	// `repo unlock` then clears what the killed workers left, and only that.
	var removed []repository.LockInfo
	if out := runStdout(t, ctx, st.workerEnv, st.workDir, st.bins.entravault, "repo", "unlock", "--json"); json.Unmarshal([]byte(out), &removed) != nil {
		t.Fatalf("unlock --json: %s", out)
	}
	for _, l := range removed {
		if l.Gone == "" {
			t.Errorf("unlock removed a held lock: %+v", l)
		}
	}
	// With that many kills during backups some held a lock: otherwise the
	// prune above proved nothing about exited holders.
	if ch.killsDuringBackup >= 10 && len(removed) == 0 {
		t.Errorf("%d kills during backups left no lock behind", ch.killsDuringBackup)
	}
	t.Logf("repo unlock removed %d locks of killed workers", len(removed))
	if after := verify("after prune"); len(after.UnreferencedPacks) > 0 {
		t.Errorf("after prune, %d packs are still unreferenced", len(after.UnreferencedPacks))
	}

	// No retry before its Retry-After.
	var counters graphapi.Snapshot
	simGet(t, simBase+"/_sim/counters", &counters)
	t.Logf("Graph: %d requests, %d throttled, %d injected faults, %d early retries",
		counters.Total.Requests, counters.Total.Throttled, counters.Total.FaultsCount, counters.Total.EarlyRetry)
	if counters.Total.EarlyRetry != 0 {
		t.Errorf("%d retries came before their Retry-After", counters.Total.EarlyRetry)
	}
	for _, rd := range rounds {
		t.Logf("round %d: churn %v, %s, kills before its end %d, incremental %v, %d requests", rd.n, rd.churn, rd.took.Round(time.Second), rd.kills, rd.incr, rd.requests)
	}
	took := time.Since(st.began)
	t.Logf("whole chaos test (stack up to verdict) %s", took.Round(time.Second))
	if took > 10*time.Minute {
		t.Errorf("the chaos test took %s, over its ten-minute bound", took.Round(time.Second))
	}
}

// chaos kills workers and restarts the rest of the stack while backups run.
type chaos struct {
	t         *testing.T
	ctx       context.Context
	st        *stack
	connector string
	stop      chan struct{}
	done      chan struct{}

	mu                sync.Mutex
	kills             int
	killsDuringBackup int
	over              bool
	recovery          map[string]time.Duration
	workerSeq         int
	workers           map[string]*proc // worker slot → its running process
	workerRecovery    []time.Duration  // kill to the new worker polling
}

func (c *chaos) killCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.kills
}

// finished reports that every planned kill and restart has happened.
func (c *chaos) finished() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.over
}

func (c *chaos) sleep(d time.Duration) bool {
	select {
	case <-c.stop:
		return false
	case <-time.After(d):
		return true
	}
}

// run: kill a random worker every 6–14 s (restarting it 0–3 s later, the
// other one running all along), chaosKills times; after kills 5, 10 and
// 15 restart Temporal, PostgreSQL and the api.
func (c *chaos) run() {
	defer close(c.done)
	c.recovery = map[string]time.Duration{}
	ps := c.st.ps
	c.workers = map[string]*proc{"worker-1": ps.byName("worker-1"), "worker-2": ps.byName("worker-2")}
	for k := 1; ; k++ {
		if !c.sleep(time.Duration(6000+mrand.IntN(8000)) * time.Millisecond) {
			return
		}
		name := []string{"worker-1", "worker-2"}[mrand.IntN(2)]
		pr := c.workers[name]
		if pr == nil {
			c.t.Errorf("chaos: no %s to kill", name)
			return
		}
		during := c.backupRunning()
		at := ps.kill(pr, syscall.SIGKILL, time.Second)
		c.mu.Lock()
		c.kills++
		if during {
			c.killsDuringBackup++
		}
		c.workerSeq++
		seq := c.workerSeq
		c.mu.Unlock()
		killedAt := time.Now()
		stopped := !c.sleep(time.Duration(mrand.IntN(3000)) * time.Millisecond)
		np := ps.restart(pr, at, fmt.Sprintf("%s.%d", name, seq))
		c.workers[name] = np
		if stopped {
			return
		}
		// The new worker polls before anything else is done to the stack: a
		// worker that cannot reach Temporal when it starts exits (a
		// supervisor would start it again; this test is that supervisor).
		c.awaitRecovery("", killedAt, func() error {
			if ok, err := np.exited(); ok {
				return fmt.Errorf("exited: %v", err)
			}
			raw, _ := os.ReadFile(np.logPath)
			if !bytes.Contains(raw, []byte(`"msg":"worker polling"`)) {
				return fmt.Errorf("%s not polling yet", np.name)
			}
			return nil
		})
		switch k {
		case 5:
			c.restartTemporal()
		case 10:
			c.restartPostgres()
		case 15:
			c.restartAPI()
		}
		if k >= chaosKills {
			c.mu.Lock()
			c.over = true
			c.mu.Unlock()
			return
		}
	}
}

// backupRunning asks visibility whether a backup runs (best effort: false
// while Temporal is away).
func (c *chaos) backupRunning() bool {
	ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
	defer cancel()
	resp, err := c.st.temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: "default",
		Query: fmt.Sprintf("ConnectorId = '%s' AND WorkflowType = 'ScopeBackupWorkflow' AND ExecutionStatus = 'Running'", c.connector)})
	return err == nil && resp.Count > 0
}

// awaitRecovery polls ok until it holds and records how long that took.
func (c *chaos) awaitRecovery(what string, since time.Time, ok func() error) {
	var last error
	for time.Since(since) < 3*time.Minute {
		if last = ok(); last == nil {
			d := time.Since(since).Round(100 * time.Millisecond)
			c.mu.Lock()
			defer c.mu.Unlock()
			if what == "" { // a worker: kill to polling again
				c.workerRecovery = append(c.workerRecovery, d)
				return
			}
			c.recovery[what] = d
			c.t.Logf("chaos: %s back after %s", what, d)
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Errorf("chaos: %s not back within 3 minutes: %v", what, last)
}

func (c *chaos) restartTemporal() {
	ps := c.st.ps
	pr := ps.byName("temporal")
	since := time.Now()
	at := ps.kill(pr, syscall.SIGKILL, time.Second)
	ps.restart(pr, at, "temporal.2")
	c.awaitRecovery("temporal", since, func() error {
		ctx, cancel := context.WithTimeout(c.ctx, 2*time.Second)
		defer cancel()
		_, err := c.st.temporal.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
		if err != nil {
			return err
		}
		if _, err = c.st.temporal.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Namespace: "default"}); err != nil {
			return err
		}
		// The history service owns its shards again.
		_, err = c.st.temporal.DescribeWorkflowExecution(ctx, workflows.ConnectorWorkflowID(c.connector), "")
		return err
	})
}

// restartPostgres stops PostgreSQL as `pg_ctl stop -m immediate` does
// (SIGQUIT: no checkpoint, crash recovery at the next start) and starts it
// again on its port and folder.
func (c *chaos) restartPostgres() {
	ps := c.st.ps
	pr := ps.byName("postgresql")
	port := ""
	for i, arg := range pr.cmd.Args {
		if arg == "-p" && i+1 < len(pr.cmd.Args) {
			port = pr.cmd.Args[i+1]
		}
	}
	since := time.Now()
	at := ps.kill(pr, syscall.SIGQUIT, 10*time.Second)
	ps.restart(pr, at, "postgresql.2")
	bin := postgresBinDir(c.t)
	c.awaitRecovery("postgresql", since, func() error {
		out, err := exec.Command(filepath.Join(bin, "pg_isready"), "-h", "127.0.0.1", "-p", port).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
}

func (c *chaos) restartAPI() {
	ps := c.st.ps
	pr := ps.byName("api")
	since := time.Now()
	at := ps.kill(pr, syscall.SIGKILL, time.Second)
	ps.restart(pr, at, "api.2")
	c.awaitRecovery("api", since, func() error { return httpOK(c.st.api.base + "/readyz") })
}

// chaosAPI calls the REST API and tolerates the api being away (restarted).
type chaosAPI struct{ a *apiClient }

func (c *chaosAPI) get(path string, into any) error {
	resp, err := c.a.do("GET", path, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, raw)
	}
	return json.Unmarshal(raw, into)
}

// waitIdle waits until the connector lists n runs, none running, and
// returns them (newest first).
func (c *chaosAPI) waitIdle(ps *procs, id string, n int, timeout time.Duration) []api.RunView {
	var runs []api.RunView
	ps.waitFor(fmt.Sprintf("%d runs of %s ended", n, id), timeout, func() error {
		var v struct {
			Runs []api.RunView `json:"runs"`
		}
		if err := c.get("/api/v1/connectors/"+id+"/runs", &v); err != nil {
			return err
		}
		runs = v.Runs
		running := 0
		for _, r := range runs {
			if r.Status == "running" {
				running++
			}
		}
		if len(runs) < n || running > 0 {
			return fmt.Errorf("%d runs, %d running", len(runs), running)
		}
		return nil
	})
	return runs
}

// runNow asks for a backup of every scope, retrying while the api or
// Temporal is away.
func (c *chaosAPI) runNow(ps *procs, id string) {
	ps.waitFor("run now accepted", 3*time.Minute, func() error {
		resp, err := c.a.do("POST", "/api/v1/connectors/"+id+"/backups", nil)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusAccepted {
			return fmt.Errorf("%d %s", resp.StatusCode, raw)
		}
		return nil
	})
}

func simPut(t *testing.T, u string, body any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("PUT", u, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT %s: %d %s", u, resp.StatusCode, raw)
	}
}

func simGet(t *testing.T, u string, into any) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

// envValue is k's value in env (KEY=VALUE entries).
func envValue(env []string, k string) string {
	for _, kv := range env {
		if key, v, ok := strings.Cut(kv, "="); ok && key == k {
			return v
		}
	}
	return ""
}
