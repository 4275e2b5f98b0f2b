package activities_test

import (
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/worker"
)

// BenchmarkRestoreCrossTenant restores the users and groups (with members)
// of a 10k-user tenant A into a nearly empty tenant B served by the same
// simulator, as RestoreWorkflow does with target_connector: live read of
// B, PlanRestore (matching, domain map A → B), then ApplyRestore, each
// timed. Budgets are restoreBudget's (ten times Graph's rates). A second
// plan must find nothing left to write.
func BenchmarkRestoreCrossTenant(b *testing.B) {
	var plan, apply time.Duration
	var planned activities.RestorePlanResult
	var res activities.RestoreApplyResult
	var writes, early int
	for b.Loop() {
		b.StopTimer()
		h := newHarness(b, tenantsim.Options{Seed: 1, Users: scaledUsers(10_000), Tenants: 2, OtherTenantUsers: 3, Throttle: restoreBudget})
		h.b.Graph.(*worker.GraphFactory).PageSize = 0
		h.freshRepo(b)
		target := h.sim.Tenants()[1]
		budget := float64(restoreBudget.Writes) / restoreBudget.WriteWindow.Seconds()
		r := &activities.Restore{Graph: h.b.Graph, Repo: h.repo, WritesPerSecond: 0.975 * budget}
		snaps := h.readScopes("c1")
		into := func() activities.RestorePlanInput {
			return activities.RestorePlanInput{ConnectorID: "c1", TenantID: target.Credentials().TenantID, RestoreID: "r1",
				Snapshots: snaps, Live: h.readScopesOf(connector.LiveNamespace("c2"), target.Credentials().TenantID),
				Options: restore.DefaultOptions(), IDMap: restore.PairIDMap(h.tenant, target.Credentials().TenantID),
				Cross: &activities.CrossTenant{SourceTenantID: h.tenant}}
		}
		in := into()
		before := target.Graph().Counters()
		b.StartTimer()
		start := time.Now()
		runActivity(b, r, r.PlanRestore, in, &planned)
		plan = time.Since(start)
		start = time.Now()
		runActivity(b, r, r.ApplyRestore, activities.RestoreApplyInput{ConnectorID: "c1", TenantID: in.TenantID, RestoreID: "r1",
			Plan: planned.Plan, IDMap: in.IDMap}, &res)
		apply = time.Since(start)
		b.StopTimer()
		after := target.Graph().Counters()
		writes, early = after.Total.Writes-before.Total.Writes, after.Total.EarlyRetry-before.Total.EarlyRetry
		b.Logf("planned %v; applied %v", planned.Counts.ByKind, res.Counts.ByOutcome)
		if res.Counts.ByOutcome[restore.Failed] > 0 {
			b.Errorf("%d actions failed", res.Counts.ByOutcome[restore.Failed])
		}
		var again activities.RestorePlanResult
		in = into()
		in.RestoreID = "r2"
		runActivity(b, r, r.PlanRestore, in, &again)
		for kind, n := range again.Counts.ByKind {
			if kind != restore.Skip && n > 0 {
				b.Errorf("a second plan holds %d %s", n, kind)
			}
		}
		b.StartTimer()
	}
	b.ReportMetric(plan.Seconds(), "plan-s")
	b.ReportMetric(apply.Seconds(), "apply-s")
	b.ReportMetric(float64(actionCount(planned.Counts)), "actions")
	b.ReportMetric(float64(res.Created), "ids-created")
	b.ReportMetric(float64(writes), "writes")
	b.ReportMetric(float64(writes)/apply.Seconds(), "writes/s")
	b.ReportMetric(float64(early), "early-retries")
}

// readScopesOf is readScopes of another tenant of the simulator.
func (h *harness) readScopesOf(ns, tenantID string) map[connector.Scope]string {
	out := map[connector.Scope]string{}
	for _, sc := range []connector.Scope{connector.ScopeUsers, connector.ScopeGroups} {
		in := h.input(sc)
		in.ConnectorID, in.TenantID, in.ForceFull = ns, tenantID, true
		out[sc] = h.mustRun(in).SnapshotID
	}
	return out
}

// scaledUsers is n scaled by ENTRAVAULT_BENCH_SCALE (default 1).
func scaledUsers(n int) int {
	if f, err := strconv.ParseFloat(os.Getenv("ENTRAVAULT_BENCH_SCALE"), 64); err == nil && f > 0 {
		return int(float64(n) * f)
	}
	return n
}
