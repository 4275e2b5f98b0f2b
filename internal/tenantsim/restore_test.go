package tenantsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entravault/entravault/internal/tenantsim/model"
)

// graphClient sends raw Graph requests as the restore engine does.
type graphClient struct {
	t    *testing.T
	base string
	tok  string
}

func newGraphClient(t *testing.T, s *Simulator) graphClient {
	return graphClient{t: t, base: s.GraphURL(), tok: token(t, s, s.Credentials().BackupApp)}
}

// do sends one request; body is JSON-encoded unless nil. The answer is
// decoded when it is JSON.
func (c graphClient) do(method, path string, body any) (int, map[string]any, http.Header) {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, c.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+c.tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			c.t.Fatalf("%s %s: %v: %.200s", method, path, err, b)
		}
	}
	return resp.StatusCode, out, resp.Header
}

// want sends a request and fails unless Graph answers status; with msg,
// the error message must contain it.
func (c graphClient) want(status int, msg, method, path string, body any) map[string]any {
	c.t.Helper()
	st, out, _ := c.do(method, path, body)
	e, _ := out["error"].(map[string]any)
	if st != status || msg != "" && (e == nil || !strings.Contains(e["message"].(string), msg)) {
		c.t.Fatalf("%s %s: %d %v, want %d %q", method, path, st, out, status, msg)
	}
	if st >= 400 && (e == nil || e["code"] == "" || e["message"] == "") {
		c.t.Fatalf("%s %s: %d without a Graph error body: %v", method, path, st, out)
	}
	return out
}

// ids lists the ids of a collection answer.
func (c graphClient) ids(path string) []string {
	c.t.Helper()
	out := c.want(200, "", "GET", path, nil)
	var ids []string
	for _, v := range out["value"].([]any) {
		ids = append(ids, v.(map[string]any)["id"].(string))
	}
	return ids
}

func filterPath(collection, prop, value string) string {
	return collection + "?$select=id&$filter=" + url.QueryEscape(fmt.Sprintf("%s eq '%s'", prop, strings.ReplaceAll(value, "'", "''")))
}

func bindURL(id string) string { return "https://graph.microsoft.com/v1.0/directoryObjects/" + id }

// truth is the part of /_sim/state these tests read.
type truth struct {
	Users, Groups, AdministrativeUnits, DeletedUsers, DeletedGroups, RoleAssignments []map[string]any
	Relationships                                                                    model.Relationships
}

func groundTruth(t *testing.T, s *Simulator) truth {
	t.Helper()
	var st truth
	if err := json.Unmarshal([]byte(stateDump(t, s)), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func idOf(o map[string]any) string { return o["id"].(string) }

// adminIDs are the object ids of the sign-in accounts.
func adminIDs(s *Simulator) []string {
	tn := s.Tenant()
	tn.RLock()
	defer tn.RUnlock()
	return []string{tn.Users[model.AdminUser].ID.String(), tn.Users[model.SecAdminUser].ID.String(), tn.Users[model.RegularUser].ID.String()}
}

// plainUsers are live users other than the sign-in accounts.
func plainUsers(s *Simulator, st truth) []string {
	var out []string
	for _, u := range st.Users {
		if !slices.Contains(adminIDs(s), idOf(u)) {
			out = append(out, idOf(u))
		}
	}
	return out
}

func TestRecycleBinAndLookups(t *testing.T) {
	s := NewTest(t, Options{Seed: 31, Users: 80, Groups: 20, Throttle: ThrottleConfig{Disabled: true}})
	c := newGraphClient(t, s)
	st := groundTruth(t, s)

	// A generated tenant has two users and a Microsoft 365 group in its
	// recycle bin, deleted days ago.
	if len(st.DeletedUsers) != 2 || len(st.DeletedGroups) != 1 {
		t.Fatalf("recycle bin holds %d users and %d groups, want 2 and 1", len(st.DeletedUsers), len(st.DeletedGroups))
	}
	if gt := st.DeletedGroups[0]["groupTypes"].([]any); len(gt) != 1 || gt[0] != "Unified" {
		t.Fatalf("deleted group types %v, want a Microsoft 365 group", gt)
	}
	for _, o := range append(slices.Clone(st.DeletedUsers), st.DeletedGroups...) {
		at, err := time.Parse(time.RFC3339, o["deletedDateTime"].(string))
		if age := time.Since(at); err != nil || age < 24*time.Hour || age > model.RecycleBinDays*24*time.Hour {
			t.Fatalf("deletedDateTime %v: %v ago", o["deletedDateTime"], age)
		}
	}
	if got := c.ids("/directory/deletedItems/microsoft.graph.user"); len(got) != 2 {
		t.Fatalf("deletedItems lists %d users", len(got))
	}
	if got := c.ids("/directory/deletedItems/microsoft.graph.group"); len(got) != 1 || got[0] != idOf(st.DeletedGroups[0]) {
		t.Fatalf("deletedItems lists groups %v", got)
	}

	// The lookups restore makes before re-creating: live objects only,
	// answered with $select=id as {"value": [...]}.
	live, gone := st.Users[10], st.DeletedUsers[0]
	lookups := []struct {
		name, path string
		want       []string
	}{
		{"user by upn", filterPath("/users", "userPrincipalName", live["userPrincipalName"].(string)), []string{idOf(live)}},
		{"user by upn, any case", filterPath("/users", "userPrincipalName", strings.ToUpper(live["userPrincipalName"].(string))), []string{idOf(live)}},
		{"deleted user by upn", filterPath("/users", "userPrincipalName", gone["userPrincipalName"].(string)), nil},
		{"group by mailNickname", filterPath("/groups", "mailNickname", st.Groups[4]["mailNickname"].(string)), []string{idOf(st.Groups[4])}},
		{"deleted group by mailNickname", filterPath("/groups", "mailNickname", st.DeletedGroups[0]["mailNickname"].(string)), nil},
		{"unit by displayName", filterPath("/directory/administrativeUnits", "displayName", st.AdministrativeUnits[0]["displayName"].(string)),
			[]string{idOf(st.AdministrativeUnits[0])}},
		{"role assignments by principal", filterPath("/roleManagement/directory/roleAssignments", "principalId", adminIDs(s)[0]),
			[]string{idOf(st.RoleAssignments[slices.IndexFunc(st.RoleAssignments, func(a map[string]any) bool { return a["principalId"] == adminIDs(s)[0] })])}},
	}
	for _, l := range lookups {
		t.Run(l.name, func(t *testing.T) {
			out := c.want(200, "", "GET", l.path, nil)
			var got []string
			for _, v := range out["value"].([]any) {
				o := v.(map[string]any)
				if _, extra := o["displayName"]; extra {
					t.Fatalf("$select=id ignored: %v", o)
				}
				got = append(got, idOf(o))
			}
			if !slices.Equal(got, l.want) {
				t.Fatalf("got %v, want %v", got, l.want)
			}
		})
	}

	// Deleting hides an object from its lookup; its role assignments too.
	au := idOf(st.AdministrativeUnits[0])
	c.want(204, "", "DELETE", "/directory/administrativeUnits/"+au, nil)
	if got := c.ids(filterPath("/directory/administrativeUnits", "displayName", st.AdministrativeUnits[0]["displayName"].(string))); len(got) != 0 {
		t.Fatalf("deleted unit still found: %v", got)
	}
	holder := plainUsers(s, st)[0]
	c.want(201, "", "POST", "/roleManagement/directory/roleAssignments",
		map[string]any{"principalId": holder, "roleDefinitionId": "f2ef992c-3afb-46b9-b7cf-a126ee74c451"})
	if got := c.ids(filterPath("/roleManagement/directory/roleAssignments", "principalId", holder)); len(got) == 0 {
		t.Fatal("new role assignment not found by principal")
	}
	c.want(204, "", "DELETE", "/users/"+holder, nil)
	if got := c.ids(filterPath("/roleManagement/directory/roleAssignments", "principalId", holder)); len(got) != 0 {
		t.Fatalf("assignments of a deleted user still listed: %v", got)
	}
	// Restoring from the recycle bin brings a generated deletion back.
	c.want(200, "", "POST", "/directory/deletedItems/"+idOf(gone)+"/restore", nil)
	if got := c.ids(filterPath("/users", "userPrincipalName", gone["userPrincipalName"].(string))); len(got) != 1 {
		t.Fatalf("restored user not found by upn: %v", got)
	}
}

func TestRoleAssignmentWrites(t *testing.T) {
	s := NewTest(t, Options{Seed: 32, Users: 60, Throttle: ThrottleConfig{Disabled: true}})
	c := newGraphClient(t, s)
	st := groundTruth(t, s)
	const userAdmin = "fe930be7-5e62-47db-91af-98c3a49a38b1"
	var free []string // users without a role
	for _, u := range plainUsers(s, st) {
		if c.ids(filterPath("/roleManagement/directory/roleAssignments", "principalId", u)) == nil {
			free = append(free, u)
		}
	}
	principal := free[0]
	body := map[string]any{"principalId": principal, "roleDefinitionId": userAdmin, "directoryScopeId": "/"}
	created := c.want(201, "", "POST", "/roleManagement/directory/roleAssignments", body)
	if created["principalId"] != principal || created["roleDefinitionId"] != userAdmin || created["directoryScopeId"] != "/" || created["id"] == "" {
		t.Fatalf("created %v", created)
	}
	// A role without tenant-wide members is no activated directoryRole.
	members := func() []string {
		if st, _, _ := c.do("GET", "/directoryRoles/roleTemplateId="+userAdmin+"/members", nil); st == 404 {
			return nil
		}
		return c.ids("/directoryRoles/roleTemplateId=" + userAdmin + "/members")
	}
	if !slices.Contains(members(), principal) {
		t.Fatal("the directory role's members do not follow the new assignment")
	}
	got := c.want(200, "", "GET", "/roleManagement/directory/roleAssignments/"+idOf(created), nil)
	if got["directoryScopeId"] != "/" {
		t.Fatalf("read back %v", got)
	}

	// A scoped assignment is listed with its scope but is no member of the
	// tenant-wide directory role.
	au := idOf(st.AdministrativeUnits[0])
	scoped := c.want(201, "", "POST", "/roleManagement/directory/roleAssignments",
		map[string]any{"principalId": free[1], "roleDefinitionId": userAdmin, "directoryScopeId": "/administrativeUnits/" + au})
	if scoped["directoryScopeId"] != "/administrativeUnits/"+au || slices.Contains(members(), free[1]) {
		t.Fatalf("scoped assignment %v; role members %v", scoped, members())
	}

	refusals := []struct {
		name string
		body map[string]any
		msg  string
	}{
		{"duplicate", body, "conflicting object"},
		{"unknown principal", map[string]any{"principalId": "6e0b0c59-0a44-4b8b-9c3e-1d2b3c4d5e6f", "roleDefinitionId": userAdmin}, "do not exist"},
		{"deleted principal", map[string]any{"principalId": idOf(st.DeletedUsers[0]), "roleDefinitionId": userAdmin}, "do not exist"},
		{"unknown role", map[string]any{"principalId": principal, "roleDefinitionId": "6e0b0c59-0a44-4b8b-9c3e-1d2b3c4d5e6f"}, "role definition"},
		{"unknown scope", map[string]any{"principalId": principal, "roleDefinitionId": userAdmin, "directoryScopeId": "/administrativeUnits/6e0b0c59-0a44-4b8b-9c3e-1d2b3c4d5e6f"}, "directoryScopeId"},
		{"no principal", map[string]any{"roleDefinitionId": userAdmin}, "principalId"},
	}
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			out := c.want(400, r.msg, "POST", "/roleManagement/directory/roleAssignments", r.body)
			if code := out["error"].(map[string]any)["code"]; code != "Request_BadRequest" {
				t.Fatalf("code %v", code)
			}
		})
	}

	// Only RoleManagement.ReadWrite.Directory may write role assignments.
	ro := graphClient{t: t, base: s.GraphURL(), tok: token(t, s, s.Credentials().NoRolesApp)}
	ro.want(403, "", "POST", "/roleManagement/directory/roleAssignments", body)
	ro.want(403, "", "DELETE", "/roleManagement/directory/roleAssignments/"+idOf(created), nil)

	c.want(204, "", "DELETE", "/roleManagement/directory/roleAssignments/"+idOf(created), nil)
	if slices.Contains(members(), principal) {
		t.Fatal("the directory role's members do not follow the removal")
	}
	c.want(404, "", "DELETE", "/roleManagement/directory/roleAssignments/"+idOf(created), nil)
	c.want(404, "", "GET", "/roleManagement/directory/roleAssignments/"+idOf(created), nil)
}

func TestLinkWrites(t *testing.T) {
	s := NewTest(t, Options{Seed: 33, Users: 80, Throttle: ThrottleConfig{Disabled: true}})
	c := newGraphClient(t, s)
	st := groundTruth(t, s)
	u := plainUsers(s, st)
	grp := c.want(201, "", "POST", "/groups", map[string]any{"displayName": "Links", "mailNickname": "links",
		"mailEnabled": false, "securityEnabled": true, "members@odata.bind": []string{bindURL(u[0])}})
	g := "/groups/" + idOf(grp)
	sorted := func(ids []string) []string { slices.Sort(ids); return ids }

	// Up to 20 references in one PATCH, members and owners together.
	c.want(204, "", "PATCH", g, map[string]any{"members@odata.bind": []string{bindURL(u[1]), bindURL(u[2])},
		"owners@odata.bind": []string{bindURL(u[3])}})
	if got := sorted(c.ids(g + "/members")); !slices.Equal(got, sorted([]string{u[0], u[1], u[2]})) {
		t.Fatalf("members %v", got)
	}
	if got := c.ids(g + "/owners"); !slices.Equal(got, []string{u[3]}) {
		t.Fatalf("owners %v", got)
	}
	const exists = "One or more added object references already exist for the following modified properties: 'members'."
	// One existing reference: nothing is added, nor any property changed.
	c.want(400, exists, "PATCH", g, map[string]any{"displayName": "Renamed", "members@odata.bind": []string{bindURL(u[4]), bindURL(u[1])}})
	if got := c.ids(g + "/members"); len(got) != 3 || slices.Contains(got, u[4]) {
		t.Fatalf("a refused PATCH changed members: %v", got)
	}
	if name := c.want(200, "", "GET", g, nil)["displayName"]; name != "Links" {
		t.Fatalf("a refused PATCH renamed the group to %v", name)
	}
	c.want(400, "'owners'", "PATCH", g, map[string]any{"owners@odata.bind": []string{bindURL(u[3])}})
	var many []string
	for _, id := range u[5:26] {
		many = append(many, bindURL(id))
	}
	c.want(400, "20", "PATCH", g, map[string]any{"members@odata.bind": many})
	c.want(400, "do not exist", "PATCH", g, map[string]any{"members@odata.bind": []string{bindURL("6e0b0c59-0a44-4b8b-9c3e-1d2b3c4d5e6f")}})
	c.want(400, "do not exist", "PATCH", g, map[string]any{"members@odata.bind": []string{bindURL(idOf(st.DeletedUsers[0]))}})
	c.want(204, "", "PATCH", g, map[string]any{"members@odata.bind": many[:20]})

	// $ref adds: an existing reference is Graph's "already exist" 400.
	ref := func(id string) map[string]any { return map[string]any{"@odata.id": bindURL(id)} }
	c.want(400, exists, "POST", g+"/members/$ref", ref(u[0]))
	c.want(400, "'owners'", "POST", g+"/owners/$ref", ref(u[3]))
	c.want(400, "do not exist", "POST", g+"/members/$ref", ref(idOf(st.DeletedUsers[1])))
	au := "/directory/administrativeUnits/" + idOf(st.AdministrativeUnits[0])
	member := st.Relationships.AdministrativeUnitMembers[idOf(st.AdministrativeUnits[0])][0]
	c.want(400, exists, "POST", au+"/members/$ref", ref(member))
	c.want(404, "", "POST", "/groups/6e0b0c59-0a44-4b8b-9c3e-1d2b3c4d5e6f/members/$ref", ref(u[0]))

	// Removing a reference that is not there is a 404.
	c.want(204, "", "DELETE", g+"/members/"+u[0]+"/$ref", nil)
	c.want(404, "", "DELETE", g+"/members/"+u[0]+"/$ref", nil)
	c.want(404, "", "DELETE", g+"/owners/"+u[0]+"/$ref", nil)
	c.want(404, "", "DELETE", au+"/members/"+idOf(grp)+"/$ref", nil)

	// Manager: none, set, read, removed.
	user := c.want(201, "", "POST", "/users", map[string]any{"accountEnabled": true, "displayName": "Managed", "mailNickname": "managed",
		"userPrincipalName": "managed@" + s.Credentials().TenantDomain, "passwordProfile": map[string]any{"password": "Xy-12345678"}})
	mgr := "/users/" + idOf(user) + "/manager"
	if out := c.want(404, "", "GET", mgr, nil); out["error"].(map[string]any)["code"] != "Request_ResourceNotFound" {
		t.Fatalf("no manager: %v", out)
	}
	c.want(400, "do not exist", "PUT", mgr+"/$ref", ref(idOf(st.DeletedUsers[0])))
	c.want(400, "", "PUT", mgr+"/$ref", ref(idOf(user)))
	c.want(204, "", "PUT", mgr+"/$ref", ref(u[7]))
	if got := c.want(200, "", "GET", mgr+"?$select=id", nil); idOf(got) != u[7] {
		t.Fatalf("manager %v", got)
	}
	c.want(204, "", "DELETE", mgr+"/$ref", nil)
	c.want(404, "", "GET", mgr, nil)
	c.want(404, "", "DELETE", mgr+"/$ref", nil)
}

func TestWriteStrictness(t *testing.T) {
	s := NewTest(t, Options{Seed: 34, Users: 40, Throttle: ThrottleConfig{Disabled: true}})
	c := newGraphClient(t, s)
	st := groundTruth(t, s)
	u := "/users/" + plainUsers(s, st)[0]
	g := "/groups/" + idOf(st.Groups[3])
	const password = "Never-Stored-42!"
	newUser := func(extra map[string]any) map[string]any {
		b := map[string]any{"accountEnabled": true, "displayName": "Strict", "mailNickname": "strict",
			"userPrincipalName": "strict@" + s.Credentials().TenantDomain, "passwordProfile": map[string]any{"password": password}}
		for k, v := range extra {
			b[k] = v
		}
		return b
	}
	refusals := []struct {
		name, method, path string
		body               map[string]any
		msg                string
	}{
		{"id", "PATCH", u, map[string]any{"id": "x"}, "Property 'id' is read-only and cannot be set."},
		{"createdDateTime", "PATCH", u, map[string]any{"createdDateTime": "2020-01-01T00:00:00Z"}, "read-only"},
		{"deletedDateTime", "PATCH", g, map[string]any{"deletedDateTime": nil}, "read-only"},
		{"proxyAddresses", "PATCH", u, map[string]any{"proxyAddresses": []string{"smtp:x@example.com"}}, "Property 'proxyAddresses' is read-only"},
		{"createdByAppId", "PATCH", g, map[string]any{"createdByAppId": "x"}, "Property 'createdByAppId' is read-only"},
		{"securityIdentifier", "PATCH", u, map[string]any{"securityIdentifier": "S-1"}, "read-only"},
		{"onPremisesSamAccountName", "PATCH", u, map[string]any{"onPremisesSamAccountName": "x"}, "read-only"},
		{"group mail", "PATCH", g, map[string]any{"mail": "x@example.com"}, "read-only"},
		{"groupTypes after create", "PATCH", g, map[string]any{"groupTypes": []string{"Unified"}}, "read-only"},
		{"unknown", "PATCH", u, map[string]any{"favouriteColour": "teal", "jobTitle": "x"}, "Invalid property 'favouriteColour'."},
		{"unknown on a unit", "PATCH", "/directory/administrativeUnits/" + idOf(st.AdministrativeUnits[0]), map[string]any{"colour": 1}, "Invalid property"},
		{"upn of another domain", "PATCH", u, map[string]any{"userPrincipalName": "x@example.com"}, "verified domain"},
		{"create with id", "POST", "/users", newUser(map[string]any{"id": "6e0b0c59-0a44-4b8b-9c3e-1d2b3c4d5e6f"}), "read-only"},
		{"create with createdDateTime", "POST", "/groups", map[string]any{"displayName": "g", "mailNickname": "g",
			"mailEnabled": false, "securityEnabled": true, "createdDateTime": "2020-01-01T00:00:00Z"}, "read-only"},
		{"create without password", "POST", "/users", newUser(map[string]any{"passwordProfile": nil}), "passwordProfile"},
		{"create with empty password", "POST", "/users", newUser(map[string]any{"passwordProfile": map[string]any{}}), "passwordProfile"},
		{"create unknown property", "POST", "/users", newUser(map[string]any{"shoeSize": 44}), "Invalid property"},
	}
	before := stateDump(t, s)
	for _, r := range refusals {
		t.Run(r.name, func(t *testing.T) {
			out := c.want(400, r.msg, r.method, r.path, r.body)
			if code := out["error"].(map[string]any)["code"]; code != "Request_BadRequest" {
				t.Fatalf("code %v", code)
			}
		})
	}
	if stateDump(t, s) != before {
		t.Fatal("a refused write changed the tenant")
	}

	// What Graph accepts: writable properties, annotations, and a user
	// create with its password, which is never stored nor shown.
	c.want(204, "", "PATCH", u, map[string]any{"@odata.type": "#microsoft.graph.user", "jobTitle": "Auditor", "employeeLeaveDateTime": nil})
	created := c.want(201, "", "POST", "/users", newUser(nil))
	got := c.want(200, "", "GET", "/users/"+idOf(created), nil)
	for _, o := range []map[string]any{created, got} {
		if b, _ := json.Marshal(o); bytes.Contains(b, []byte(password)) || o["passwordProfile"] != nil {
			t.Fatalf("password shown: %s", b)
		}
	}
	if strings.Contains(stateDump(t, s), password) {
		t.Fatal("password in the state dump")
	}
	c.want(204, "", "PATCH", "/users/"+idOf(created), map[string]any{"passwordProfile": map[string]any{"password": password + "2"}})
	if strings.Contains(stateDump(t, s), password) {
		t.Fatal("a PATCHed password was stored")
	}

	// A synced user: properties mastered on-premises are refused the way
	// Graph refuses them; cloud-mastered ones still change.
	tn := s.Tenant()
	tn.Lock()
	err := tn.SetSynced(model.MakeRef(model.KindUser, 5))
	synced := tn.Users[5].ID.String()
	tn.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	out := c.want(400, "originated within an external service", "PATCH", "/users/"+synced, map[string]any{"jobTitle": "x"})
	details, _ := out["error"].(map[string]any)["details"].([]any)
	if len(details) != 1 || details[0].(map[string]any)["code"] != "AzureActiveDirectoryCannotUpdateObjectsOriginatedInExternalService" {
		t.Fatalf("synced refusal details %v", out)
	}
	c.want(204, "", "PATCH", "/users/"+synced, map[string]any{"usageLocation": "FR"})
	if v := c.want(200, "", "GET", "/users/"+synced+"?$select=onPremisesSyncEnabled,usageLocation", nil); v["onPremisesSyncEnabled"] != true || v["usageLocation"] != "FR" {
		t.Fatalf("synced user %v", v)
	}
}

func TestWriteBudgetAndCounters(t *testing.T) {
	s := NewTest(t, Options{Seed: 35, Users: 30, Throttle: ThrottleConfig{Writes: 4, WriteWindow: time.Hour, CAInterval: time.Millisecond}})
	c := newGraphClient(t, s)
	st := groundTruth(t, s)
	u := plainUsers(s, st)
	g := "/groups/" + idOf(st.Groups[3])
	pol := c.ids("/identity/conditionalAccess/policies")[0]
	// POST, PATCH, PUT and DELETE each spend one write, conditional access
	// included; reads spend none.
	c.want(204, "", "PATCH", "/users/"+u[0], map[string]any{"jobTitle": "x"})
	c.want(204, "", "PUT", "/users/"+u[0]+"/manager/$ref", map[string]any{"@odata.id": bindURL(u[1])})
	c.want(400, "", "POST", g+"/members/$ref", map[string]any{"@odata.id": bindURL("6e0b0c59-0a44-4b8b-9c3e-1d2b3c4d5e6f")})
	time.Sleep(2 * time.Millisecond)
	c.want(204, "", "PATCH", "/identity/conditionalAccess/policies/"+pol, map[string]any{"state": "disabled"})
	c.want(200, "", "GET", "/users/"+u[0], nil)
	st429, out, h := c.do("DELETE", "/users/"+u[2], nil)
	if st429 != 429 || h.Get("Retry-After") == "" || h.Get("Retry-After") == "0" || h.Get("x-ms-throttle-information") != "WriteLimitExceeded" ||
		!strings.Contains(h.Get("x-ms-throttle-scope"), "/Write/") {
		t.Fatalf("fifth write: %d %v %v", st429, h, out)
	}
	var counters struct {
		Total  struct{ Requests, Writes, Throttled int } `json:"total"`
		Routes map[string]struct {
			Writes int `json:"writes"`
		} `json:"routes"`
	}
	get(t, "", strings.TrimSuffix(s.GraphURL(), "/v1.0")+"/_sim/counters", &counters)
	if counters.Total.Writes != 4 || counters.Total.Throttled != 1 || counters.Routes["PATCH users/{id}"].Writes != 1 ||
		counters.Routes["POST groups/{id}/members/$ref"].Writes != 1 || counters.Routes["GET users/{id}"].Writes != 0 {
		t.Fatalf("counters %+v", counters)
	}
}

func TestIncidents(t *testing.T) {
	s := NewTest(t, Options{Seed: 36, Users: 120, Groups: 30, Throttle: ThrottleConfig{Disabled: true}})
	control := strings.TrimSuffix(s.GraphURL(), "/v1.0") + "/_sim/incident"
	postIncident := func(body string) (int, IncidentReport) {
		resp, err := http.Post(control, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var rep IncidentReport
		_ = json.NewDecoder(resp.Body).Decode(&rep)
		return resp.StatusCode, rep
	}
	for _, bad := range []string{`{"kind":"flood","percent":5}`, `{"kind":"tamper_users","percent":0}`, `{"kind":"tamper_users","percent":101}`, `{`} {
		if st, _ := postIncident(bad); st != 400 {
			t.Fatalf("%s: %d, want 400", bad, st)
		}
	}

	before := groundTruth(t, s)
	admins := adminIDs(s)
	// What the sign-in accounts are: their objects, roles and memberships
	// in the groups that still exist (deleting a group they are in is fair).
	adminState := func(st, after truth) string {
		var parts []string
		for _, u := range st.Users {
			if slices.Contains(admins, idOf(u)) {
				b, _ := json.Marshal(u)
				parts = append(parts, string(b))
			}
		}
		for _, a := range st.RoleAssignments {
			if slices.Contains(admins, a["principalId"].(string)) {
				parts = append(parts, idOf(a))
			}
		}
		for g, m := range st.Relationships.GroupMembers {
			for _, id := range m {
				if slices.Contains(admins, id) && after.Relationships.GroupMembers[g] != nil {
					parts = append(parts, g+"/"+id)
				}
			}
		}
		slices.Sort(parts)
		return strings.Join(parts, "\n")
	}
	find := func(list []map[string]any, id string) map[string]any {
		if i := slices.IndexFunc(list, func(o map[string]any) bool { return idOf(o) == id }); i >= 0 {
			return list[i]
		}
		return nil
	}

	kinds := map[string]func(t *testing.T, ids []string, st truth){
		model.IncidentSoftDeleteUsers: func(t *testing.T, ids []string, st truth) {
			for _, id := range ids {
				if find(st.Users, id) != nil || find(st.DeletedUsers, id) == nil {
					t.Fatalf("user %s not in the recycle bin", id)
				}
			}
		},
		model.IncidentHardDeleteUsers: func(t *testing.T, ids []string, st truth) {
			for _, id := range ids {
				if find(st.Users, id) != nil || find(st.DeletedUsers, id) != nil {
					t.Fatalf("user %s still there", id)
				}
			}
		},
		model.IncidentDeleteGroups: func(t *testing.T, ids []string, st truth) {
			for _, id := range ids {
				old := find(before.Groups, id)
				unified := slices.Contains(old["groupTypes"].([]any), any("Unified"))
				if old["mailEnabled"] == true && !unified {
					t.Fatalf("group %s belongs to Exchange, not writable through Graph", id)
				}
				if find(st.Groups, id) != nil || (find(st.DeletedGroups, id) != nil) != unified {
					t.Fatalf("group %s (unified %v) not deleted as Graph does", id, unified)
				}
			}
		},
		model.IncidentStripGroupLinks: func(t *testing.T, ids []string, st truth) {
			for _, id := range ids {
				for _, m := range append(slices.Clone(st.Relationships.GroupMembers[id]), st.Relationships.GroupOwners[id]...) {
					if !slices.Contains(admins, m) {
						t.Fatalf("group %s still links %s", id, m)
					}
				}
			}
		},
		model.IncidentTamperUsers: func(t *testing.T, ids []string, st truth) {
			for _, id := range ids {
				was, is := find(before.Users, id), find(st.Users, id)
				for _, p := range []string{"displayName", "jobTitle", "department", "officeLocation", "mobilePhone"} {
					if reflect.DeepEqual(was[p], is[p]) {
						t.Fatalf("user %s: %s unchanged (%v)", id, p, is[p])
					}
				}
			}
		},
		model.IncidentRemoveRoleAssignments: func(t *testing.T, ids []string, st truth) {
			for _, id := range ids {
				if find(before.RoleAssignments, id) == nil || find(st.RoleAssignments, id) != nil {
					t.Fatalf("role assignment %s not removed", id)
				}
			}
		},
	}
	for _, kind := range model.IncidentKinds {
		t.Run(kind, func(t *testing.T) {
			before = groundTruth(t, s)
			st, rep := postIncident(fmt.Sprintf(`{"kind":%q,"percent":10}`, kind))
			if st != 200 || rep.Kind != kind || len(rep.Affected) != 1 || len(rep.Affected[kind]) == 0 {
				t.Fatalf("%d %+v", st, rep)
			}
			after := groundTruth(t, s)
			kinds[kind](t, rep.Affected[kind], after)
			if adminState(after, after) != adminState(before, after) {
				t.Fatal("the incident touched a sign-in account")
			}
		})
	}
	s = NewTest(t, Options{Seed: 36, Users: 300, Groups: 30, Throttle: ThrottleConfig{Disabled: true}})
	control = strings.TrimSuffix(s.GraphURL(), "/v1.0") + "/_sim/incident"
	st, rep := postIncident(`{"kind":"mixed","percent":30}`)
	if st != 200 || len(rep.Affected) != len(model.IncidentKinds) {
		t.Fatalf("mixed: %d %+v", st, rep)
	}
	for k, ids := range rep.Affected {
		if len(ids) == 0 {
			t.Fatalf("mixed did nothing of %s", k)
		}
	}
	token(t, s, s.Credentials().BackupApp) // the backup app still signs in

	// Deterministic: the same tenant, the same incident, the same damage.
	var reps []IncidentReport
	for range 2 {
		o := NewTest(t, Options{Seed: 37, Users: 50, Throttle: ThrottleConfig{Disabled: true}})
		r, err := o.Incident(model.IncidentMixed, 50)
		if err != nil {
			t.Fatal(err)
		}
		reps = append(reps, r)
	}
	if !reflect.DeepEqual(reps[0], reps[1]) {
		t.Fatalf("incident not deterministic:\n%+v\n%+v", reps[0], reps[1])
	}
}

func TestConsistencyDelay(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := NewTest(t, Options{Seed: 38, Users: 40, Now: clock, ConsistencyDelay: 5 * time.Second, Throttle: ThrottleConfig{Disabled: true}})
	c := newGraphClient(t, s)
	st := groundTruth(t, s)
	g := "/groups/" + idOf(st.Groups[3])
	other := plainUsers(s, st)[0]
	fresh := idOf(c.want(201, "", "POST", "/users", map[string]any{"accountEnabled": true, "displayName": "Fresh", "mailNickname": "fresh",
		"userPrincipalName": "fresh@" + s.Credentials().TenantDomain, "passwordProfile": map[string]any{"password": "Xy-12345678"}}))
	links := []struct {
		method, path string
		body         map[string]any
	}{
		{"POST", g + "/members/$ref", map[string]any{"@odata.id": bindURL(fresh)}},
		{"PATCH", g, map[string]any{"owners@odata.bind": []string{bindURL(fresh)}}},
		{"PUT", "/users/" + other + "/manager/$ref", map[string]any{"@odata.id": bindURL(fresh)}},
		{"POST", "/roleManagement/directory/roleAssignments", map[string]any{"principalId": fresh, "roleDefinitionId": "fe930be7-5e62-47db-91af-98c3a49a38b1"}},
	}
	for _, l := range links {
		c.want(400, "do not exist", l.method, l.path, l.body)
	}
	c.want(200, "", "GET", "/users/"+fresh, nil) // only links lag
	advance(5 * time.Second)
	for _, l := range links {
		if st, out, _ := c.do(l.method, l.path, l.body); st >= 300 {
			t.Fatalf("%s %s after the delay: %d %v", l.method, l.path, st, out)
		}
	}

	// The delay is a fault setting too: PUT /_sim/faults replaces it.
	faults := strings.TrimSuffix(s.GraphURL(), "/v1.0") + "/_sim/faults"
	if st := post(t, faults, `{"ConsistencyDelay": 0}`); st != 200 {
		t.Fatalf("faults: %d", st)
	}
	second := idOf(c.want(201, "", "POST", "/groups", map[string]any{"displayName": "Second", "mailNickname": "second", "mailEnabled": false, "securityEnabled": true}))
	c.want(204, "", "POST", g+"/members/$ref", map[string]any{"@odata.id": bindURL(second)})
	if st := post(t, faults, `{"ConsistencyDelay": 60000000000}`); st != 200 {
		t.Fatalf("faults: %d", st)
	}
	third := idOf(c.want(201, "", "POST", "/groups", map[string]any{"displayName": "Third", "mailNickname": "third", "mailEnabled": false, "securityEnabled": true}))
	c.want(400, "do not exist", "POST", g+"/members/$ref", map[string]any{"@odata.id": bindURL(third)})
}
