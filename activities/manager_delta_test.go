package activities_test

import (
	"context"
	"errors"
	"testing"

	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/internal/tenantsim/model"
)

// TestDeletedManagerLeavesReports: when a manager is deleted, Graph's users
// delta reports a change of manager for each report, so an incremental
// backup drops their manager links; restoring the manager brings them back.
func TestDeletedManagerLeavesReports(t *testing.T) {
	h := newHarness(t, tenantsim.Options{Seed: 5, Users: 200, Groups: 5, AdministrativeUnits: 1, Applications: 5})
	h.mustRun(h.input(connector.ScopeUsers))
	tenant := h.sim.Tenant()
	tenant.Lock()
	var manager int32 = -1
	var reports []string
	for i := range tenant.Users {
		if m := tenant.Users[i].Manager; m > model.RegularUser && tenant.IsLive(model.MakeRef(model.KindUser, int32(i))) {
			manager = m
			break
		}
	}
	for i := range tenant.Users {
		if tenant.Users[i].Manager == manager && tenant.IsLive(model.MakeRef(model.KindUser, int32(i))) {
			reports = append(reports, tenant.Meta(model.MakeRef(model.KindUser, int32(i))).ID.String())
		}
	}
	if err := tenant.Delete(model.MakeRef(model.KindUser, manager)); err != nil {
		t.Fatal(err)
	}
	tenant.Unlock()
	if manager < 0 || len(reports) == 0 {
		t.Fatal("no manager with reports in the tenant")
	}
	res := h.mustRun(h.input(connector.ScopeUsers))
	if !res.Incremental {
		t.Fatalf("the second run was not incremental: %+v", res)
	}
	for _, id := range reports {
		_, err := h.repo.Get(context.Background(), repository.SnapshotID(res.SnapshotID), "user.manager", id)
		if !errors.Is(err, repository.ErrNotFound) {
			t.Errorf("report %s still has its deleted manager in the backup (%v)", id, err)
		}
	}
}
