package devstack

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/internal/tenantsim/graphapi"
	"github.com/entravault/entravault/internal/tenantsim/model"
	"github.com/entravault/entravault/workflows"
)

// TestRestoreConditionalAccessPacing re-creates 50 conditional-access
// policies and the 20 named locations they use against the simulator's
// Graph limit of one conditional-access request a second per tenant,
// whose 429s carry no Retry-After. The restore paces itself: it is never
// throttled there and never retries early. The limit is Graph's own (not
// scaled): the apply takes two requests an object (a lookup by name, the
// create), so a little over two minutes.
func TestRestoreConditionalAccessPacing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	h := newHarnessWith(t, ctx, tenantsim.Options{Seed: 11, Users: 30, Groups: 5, AdministrativeUnits: 1, Applications: 3, LogsPerDay: 1})
	tenant := h.stack.Simulator().Tenant()
	tenant.Lock()
	addPolicies(t, tenant, 50, 20)
	tenant.Unlock()

	connectorID := h.restorableConnector("ca", map[string]any{"policies": map[string]any{"conditional_access": true, "named_locations": true}})
	h.incident(model.IncidentDeleteNamedLocations, 100)
	h.incident(model.IncidentDeleteCAPolicies, 100)

	graph := h.stack.Simulator().Graph()
	before := graph.Counters()
	began := time.Now()
	rid := h.startRestore(connectorID, map[string]any{"apply": true})
	done := h.waitRestoreFor(connectorID, rid, 8*time.Minute, workflows.RestoreSucceeded, workflows.RestorePartiallySucceeded)
	took := time.Since(began)
	if done.Status != workflows.RestoreSucceeded {
		t.Fatalf("restore %s: %+v", done.Status, h.actions(connectorID, rid, "outcome=failed"))
	}
	if n := done.Planned.ByKind[restore.Recreate]; n != 70 {
		t.Errorf("planned %d re-creates, want 50 policies and 20 locations", n)
	}
	// The live read and the apply take turns with every other
	// conditional-access request of the tenant on this worker.
	after := graph.Counters()
	ca, throttled, early := caTraffic(before, after)
	if throttled != 0 || early != 0 {
		t.Errorf("%d conditional-access requests, %d throttled, %d early retries\n%s", ca, throttled, early, throttledRoutes(before, after))
	}
	t.Logf("70 conditional-access objects planned and re-created in %v: %d writes, %d conditional-access requests (%.2f/s), 0 throttled, 0 early retries",
		took.Round(100*time.Millisecond), done.Writes, ca, float64(ca)/took.Seconds())
	h.replanWritesNothing(connectorID, done)
}

// addPolicies brings the tenant to policies conditional-access policies
// and locations named locations, each added policy using one location.
// The caller holds the tenant's lock.
func addPolicies(t *testing.T, tenant *model.Tenant, policies, locations int) {
	t.Helper()
	var ids []string
	for i := tenant.Len(model.KindNamedLocation); i < locations; i++ {
		r, err := tenant.Create(model.KindNamedLocation, map[string]any{"@odata.type": "#microsoft.graph.ipNamedLocation",
			"displayName": fmt.Sprintf("Branch office %02d", i), "isTrusted": true,
			"ipRanges": []any{map[string]any{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": fmt.Sprintf("198.51.%d.0/24", i)}}})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tenant.Meta(r).ID.String())
	}
	for i := tenant.Len(model.KindCAPolicy); i < policies; i++ {
		_, err := tenant.Create(model.KindCAPolicy, map[string]any{"displayName": fmt.Sprintf("Block outside branch %02d", i),
			"state": "enabledForReportingButNotEnforced",
			"conditions": map[string]any{"clientAppTypes": []any{"all"},
				"applications": map[string]any{"includeApplications": []any{"All"}, "excludeApplications": []any{}},
				"users":        map[string]any{"includeUsers": []any{"All"}, "excludeUsers": []any{tenant.Users[model.AdminUser].ID.String()}},
				"locations":    map[string]any{"includeLocations": []any{"All"}, "excludeLocations": []any{ids[i%len(ids)]}}},
			"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{"block"}}})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// caTraffic sums the conditional-access requests and their 429s between
// two counter snapshots, and every early retry.
func caTraffic(before, after graphapi.Snapshot) (requests, throttled, early int) {
	for route, c := range after.Routes {
		b := before.Routes[route]
		if b == nil {
			b = &graphapi.RouteCount{}
		}
		if strings.Contains(route, "conditionalAccess") {
			requests += c.Requests - b.Requests
			throttled += c.Throttled - b.Throttled
		}
	}
	return requests, throttled, after.Total.EarlyRetry - before.Total.EarlyRetry
}

// throttledRoutes lists the routes throttled between two snapshots.
func throttledRoutes(before, after graphapi.Snapshot) string {
	var out []string
	for route, c := range after.Routes {
		b := before.Routes[route]
		if b == nil {
			b = &graphapi.RouteCount{}
		}
		if c.Throttled > b.Throttled {
			out = append(out, fmt.Sprintf("%s: %d requests, %d throttled", route, c.Requests-b.Requests, c.Throttled-b.Throttled))
		}
	}
	return strings.Join(out, "\n")
}

// waitRestoreFor is waitRestore with a deadline of its own.
func (h *harness) waitRestoreFor(connectorID, rid string, limit time.Duration, done ...workflows.RestoreStatus) api.RestoreView {
	h.t.Helper()
	var v api.RestoreView
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(time.Second) {
		v = api.RestoreView{}
		h.call("GET", "/api/v1/connectors/"+connectorID+"/restores/"+rid, nil, &v)
		for _, st := range done {
			if v.Status == st {
				return v
			}
		}
		if v.Status == workflows.RestoreFailed || v.Status == workflows.RestoreCancelled {
			break
		}
	}
	h.t.Fatalf("restore %s never reached %v: %+v", rid, done, v)
	return v
}
