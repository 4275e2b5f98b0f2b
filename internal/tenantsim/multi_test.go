package tenantsim

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestSeveralTenantsInOneProcess: two tenants at one Graph URL and one
// authority host, told apart by the token; one application registration
// signs in to both; each has its own objects, control API and state file.
func TestSeveralTenantsInOneProcess(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Seed: 8, Users: 40, Tenants: 2, OtherTenantUsers: 5, DataDir: dir, StateFile: dir + "/state.json",
		Throttle: ThrottleConfig{Disabled: true}}
	s := NewTest(t, opts)
	all := s.Tenants()
	if len(all) != 2 || len(s.Credentials().Tenants) != 1 {
		t.Fatalf("%d tenants, %d in the credentials; want 2 and 1", len(all), len(s.Credentials().Tenants))
	}
	a, b := all[0], all[1]
	ca, cb := a.Credentials(), b.Credentials()
	if ca.TenantID == cb.TenantID || ca.TenantDomain == cb.TenantDomain {
		t.Fatalf("tenants not distinct: %s %s / %s %s", ca.TenantID, ca.TenantDomain, cb.TenantID, cb.TenantDomain)
	}
	if cb.GraphURL != ca.GraphURL || cb.AuthorityHost != ca.AuthorityHost || cb.BackupApp != ca.BackupApp || cb.RestoreApp != ca.RestoreApp {
		t.Fatalf("the second tenant is not served at the same URLs with the same applications:\n%+v\n%+v", ca, cb)
	}
	users := func(sim *Simulator) []map[string]any {
		var p page
		if st := get(t, token(t, sim, ca.BackupApp), ca.GraphURL+"/users?$top=999", &p); st != http.StatusOK {
			t.Fatalf("users of %s: %d", sim.Credentials().TenantDomain, st)
		}
		return p.Value
	}
	ua, ub := users(a), users(b)
	// A few of each start in the recycle bin.
	if len(ua) < 30 || len(ua) > 40 || len(ub) < 3 || len(ub) > 5 {
		t.Fatalf("users: %d and %d, want 30-40 and 3-5", len(ua), len(ub))
	}
	for domain, us := range map[string][]map[string]any{ca.TenantDomain: ua, cb.TenantDomain: ub} {
		for _, u := range us {
			if upn, _ := u["userPrincipalName"].(string); !strings.HasSuffix(upn, "@"+domain) {
				t.Fatalf("tenant %s serves %q", domain, upn)
			}
		}
	}
	// The second tenant's control API, by id or domain.
	base := strings.TrimSuffix(ca.GraphURL, "/v1.0")
	var got Credentials
	if st := get(t, "", base+"/_sim/tenants/"+cb.TenantDomain+"/credentials", &got); st != http.StatusOK || got.TenantID != cb.TenantID {
		t.Fatalf("control API of tenant B: %d %s", st, got.TenantID)
	}
	stateOf := func(sim *Simulator) string {
		resp, err := http.Get(strings.TrimSuffix(sim.GraphURL(), "/v1.0") + "/_sim/tenants/" + sim.Credentials().TenantID + "/state")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return string(raw)
	}
	b.Churn(40)
	stateB := stateOf(b)
	if stateB == stateDump(t, a) {
		t.Fatal("both tenants' states read the same")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// Both come back from their state files, with the same credentials.
	s2 := NewTest(t, opts)
	if b2 := s2.Tenants()[1]; stateOf(b2) != stateB || b2.Credentials().Admins[0].Password != cb.Admins[0].Password {
		t.Fatal("tenant B differs after a restart")
	}
}
