package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/workflows"
)

// TestRestoreIntoAnotherTenant backs up tenant A and restores all of it
// into a nearly empty tenant B served by the same simulator: B then holds
// A's users, groups, units and links, addresses moved to B's domain; a
// second restore writes nothing; a name two of B's objects share is
// reported, never guessed.
func TestRestoreIntoAnotherTenant(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	h := newHarnessWith(t, ctx, tenantsim.Options{Seed: 21, Users: 40, Groups: 8, AdministrativeUnits: 3, Applications: 5,
		LogsPerDay: 5, Tenants: 2, OtherTenantUsers: 4})
	a, b := h.creds, h.creds.Tenants[0]
	adminOf := func(c tenantsim.Credentials) string { return c.Admins[0].UPN } // the Global Administrator
	source, target := h.backedUp(a.TenantDomain, "tenant A", adminOf(a)), h.backedUp(b.TenantDomain, "tenant B", adminOf(b))
	h.consentToRestoreAs(target, adminOf(b))

	// Reads go through each tenant's backup application, writes through
	// B's restore application: what each was consented for.
	ga, gb := h.graphAs(a, a.BackupApp), h.graphAs(b, b.BackupApp)

	// One more unit in B with the name of one of A's: then at least two of
	// B's could be its twin. Every A unit whose name B holds twice or more
	// must be reported, with B's candidates.
	unitsA := ga.list("/directory/administrativeUnits")
	twinName := unitsA[0]["displayName"].(string)
	h.graphAs(b, b.RestoreApp).post("/directory/administrativeUnits", map[string]any{"displayName": twinName})
	namesB := map[string]int{}
	for _, u := range gb.list("/directory/administrativeUnits") {
		namesB[u["displayName"].(string)]++
	}
	wantAmbiguous := map[string]int{}
	for _, u := range unitsA {
		if n := namesB[u["displayName"].(string)]; n > 1 {
			wantAmbiguous[u["displayName"].(string)] = n
		}
	}

	// Every bad request is refused before anything starts.
	for _, body := range []map[string]any{
		{"target_connector": source},
		{"target_connector": target, "options": map[string]any{"remove_added": true}},
		{"target_connector": target, "domain_map": map[string]any{"contoso": "x"}},
		{"domain_map": map[string]any{a.TenantDomain: b.TenantDomain}},
	} {
		if code := h.call("POST", "/api/v1/connectors/"+source+"/restores", body, nil); code != http.StatusBadRequest {
			t.Errorf("restore %v: %d, want 400", body, code)
		}
	}

	into := map[string]any{"target_connector": target}
	plan := h.waitRestore(source, h.startRestore(source, into), workflows.RestorePlanned)
	gotAmbiguous, skip := map[string]int{}, map[string]bool{}
	for _, act := range h.actions(source, plan.ID, "kind=skip") {
		if !strings.HasPrefix(act.Reason, "ambiguous") {
			continue
		}
		skip[act.Name] = true
		if act.Type == "administrativeUnit" {
			gotAmbiguous[act.Name] = len(act.Links)
		}
	}
	if !maps.Equal(gotAmbiguous, wantAmbiguous) || wantAmbiguous[twinName] < 2 {
		t.Fatalf("ambiguous units: %v, want %v (with %q)", gotAmbiguous, wantAmbiguous, twinName)
	}
	if plan.Planned.ByKind[restore.Recreate] < 30 {
		t.Fatalf("plan into an empty tenant re-creates %d objects: %+v", plan.Planned.ByKind[restore.Recreate], plan.Planned)
	}
	before := h.writesAt("/_sim/tenants/" + b.TenantID)
	applied := h.applyAndWait(source, plan.ID)
	t.Logf("restore into tenant B: %v planned, %v applied, %d writes, %d ids created",
		applied.Planned.ByKind, applied.Applied.ByOutcome, h.writesAt("/_sim/tenants/"+b.TenantID)-before, applied.IDsCreated)
	if applied.Applied.ByOutcome[restore.Failed] > 0 {
		t.Fatalf("failed actions: %+v", h.actions(source, plan.ID, "outcome=failed"))
	}

	compareTenants(t, ga, gb, a.TenantDomain, b.TenantDomain, skip)

	// Again: everything is found through the pair's id map; nothing to write.
	before = h.writesAt("/_sim/tenants/" + b.TenantID)
	again := h.waitRestore(source, h.startRestore(source, map[string]any{"target_connector": target, "apply": true}),
		workflows.RestoreSucceeded, workflows.RestorePartiallySucceeded)
	for kind, n := range again.Planned.ByKind {
		if kind != restore.Skip && n > 0 {
			t.Errorf("second restore plans %d %s: %+v", n, kind, h.actions(source, again.ID, "kind="+string(kind)))
		}
	}
	if w := h.writesAt("/_sim/tenants/"+b.TenantID) - before; w != 0 {
		t.Errorf("second restore wrote %d times", w)
	}
}

// backedUp creates a directory connector for tenant, has upn consent and
// waits for its first snapshots.
func (h *harness) backedUp(tenant, name, upn string) string {
	h.t.Helper()
	c := h.create(restoreConnector(tenant, name))
	if code, page := h.signIn(c.ConsentURL, "accept", upn); code != http.StatusOK {
		h.t.Fatalf("consent for %s: %d %s", tenant, code, page)
	}
	h.waitFor(c.ID, "first snapshots of "+tenant, func(v connectorView) bool {
		for _, s := range []string{"users", "groups", "administrative_units", "roles"} {
			if v.Scopes[s].LastStatus != "succeeded" {
				return false
			}
		}
		return true
	})
	return c.ID
}

// applyAndWait applies a planned restore and waits for its end.
func (h *harness) applyAndWait(connectorID, rid string) api.RestoreView {
	h.t.Helper()
	if code := h.call("POST", "/api/v1/connectors/"+connectorID+"/restores/"+rid+"/apply", nil, nil); code != http.StatusOK && code != http.StatusAccepted {
		h.t.Fatalf("apply: %d", code)
	}
	return h.waitRestore(connectorID, rid, workflows.RestoreSucceeded, workflows.RestorePartiallySucceeded, workflows.RestoreFailed)
}

// compareTenants checks that B holds A's users (by UPN, domain mapped),
// groups (by mailNickname) and units (by name) with the same restorable
// properties and members; skip names the objects left ambiguous.
func compareTenants(t *testing.T, ga, gb *graphCaller, fromDomain, toDomain string, skip map[string]bool) {
	t.Helper()
	moved := func(upn string) string {
		at := strings.LastIndexByte(upn, '@')
		if at >= 0 && strings.EqualFold(upn[at+1:], fromDomain) {
			return strings.ToLower(upn[:at+1] + toDomain)
		}
		return strings.ToLower(upn)
	}
	usersB := map[string]map[string]any{}
	upnOfB := map[string]string{}
	for _, u := range gb.list("/users") {
		upn := strings.ToLower(u["userPrincipalName"].(string))
		usersB[upn], upnOfB[u["id"].(string)] = u, upn
	}
	upnOfA := map[string]string{}
	for _, u := range ga.list("/users") {
		upnOfA[u["id"].(string)] = moved(u["userPrincipalName"].(string))
		twin := usersB[moved(u["userPrincipalName"].(string))]
		if twin == nil {
			t.Errorf("user %s is not in tenant B", u["userPrincipalName"])
			continue
		}
		for _, prop := range []string{"displayName", "givenName", "surname", "jobTitle", "department", "accountEnabled"} {
			if !equalJSON(u[prop], twin[prop]) {
				t.Errorf("user %s: %s %v in A, %v in B", u["userPrincipalName"], prop, u[prop], twin[prop])
			}
		}
	}
	members := func(g *graphCaller, path string, upnOf map[string]string) []string {
		var out []string
		for _, m := range g.list(path) {
			if upn := upnOf[m["id"].(string)]; upn != "" {
				out = append(out, upn)
			}
		}
		sort.Strings(out)
		return out
	}
	for _, pair := range []struct{ path, key string }{{"/groups", "mailNickname"}, {"/directory/administrativeUnits", "displayName"}} {
		inB := map[string]map[string]any{}
		for _, o := range gb.list(pair.path) {
			inB[o[pair.key].(string)] = o
		}
		for _, o := range ga.list(pair.path) {
			name := o[pair.key].(string)
			if skip[name] || skip[o["displayName"].(string)] || o["mailEnabled"] == true {
				continue // ambiguous, or managed in Exchange Online (the plan says so)
			}
			twin := inB[name]
			if twin == nil {
				t.Errorf("%s %q is not in tenant B", pair.path, name)
				continue
			}
			// B's own members of a twin it had already stay: a restore
			// into another tenant removes nothing.
			ma, mb := members(ga, pair.path+"/"+o["id"].(string)+"/members", upnOfA), members(gb, pair.path+"/"+twin["id"].(string)+"/members", upnOfB)
			if missing := without(ma, mb); len(missing) > 0 {
				t.Errorf("%s %q: members %v of A are not members in B", pair.path, name, missing)
			}
		}
	}
}

// without is what of a is not in b.
func without(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// graphCaller calls the simulated Graph as an application in one tenant
// (client credentials), as a script would.
type graphCaller struct {
	t     testing.TB
	h     *harness
	base  string
	token string
}

func (h *harness) graphAs(c tenantsim.Credentials, app tenantsim.AppCredentials) *graphCaller {
	h.t.Helper()
	tok := h.redeemIn(c.TenantID, url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ClientID},
		"client_secret": {app.ClientSecret}, "scope": {"https://graph.microsoft.com/.default"}})
	return &graphCaller{t: h.t, h: h, base: c.GraphURL, token: tok.Access}
}

func (g *graphCaller) do(method, path string, body any) []byte {
	g.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	for {
		req, _ := http.NewRequestWithContext(g.h.ctx, method, g.base+path, rd)
		req.Header.Set("Authorization", "Bearer "+g.token)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			g.t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests && body == nil {
			time.Sleep(time.Second)
			continue
		}
		if resp.StatusCode >= 300 {
			g.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
		return raw
	}
}

func (g *graphCaller) post(path string, body any) { g.do("POST", path, body) }

// list reads every page of a collection.
func (g *graphCaller) list(path string) []map[string]any {
	g.t.Helper()
	var out []map[string]any
	next := path + "?$top=999"
	for next != "" {
		var page struct {
			Value []map[string]any `json:"value"`
			Next  string           `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(g.do("GET", next, nil), &page); err != nil {
			g.t.Fatal(err)
		}
		out = append(out, page.Value...)
		next = strings.TrimPrefix(page.Next, g.base)
	}
	return out
}
