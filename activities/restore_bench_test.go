package activities_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/internal/tenantsim/model"
	"github.com/entravault/entravault/worker"
)

// restoreBudget is Graph's budgets at ten times their rate, so that 10,000
// undeletes take a minute rather than eight: 3,000 writes per app and
// tenant over 15 s instead of 2 min 30 s, and the read budget of a large
// tenant (8,000 resource units per 10 s) ten times over, so reads and
// writes keep the proportion they have on the real clock.
var restoreBudget = tenantsim.ThrottleConfig{Writes: 3000, WriteWindow: 15 * time.Second, IdentityRU: 80_000}

// BenchmarkRestoreApply restores users deleted after a backup of a 12k-user
// tenant (users and groups with members), as RestoreWorkflow does: live
// read, PlanRestore, then ApplyRestore, which alone is timed. Writes are
// paced at 97.5% of restoreBudget, the share the default 19.5 writes/s is
// of Graph's 20. %-of-budget is the simulator's count of writes per second
// of the apply over the budget's rate; …-while-writing counts from the
// first write to the last. members-missing counts the memberships of
// Graph-writable groups not back after the apply; Exchange's groups, whose
// members Graph cannot add, are counted apart. The latency variant delays
// every Graph answer by 5 ms: 50 ms on the budget's unscaled clock.
func BenchmarkRestoreApply(b *testing.B) {
	b.Run("soft-deleted-10k", func(b *testing.B) { benchRestoreApply(b, model.IncidentSoftDeleteUsers, 10_000, 0) })
	b.Run("hard-deleted-1k", func(b *testing.B) { benchRestoreApply(b, model.IncidentHardDeleteUsers, 1_000, 0) })
	b.Run("soft-deleted-2k-latency", func(b *testing.B) {
		benchRestoreApply(b, model.IncidentSoftDeleteUsers, 2_000, 5*time.Millisecond)
	})
}

func benchRestoreApply(b *testing.B, incident string, users int, latency time.Duration) {
	budget := float64(restoreBudget.Writes) / restoreBudget.WriteWindow.Seconds()
	var res activities.RestoreApplyResult
	var clock *graphClock
	var writes, throttled, early, missing, exchangeMissing int
	var apply time.Duration
	for b.Loop() {
		b.StopTimer()
		h := newHarness(b, tenantsim.Options{Seed: 1, Users: 12_000, Throttle: restoreBudget})
		h.b.Graph.(*worker.GraphFactory).PageSize = 0
		h.freshRepo(b)
		clock = &graphClock{GraphFactory: h.b.Graph}
		r := &activities.Restore{Graph: h.b.Graph, Writer: clock, Repo: h.repo, WritesPerSecond: 0.975 * budget}
		members, exchange := groupMembers(h.sim)
		snaps := h.readScopes("c1")
		h.incident(incident, users)
		plan := h.plan(r, snaps, h.readScopes(connector.LiveNamespace("c1")))
		h.sim.Graph().SetFaults(tenantsim.Faults{Latency: latency})
		before := h.sim.Graph().Counters()
		b.StartTimer()
		start := time.Now()
		runActivity(b, r, r.ApplyRestore, activities.RestoreApplyInput{ConnectorID: "c1", TenantID: h.tenant, RestoreID: "r1", Plan: plan.Plan}, &res)
		apply = time.Since(start)
		b.StopTimer()
		after := h.sim.Graph().Counters()
		writes, throttled = after.Total.Writes-before.Total.Writes, after.Total.Throttled-before.Total.Throttled
		early = after.Total.EarlyRetry - before.Total.EarlyRetry
		for route, c := range after.Routes {
			if was := before.Routes[route]; c.Throttled > 0 && (was == nil || c.Throttled > was.Throttled) {
				b.Logf("throttled: %s", route)
			}
		}
		m, e := groupMembers(h.sim)
		missing, exchangeMissing = members-m, exchange-e
		b.Logf("planned %v; applied %v", plan.Counts.ByKind, res.Counts.ByOutcome)
		if missing != 0 || res.Counts.ByOutcome[restore.Failed] > 0 {
			b.Errorf("%d memberships missing, %d actions failed", missing, res.Counts.ByOutcome[restore.Failed])
		}
		b.StartTimer()
	}
	span := clock.writes[len(clock.writes)-1].Sub(clock.writes[0]).Seconds()
	b.ReportMetric(apply.Seconds(), "apply-s")
	b.ReportMetric(float64(actionCount(res.Counts)), "actions")
	b.ReportMetric(float64(writes), "writes")
	b.ReportMetric(float64(writes)/apply.Seconds(), "writes/s")
	b.ReportMetric(100*float64(writes)/apply.Seconds()/budget, "%-of-budget")
	b.ReportMetric(100*float64(len(clock.writes)-1)/span/budget, "%-of-budget-while-writing")
	b.ReportMetric(clock.lookups.Seconds(), "lookup-s")
	b.ReportMetric(float64(early), "early-retries")
	b.ReportMetric(float64(throttled), "throttled")
	b.ReportMetric(float64(missing), "members-missing")
	b.ReportMetric(float64(exchangeMissing), "exchange-members-missing")
}

// BenchmarkRestorePlan plans the restore of a 100k-user tenant (10k
// groups with members) after 1% (10%) of its users were tampered with: only
// PlanRestore is timed, the backup and the live read are not.
// ENTRAVAULT_BENCH_SCALE=0.2 runs a fifth of it.
func BenchmarkRestorePlan(b *testing.B) {
	scale := 1.0
	if s := os.Getenv("ENTRAVAULT_BENCH_SCALE"); s != "" {
		fmt.Sscan(s, &scale)
	}
	for _, pct := range []float64{1, 10} {
		b.Run(fmt.Sprintf("tamper-%gpct", pct), func(b *testing.B) { benchRestorePlan(b, int(100_000*scale), pct) })
	}
}

func benchRestorePlan(b *testing.B, users int, pct float64) {
	h := newHarness(b, tenantsim.Options{Seed: 1, Users: users, Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	h.b.Graph.(*worker.GraphFactory).PageSize = 0
	h.freshRepo(b)
	r := &activities.Restore{Graph: h.b.Graph, Repo: h.repo}
	snaps := h.readScopes("c1")
	if _, err := h.sim.Incident(model.IncidentTamperUsers, pct); err != nil {
		b.Fatal(err)
	}
	live := h.readScopes(connector.LiveNamespace("c1"))
	var res activities.RestorePlanResult
	for b.Loop() {
		res = h.plan(r, snaps, live)
	}
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "plan-s")
	b.ReportMetric(float64(actionCount(res.Counts)), "actions")
}

// readScopes backs up users and groups (with members) in full into the
// repository connector ns and returns the snapshot of each.
func (h *harness) readScopes(ns string) map[connector.Scope]string {
	out := map[connector.Scope]string{}
	for _, sc := range []connector.Scope{connector.ScopeUsers, connector.ScopeGroups} {
		in := h.input(sc)
		in.ConnectorID, in.ForceFull = ns, true
		out[sc] = h.mustRun(in).SnapshotID
	}
	return out
}

// plan runs PlanRestore, snapshots against live reads, default options.
func (h *harness) plan(r *activities.Restore, snaps, live map[connector.Scope]string) activities.RestorePlanResult {
	var res activities.RestorePlanResult
	runActivity(h.t, r, r.PlanRestore, activities.RestorePlanInput{ConnectorID: "c1", TenantID: h.tenant, RestoreID: "r1",
		Snapshots: snaps, Live: live, Options: restore.DefaultOptions()}, &res)
	return res
}

// incident deletes exactly n users as kind does (soft or for good).
func (h *harness) incident(kind string, n int) {
	t, live := h.sim.Tenant(), 0
	t.RLock()
	for i := model.RegularUser + 1; int(i) < len(t.Users); i++ { // the sign-in accounts are spared
		if t.IsLive(model.MakeRef(model.KindUser, i)) {
			live++
		}
	}
	t.RUnlock()
	// Incident takes ceil(percent of live): aim half a user below n.
	rep, err := h.sim.Incident(kind, (float64(n)-0.5)*100/float64(live))
	if err != nil || len(rep.Affected[kind]) != n {
		h.t.Fatalf("incident %s: %d users, %v", kind, len(rep.Affected[kind]), err)
	}
}

// groupMembers counts the live members of the live groups Graph writes
// (security and Microsoft 365) and of Exchange's.
func groupMembers(sim *tenantsim.Simulator) (graph, exchange int) {
	t := sim.Tenant()
	t.RLock()
	defer t.RUnlock()
	for i := range t.Groups {
		g := model.MakeRef(model.KindGroup, int32(i))
		if !t.IsLive(g) {
			continue
		}
		if typ := t.Groups[i].Type; typ == model.GroupSecurity || typ == model.GroupM365 {
			graph += len(t.Members(g, false))
		} else {
			exchange += len(t.Members(g, false))
		}
	}
	return graph, exchange
}

func actionCount(c restore.Counts) (n int) {
	for _, k := range c.ByKind {
		n += k
	}
	return n
}

// graphClock wraps the apply's Graph: it records when each write was sent
// and adds up the time spent in lookups by natural key (GET …?$filter=).
type graphClock struct {
	activities.GraphFactory
	mu      sync.Mutex
	writes  []time.Time
	lookups time.Duration
}

func (f *graphClock) Renew(ctx context.Context, tenantID string) (activities.Graph, error) {
	g, err := f.GraphFactory.Renew(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	return clockedGraph{g.(activities.GraphWriter), f}, nil
}

type clockedGraph struct {
	activities.GraphWriter
	f *graphClock
}

func (g clockedGraph) Send(ctx context.Context, method, url string, body any) ([]byte, error) {
	start := time.Now()
	defer func() {
		g.f.mu.Lock()
		defer g.f.mu.Unlock()
		if method != http.MethodGet {
			g.f.writes = append(g.f.writes, start)
		} else if strings.Contains(url, "$filter=") {
			g.f.lookups += time.Since(start)
		}
	}()
	return g.GraphWriter.Send(ctx, method, url, body)
}

// runActivity runs fn, an activity method of act, in a test activity
// environment and decodes its result into out.
func runActivity(tb testing.TB, act, fn, in, out any) {
	tb.Helper()
	var s testsuite.WorkflowTestSuite
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	env := s.NewTestActivityEnvironment()
	env.RegisterActivity(act)
	v, err := env.ExecuteActivity(fn, in)
	if err != nil {
		tb.Fatal(err)
	}
	if err := v.Get(out); err != nil {
		tb.Fatal(err)
	}
}
