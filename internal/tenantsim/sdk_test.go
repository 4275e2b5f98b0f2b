package tenantsim_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	"github.com/microsoftgraph/msgraph-sdk-go/auditlogs"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/organization"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/entravault/entravault/internal/graph"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/internal/tenantsim/model"
)

func newClient(t *testing.T, s *tenantsim.Simulator, app tenantsim.AppCredentials, useCert bool) *graph.Client {
	t.Helper()
	cr := s.Credentials()
	cfg := graph.Config{TenantID: cr.TenantID, ClientID: app.ClientID, ClientSecret: app.ClientSecret,
		AuthorityHost: s.AuthorityHost(), GraphURL: s.GraphURL(), CACertPath: cr.CACertPath}
	if useCert {
		cfg.ClientSecret, cfg.CertPath, cfg.KeyPath = "", app.CertPath, app.KeyPath
	}
	c, err := graph.NewClient(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type rawPage struct {
	Value []map[string]any `json:"value"`
	Next  string           `json:"@odata.nextLink"`
	Delta string           `json:"@odata.deltaLink"`
	Count *int             `json:"@odata.count"`
}

// collect follows @odata.nextLink verbatim through the SDK pipeline.
func collect(t *testing.T, c *graph.Client, path string) (items []map[string]any, pages int) {
	t.Helper()
	u := path
	for u != "" {
		b, err := c.GetRaw(context.Background(), u)
		if err != nil {
			t.Fatalf("GET %s: %v", u, describe(err))
		}
		var p rawPage
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatalf("GET %s: %v", u, err)
		}
		items = append(items, p.Value...)
		pages++
		u = p.Next
	}
	return items, pages
}

func describe(err error) string {
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) && oe.GetErrorEscaped() != nil {
		return fmt.Sprintf("ODataError %d %s: %s", oe.ResponseStatusCode, deref(oe.GetErrorEscaped().GetCode()), deref(oe.GetErrorEscaped().GetMessage()))
	}
	return err.Error()
}

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return *s
}

type state struct {
	Users, Groups, AdministrativeUnits, Applications, ServicePrincipals        []map[string]any
	ConditionalAccessPolicies, NamedLocations, DeletedUsers                    []map[string]any
	RoleDefinitions, RoleAssignments, SubscribedSkus, SignIns, DirectoryAudits []map[string]any
	Relationships                                                              model.Relationships
}

func dump(t *testing.T, s *tenantsim.Simulator) state {
	t.Helper()
	resp, err := http.Get(strings.TrimSuffix(s.GraphURL(), "/v1.0") + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st state
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	return st
}

func ids(items []map[string]any) map[string]bool {
	m := map[string]bool{}
	for _, it := range items {
		m[it["id"].(string)] = true
	}
	return m
}

func TestSDKListsAndPagesEveryEndpoint(t *testing.T) {
	s := tenantsim.NewTest(t, tenantsim.Options{Seed: 42, Users: 120, Groups: 15, AdministrativeUnits: 4,
		Applications: 6, Premium: true, LogsPerDay: 20, Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	c := newClient(t, s, s.Credentials().BackupApp, false)
	ctx := context.Background()

	// One user in the recycle bin so deletedItems has content.
	st0 := dump(t, s)
	victim := st0.Users[len(st0.Users)-1]["id"].(string)
	if err := c.SDK().Users().ByUserId(victim).Delete(ctx, nil); err != nil {
		t.Fatal(describe(err))
	}
	st := dump(t, s)
	g0 := ""
	for id, m := range st.Relationships.GroupMembers {
		if len(m) > 20 {
			g0 = id
		}
	}
	var owned string
	for id := range st.Relationships.GroupOwners {
		owned = id
	}
	var au string
	for id := range st.Relationships.AdministrativeUnitMembers {
		au = id
	}
	cases := []struct {
		name, path string
		want       int
		minPages   int
	}{
		{"users", "/users?$top=50", len(st.Users), 3},
		{"groups", "/groups?$top=7", len(st.Groups), 2},
		{"group members", "/groups/" + g0 + "/members?$top=10", len(st.Relationships.GroupMembers[g0]), 2},
		{"group owners", "/groups/" + owned + "/owners", len(st.Relationships.GroupOwners[owned]), 1},
		{"administrative units", "/directory/administrativeUnits?$top=2", len(st.AdministrativeUnits), 2},
		{"au members", "/directory/administrativeUnits/" + au + "/members?$top=5", len(st.Relationships.AdministrativeUnitMembers[au]), 2},
		{"applications", "/applications?$top=3", len(st.Applications), 2},
		{"service principals", "/servicePrincipals?$top=3", len(st.ServicePrincipals), 3},
		{"ca policies", "/identity/conditionalAccess/policies?$top=2", len(st.ConditionalAccessPolicies), 2},
		{"named locations", "/identity/conditionalAccess/namedLocations?$top=2", len(st.NamedLocations), 2},
		{"role definitions", "/roleManagement/directory/roleDefinitions?$top=4", len(st.RoleDefinitions), 2},
		{"role assignments", "/roleManagement/directory/roleAssignments?$top=1", len(st.RoleAssignments), 2},
		{"directory roles", "/directoryRoles", len(st.Relationships.DirectoryRoleMembers), 1},
		{"organization", "/organization", 1, 1},
		{"subscribed skus", "/subscribedSkus", len(st.SubscribedSkus), 1},
		{"sign-ins", "/auditLogs/signIns?$top=100", len(st.SignIns), 6},
		{"directory audits", "/auditLogs/directoryAudits?$top=100", len(st.DirectoryAudits), 6},
		{"deleted users (SDK spelling)", "/directory/deletedItems/graph.user", len(st.DeletedUsers), 1},
		{"deleted users", "/directory/deletedItems/microsoft.graph.user", len(st.DeletedUsers), 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			items, pages := collect(t, c, tc.path)
			if len(items) != tc.want || len(ids(items)) != tc.want {
				t.Fatalf("got %d items (%d distinct), want %d", len(items), len(ids(items)), tc.want)
			}
			if pages < tc.minPages {
				t.Fatalf("got %d pages, want at least %d", pages, tc.minPages)
			}
			if tc.want == 0 {
				t.Fatalf("ground truth is empty: test does not exercise %s", tc.path)
			}
		})
	}

	t.Run("typed users with PageIterator", func(t *testing.T) {
		top := int32(40)
		resp, err := c.SDK().Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
			QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Top: &top, Select: []string{"id", "displayName", "userPrincipalName"}}})
		if err != nil {
			t.Fatal(describe(err))
		}
		it, err := msgraphcore.NewPageIterator[models.Userable](resp, c.SDK().GetAdapter(), models.CreateUserCollectionResponseFromDiscriminatorValue)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		err = it.Iterate(ctx, func(u models.Userable) bool {
			if u.GetUserPrincipalName() == nil || u.GetDisplayName() == nil || u.GetJobTitle() != nil {
				t.Errorf("user %v: $select not applied", deref(u.GetId()))
			}
			n++
			return true
		})
		if err != nil || n != len(st.Users) {
			t.Fatalf("iterated %d users (err %v), want %d", n, err, len(st.Users))
		}
	})
	t.Run("typed members and manager are users", func(t *testing.T) {
		resp, err := c.SDK().Groups().ByGroupId(g0).Members().Get(ctx, nil)
		if err != nil {
			t.Fatal(describe(err))
		}
		for _, m := range resp.GetValue() {
			if _, ok := m.(models.Userable); !ok {
				if _, ok := m.(models.Groupable); !ok {
					t.Fatalf("member %T is neither user nor group", m)
				}
			}
		}
		mgr, err := c.SDK().Users().ByUserId(st.Users[5]["id"].(string)).Manager().Get(ctx, nil)
		if err != nil {
			t.Fatal(describe(err))
		}
		if _, ok := mgr.(models.Userable); !ok {
			t.Fatalf("manager is %T", mgr)
		}
	})
	t.Run("typed named locations, policies, logs filter, deleted items", func(t *testing.T) {
		locs, err := c.SDK().Identity().ConditionalAccess().NamedLocations().Get(ctx, nil)
		if err != nil {
			t.Fatal(describe(err))
		}
		var ip, country int
		for _, l := range locs.GetValue() {
			switch l.(type) {
			case models.IpNamedLocationable:
				ip++
			case models.CountryNamedLocationable:
				country++
			}
		}
		if ip == 0 || country == 0 {
			t.Fatalf("named locations not typed: %d ip, %d country", ip, country)
		}
		pol, err := c.SDK().Policies().AuthenticationMethodsPolicy().Get(ctx, nil)
		if err != nil || len(pol.GetAuthenticationMethodConfigurations()) == 0 {
			t.Fatalf("authentication methods policy: %v", err)
		}
		if _, err := c.SDK().Policies().AuthorizationPolicy().Get(ctx, nil); err != nil {
			t.Fatal(describe(err))
		}
		skus, err := c.SDK().SubscribedSkus().Get(ctx, nil)
		if err != nil || len(skus.GetValue()) == 0 || len(skus.GetValue()[0].GetServicePlans()) == 0 {
			t.Fatalf("subscribedSkus: %v", err)
		}
		since := time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)
		filter := "createdDateTime ge " + since
		signIns, err := c.SDK().AuditLogs().SignIns().Get(ctx, &auditlogs.SignInsRequestBuilderGetRequestConfiguration{
			QueryParameters: &auditlogs.SignInsRequestBuilderGetQueryParameters{Filter: &filter}})
		if err != nil {
			t.Fatal(describe(err))
		}
		if len(signIns.GetValue()) == 0 || len(signIns.GetValue()) >= len(st.SignIns) {
			t.Fatalf("filter kept %d of %d sign-ins", len(signIns.GetValue()), len(st.SignIns))
		}
		for _, si := range signIns.GetValue() {
			if si.GetCreatedDateTime().Before(time.Now().Add(-48 * time.Hour)) {
				t.Fatalf("sign-in at %v outside the filter", si.GetCreatedDateTime())
			}
		}
		del, err := c.SDK().Directory().DeletedItems().GraphUser().Get(ctx, nil)
		if err != nil || len(del.GetValue()) != len(st.DeletedUsers) || !slices.ContainsFunc(del.GetValue(), func(u models.Userable) bool {
			return deref(u.GetId()) == victim
		}) {
			t.Fatalf("deleted users: %v", err)
		}
		restored, err := c.SDK().Directory().DeletedItems().ByDirectoryObjectId(victim).Restore().Post(ctx, nil)
		if err != nil {
			t.Fatal(describe(err))
		}
		if _, ok := restored.(models.Userable); !ok {
			t.Fatalf("restore returned %T", restored)
		}
	})
	t.Run("count needs ConsistencyLevel", func(t *testing.T) {
		b, err := c.GetRawWithHeaders(ctx, "/users?$count=true&$top=1", map[string]string{"ConsistencyLevel": "eventual"})
		var p rawPage
		if err != nil || json.Unmarshal(b, &p) != nil || p.Count == nil || *p.Count != len(st.Users)+1 {
			t.Fatalf("count with header: %v %v", err, p.Count)
		}
		b, err = c.GetRaw(ctx, "/users?$count=true&$top=1")
		p = rawPage{}
		if err != nil || json.Unmarshal(b, &p) != nil || p.Count != nil {
			t.Fatalf("count without header should be dropped: %v %v", err, p.Count)
		}
	})
}

// membership replays delta pages into a replica of users and group members.
type replica struct {
	users   map[string]bool
	members map[string]map[string]bool
}

func (r *replica) applyGroups(t *testing.T, items []map[string]any) {
	for _, it := range items {
		id := it["id"].(string)
		if _, gone := it["@removed"]; gone {
			delete(r.members, id)
			continue
		}
		if r.members[id] == nil {
			r.members[id] = map[string]bool{}
		}
		md, _ := it["members@delta"].([]any)
		for _, m := range md {
			mm := m.(map[string]any)
			if _, rm := mm["@removed"]; rm {
				delete(r.members[id], mm["id"].(string))
			} else {
				r.members[id][mm["id"].(string)] = true
			}
		}
	}
}

func deltaRound(t *testing.T, c *graph.Client, link string) ([]map[string]any, string) {
	t.Helper()
	var all []map[string]any
	for {
		b, err := c.GetRaw(context.Background(), link)
		if err != nil {
			t.Fatalf("delta %s: %s", link, describe(err))
		}
		var p rawPage
		if err := json.Unmarshal(b, &p); err != nil {
			t.Fatal(err)
		}
		if p.Next != "" && p.Delta != "" {
			t.Fatal("a delta page has both nextLink and deltaLink")
		}
		all = append(all, p.Value...)
		if p.Delta != "" {
			return all, p.Delta
		}
		link = p.Next
	}
}

func TestSDKDeltaCycleAfterChurn(t *testing.T) {
	s := tenantsim.NewTest(t, tenantsim.Options{Seed: 3, Users: 1500, Groups: 60, Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	c := newClient(t, s, s.Credentials().BackupApp, false)
	ctx := context.Background()

	// Typed first round for users, through the SDK's delta() builder.
	resp, err := c.SDK().Users().Delta().GetAsDeltaGetResponse(ctx, nil)
	if err != nil {
		t.Fatal(describe(err))
	}
	rep := &replica{users: map[string]bool{}, members: map[string]map[string]bool{}}
	for {
		for _, u := range resp.GetValue() {
			rep.users[deref(u.GetId())] = true
		}
		if resp.GetOdataNextLink() == nil {
			break
		}
		resp, err = c.SDK().Users().Delta().WithUrl(*resp.GetOdataNextLink()).GetAsDeltaGetResponse(ctx, nil)
		if err != nil {
			t.Fatal(describe(err))
		}
	}
	if resp.GetOdataDeltaLink() == nil {
		t.Fatal("last page has no deltaLink")
	}
	userLink := *resp.GetOdataDeltaLink()
	groupItems, groupLink := deltaRound(t, c, s.GraphURL()+"/groups/delta()")
	rep.applyGroups(t, groupItems)

	check := func(stage string) {
		st := dump(t, s)
		if want := ids(st.Users); len(want) != len(rep.users) {
			t.Fatalf("%s: replica has %d users, tenant %d", stage, len(rep.users), len(want))
		} else {
			for id := range want {
				if !rep.users[id] {
					t.Fatalf("%s: user %s missing from replica", stage, id)
				}
			}
		}
		for _, g := range st.Groups {
			id := g["id"].(string)
			want := st.Relationships.GroupMembers[id]
			if len(want) != len(rep.members[id]) {
				t.Fatalf("%s: group %s has %d members in replica, %d in tenant", stage, id, len(rep.members[id]), len(want))
			}
			for _, m := range want {
				if !rep.members[id][m] {
					t.Fatalf("%s: member %s of %s missing", stage, m, id)
				}
			}
		}
	}
	check("initial")

	stats := s.Churn(10)
	if stats.Updated == 0 || stats.SoftDeleted+stats.HardDeleted == 0 || stats.MemberChanges == 0 || stats.Created == 0 {
		t.Fatalf("churn did not exercise every kind of change: %+v", stats)
	}
	items, next := deltaRound(t, c, userLink)
	reasons := map[string]int{}
	for _, it := range items {
		id := it["id"].(string)
		if rm, ok := it["@removed"].(map[string]any); ok {
			reasons[rm["reason"].(string)]++
			delete(rep.users, id)
			continue
		}
		rep.users[id] = true
	}
	if reasons["changed"] == 0 || reasons["deleted"] == 0 {
		t.Fatalf("expected soft and hard deletes in delta, got %v", reasons)
	}
	groupItems, groupLink = deltaRound(t, c, groupLink)
	rep.applyGroups(t, groupItems)
	check("after churn")

	// Replaying the same delta link is tolerated and converges.
	items, _ = deltaRound(t, c, userLink)
	if len(items) == 0 {
		t.Fatal("replayed delta link returned nothing")
	}
	if again, _ := deltaRound(t, c, next); len(again) != 0 {
		t.Fatalf("no changes since the last round, got %d items", len(again))
	}
	_ = groupLink
}

func TestSDKErrorsAreODataErrors(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	sim := tenantsim.NewTest(t, tenantsim.Options{Seed: 9, Users: 60, Now: clock, DeltaTokenMaxAge: 30 * time.Minute,
		Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	gone := tenantsim.NewTest(t, tenantsim.Options{Seed: 9, Users: 60, Premium: true, DeltaExpiredGone: true,
		Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	ctx := context.Background()
	backup := newClient(t, sim, sim.Credentials().BackupApp, false)
	noRoles := newClient(t, sim, sim.Credentials().NoRolesApp, false)
	goneClient := newClient(t, gone, gone.Credentials().BackupApp, true) // certificate credential

	_, syncLink := deltaRound(t, backup, sim.GraphURL()+"/users/delta")
	_, goneLink := deltaRound(t, goneClient, gone.GraphURL()+"/users/delta")
	gone.Graph().ExpireDeltaTokens()

	noRetry := []abs.RequestOption{&khttp.RetryHandlerOptions{ShouldRetry: func(time.Duration, int, *http.Request, *http.Response) bool { return false }}}
	cases := []struct {
		name   string
		call   func() error
		status int
		code   string
	}{
		{"403 missing role", func() error { _, err := noRoles.SDK().Users().Get(ctx, nil); return err }, 403, "Authorization_RequestDenied"},
		{"403 non-premium sign-ins", func() error { _, err := backup.SDK().AuditLogs().SignIns().Get(ctx, nil); return err }, 403, "Authentication_RequestFromNonPremiumTenantOrB2CTenant"},
		{"403 logs without AuditLog.Read.All", func() error { _, err := noRoles.SDK().AuditLogs().DirectoryAudits().Get(ctx, nil); return err }, 403, "Authentication_MSGraphPermissionMissing"},
		{"404 unknown user", func() error {
			_, err := backup.SDK().Users().ByUserId("6e0b0c59-0a44-4b8b-9c3e-1d2b3c4d5e6f").Get(ctx, nil)
			return err
		}, 404, "Request_ResourceNotFound"},
		{"400 page size", func() error {
			top := int32(1000)
			_, err := backup.SDK().Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Top: &top}})
			return err
		}, 400, "Request_UnsupportedQuery"},
		{"400 bad filter", func() error {
			f := "displayName eq"
			_, err := backup.SDK().Users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: &f}})
			return err
		}, 400, "BadRequest"},
		{"400 expired delta token", func() error {
			advance(31 * time.Minute) // past the delta token age, within the access token's hour
			_, err := backup.GetRaw(ctx, syncLink)
			return err
		}, 400, "syncStateNotFound"},
		{"410 delta reset", func() error { _, err := goneClient.GetRaw(ctx, goneLink); return err }, 410, "resyncRequired"},
		{"429 injected", func() error {
			gone.Graph().SetFaults(tenantsim.Faults{Rate429: 1})
			defer gone.Graph().SetFaults(tenantsim.Faults{})
			_, err := goneClient.SDK().Organization().Get(ctx, &organization.OrganizationRequestBuilderGetRequestConfiguration{Options: noRetry})
			return err
		}, 429, "TooManyRequests"},
		{"503 injected", func() error {
			gone.Graph().SetFaults(tenantsim.Faults{Rate503: 1})
			defer gone.Graph().SetFaults(tenantsim.Faults{})
			_, err := goneClient.SDK().Organization().Get(ctx, &organization.OrganizationRequestBuilderGetRequestConfiguration{Options: noRetry})
			return err
		}, 503, "serviceNotAvailable"},
		{"401 expired token", func() error {
			advance(2 * time.Hour) // the simulator's clock; azidentity still caches the token
			_, err := backup.SDK().Users().Get(ctx, nil)
			return err
		}, 401, "InvalidAuthenticationToken"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			var oe *odataerrors.ODataError
			if !errors.As(err, &oe) {
				t.Fatalf("error %T %v is not an ODataError", err, err)
			}
			main := oe.GetErrorEscaped()
			if oe.ResponseStatusCode != tc.status || main == nil || deref(main.GetCode()) != tc.code {
				t.Fatalf("got %d %s, want %d %s", oe.ResponseStatusCode, deref(main.GetCode()), tc.status, tc.code)
			}
			if main.GetMessage() == nil || oe.Error() == "" {
				t.Fatal("error.message missing")
			}
			inner := main.GetInnerError()
			if inner == nil || inner.GetDate() == nil || inner.GetRequestId() == nil || inner.GetClientRequestId() == nil {
				t.Fatal("innerError date, request-id or client-request-id missing")
			}
		})
	}
}

func TestSDKThrottlingHitAndRecovered(t *testing.T) {
	s := tenantsim.NewTest(t, tenantsim.Options{Seed: 5, Users: 30, Premium: true,
		Throttle: tenantsim.ThrottleConfig{IdentityRU: 6, Window: 2 * time.Second, ReportsPerWindow: 2}})
	c := newClient(t, s, s.Credentials().BackupApp, false)
	ctx := context.Background()
	// /users costs 2 RU: the 4th call in a row is throttled, and the SDK's
	// retry handler waits out Retry-After and succeeds.
	for i := 0; i < 5; i++ {
		if _, err := c.SDK().Users().Get(ctx, nil); err != nil {
			t.Fatalf("call %d: %s", i, describe(err))
		}
	}
	for i := 0; i < 3; i++ {
		if _, err := c.SDK().AuditLogs().DirectoryAudits().Get(ctx, nil); err != nil {
			t.Fatalf("report call %d: %s", i, describe(err))
		}
	}
	snap := s.Graph().Counters()
	if snap.Total.Throttled < 2 {
		t.Fatalf("expected identity and report throttling, counters %+v", snap.Total)
	}
	if snap.Total.EarlyRetry != 0 {
		t.Fatalf("the SDK honours Retry-After, yet %d early retries were counted", snap.Total.EarlyRetry)
	}
	// A client that ignores Retry-After is counted.
	tok := rawToken(t, s)
	var codes []int
	for i := 0; i < 6; i++ {
		codes = append(codes, rawGet(t, s.GraphURL()+"/users", tok))
	}
	if s.Graph().Counters().Total.EarlyRetry == 0 {
		t.Fatalf("early retries not counted; statuses %v", codes)
	}
	// Conditional access: 1 request/s for the tenant, 429 without Retry-After.
	var ca []http.Header
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest("GET", s.GraphURL()+"/identity/conditionalAccess/policies", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if i == 1 && resp.StatusCode != 429 {
			t.Fatalf("second CA call in a second: status %d", resp.StatusCode)
		}
		ca = append(ca, resp.Header)
	}
	if ca[1].Get("Retry-After") != "" {
		t.Fatal("conditional-access 429 carries Retry-After")
	}
}

func rawToken(t *testing.T, s *tenantsim.Simulator) string {
	t.Helper()
	app := s.Credentials().BackupApp
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ClientID},
		"client_secret": {app.ClientSecret}, "scope": {"https://graph.microsoft.com/.default"}}
	resp, err := s.HTTPClient().PostForm(s.AuthorityHost()+s.Credentials().TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return body.AccessToken
}

func rawGet(t *testing.T, u, tok string) int {
	req, _ := http.NewRequest("GET", u, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestSDKExpandOwnersAndMembers checks $expand on group and administrative
// unit lists with Graph's limits: pages of at most 100 whatever $top says,
// at most 20 expanded items, nested $select, and a clear error for a
// property that cannot be expanded.
func TestSDKExpandOwnersAndMembers(t *testing.T) {
	s := tenantsim.NewTest(t, tenantsim.Options{Seed: 7, Users: 300, Groups: 250, AdministrativeUnits: 3,
		Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	tn := s.Tenant()
	tn.Lock()
	for i := range 25 { // more owners than an expansion returns
		if err := tn.AddMember(model.MakeRef(model.KindGroup, 0), model.MakeRef(model.KindUser, int32(i)), true); err != nil &&
			!errors.Is(err, model.ErrConflict) && !errors.Is(err, model.ErrRefMissing) { // already an owner, or in the recycle bin
			tn.Unlock()
			t.Fatal(err)
		}
	}
	tn.Unlock()
	c := newClient(t, s, s.Credentials().BackupApp, false)
	st := dump(t, s)

	items, pages := collect(t, c, "/groups?$select=id,displayName&$expand=owners($select=id)&$top=999")
	if len(items) != len(st.Groups) || pages != 3 {
		t.Fatalf("got %d groups in %d pages, want %d in 3 (pages of 100)", len(items), pages, len(st.Groups))
	}
	capped := 0
	for _, g := range items {
		id := g["id"].(string)
		owners, _ := g["owners"].([]any)
		want := st.Relationships.GroupOwners[id]
		if len(want) > 20 {
			capped++
			if len(owners) != 20 {
				t.Errorf("group %s: %d owners expanded, want the first 20 of %d", id, len(owners), len(want))
			}
			continue
		}
		got := map[string]bool{}
		for _, o := range owners {
			m := o.(map[string]any)
			if len(m) != 2 || m["@odata.type"] != "#microsoft.graph.user" {
				t.Fatalf("expanded owner %v: want only @odata.type and id", m)
			}
			got[m["id"].(string)] = true
		}
		if len(got) != len(want) {
			t.Fatalf("group %s: owners %v, want %v", id, got, want)
		}
		for _, w := range want {
			if !got[w] {
				t.Fatalf("group %s: owner %s missing", id, w)
			}
		}
		if _, ok := g["description"]; ok {
			t.Fatal("$select ignored next to $expand")
		}
	}
	if capped != 1 {
		t.Fatalf("%d groups with more than 20 owners, want 1", capped)
	}

	aus, _ := collect(t, c, "/directory/administrativeUnits?$expand=members($select=id)")
	for _, a := range aus {
		members, _ := a["members"].([]any)
		if want := len(st.Relationships.AdministrativeUnitMembers[a["id"].(string)]); len(members) != min(want, 20) {
			t.Fatalf("administrative unit %v: %d members expanded, want %d", a["id"], len(members), min(want, 20))
		}
	}

	_, err := c.GetRaw(context.Background(), "/groups?$expand=manager")
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) || oe.ResponseStatusCode != 400 || !strings.Contains(deref(oe.GetErrorEscaped().GetMessage()), "manager") {
		t.Fatalf("$expand=manager on groups: %v, want 400 naming the property", describe(err))
	}
}

// TestSDKRestoreWrites makes the restore's link and role writes through the
// typed SDK: the simulator's answers parse, and its refusals are
// ODataErrors with Graph's messages.
func TestSDKRestoreWrites(t *testing.T) {
	s := tenantsim.NewTest(t, tenantsim.Options{Seed: 14, Users: 60, Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	c := newClient(t, s, s.Credentials().BackupApp, false)
	ctx := context.Background()
	sdk := c.SDK()
	st := dump(t, s)
	u1, u2 := st.Users[7]["id"].(string), st.Users[8]["id"].(string)

	g := models.NewGroup()
	name, nick, f, tr := "SDK links", "sdk-links", false, true
	g.SetDisplayName(&name)
	g.SetMailNickname(&nick)
	g.SetMailEnabled(&f)
	g.SetSecurityEnabled(&tr)
	grp, err := sdk.Groups().Post(ctx, g, nil)
	if err != nil {
		t.Fatal(describe(err))
	}
	bind := models.NewGroup()
	bind.SetAdditionalData(map[string]any{"members@odata.bind": []string{
		"https://graph.microsoft.com/v1.0/directoryObjects/" + u1, "https://graph.microsoft.com/v1.0/directoryObjects/" + u2}})
	if _, err := sdk.Groups().ByGroupId(*grp.GetId()).Patch(ctx, bind, nil); err != nil {
		t.Fatal(describe(err))
	}
	members, err := sdk.Groups().ByGroupId(*grp.GetId()).Members().Get(ctx, nil)
	if err != nil || len(members.GetValue()) != 2 {
		t.Fatalf("members after bind: %v", err)
	}
	_, err = sdk.Groups().ByGroupId(*grp.GetId()).Patch(ctx, bind, nil)
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) || oe.ResponseStatusCode != 400 || !strings.Contains(deref(oe.GetErrorEscaped().GetMessage()), "already exist") {
		t.Fatalf("binding members again: %v", describe(err))
	}

	ra := models.NewUnifiedRoleAssignment()
	role, scope := "f2ef992c-3afb-46b9-b7cf-a126ee74c451", "/"
	ra.SetPrincipalId(&u1)
	ra.SetRoleDefinitionId(&role)
	ra.SetDirectoryScopeId(&scope)
	created, err := sdk.RoleManagement().Directory().RoleAssignments().Post(ctx, ra, nil)
	if err != nil || deref(created.GetPrincipalId()) != u1 || deref(created.GetDirectoryScopeId()) != "/" || created.GetId() == nil {
		t.Fatalf("role assignment: %v", describe(err))
	}
	if _, err := sdk.RoleManagement().Directory().RoleAssignments().Post(ctx, ra, nil); !errors.As(err, &oe) || oe.ResponseStatusCode != 400 {
		t.Fatalf("duplicate role assignment: %v", err)
	}
	if err := sdk.RoleManagement().Directory().RoleAssignments().ByUnifiedRoleAssignmentId(*created.GetId()).Delete(ctx, nil); err != nil {
		t.Fatal(describe(err))
	}

	// Read-only properties are refused, as the SDK's users see on Graph.
	patch := models.NewUser()
	patch.SetProxyAddresses([]string{"SMTP:x@" + s.Credentials().TenantDomain})
	_, err = sdk.Users().ByUserId(u1).Patch(ctx, patch, nil)
	if !errors.As(err, &oe) || oe.ResponseStatusCode != 400 || deref(oe.GetErrorEscaped().GetMessage()) != "Property 'proxyAddresses' is read-only and cannot be set." {
		t.Fatalf("PATCH proxyAddresses: %v", describe(err))
	}
}

// TestInjectedRetryAfterIsChecked: an injected 429 or 503 carries
// Retry-After too, so a retry of the same request inside it is early,
// while the SDK (which waits it out) makes none.
func TestInjectedRetryAfterIsChecked(t *testing.T) {
	s := tenantsim.NewTest(t, tenantsim.Options{Seed: 6, Users: 10, Premium: true,
		Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	s.Graph().SetFaults(tenantsim.Faults{Rate429: 0.3, Rate503: 0.3, RetryAfterSeconds: 1, Seed: 3})
	c := newClient(t, s, s.Credentials().BackupApp, false)
	for i := 0; i < 6; i++ {
		if _, err := c.SDK().Users().Get(context.Background(), nil); err != nil {
			t.Fatalf("call %d: %s", i, describe(err))
		}
	}
	snap := s.Graph().Counters().Total
	if snap.FaultsCount == 0 || snap.EarlyRetry != 0 {
		t.Fatalf("SDK calls: want faults and no early retry, got %+v", snap)
	}
	// The same request (same client-request-id) sent again at once after a
	// fault is early.
	tok := rawToken(t, s)
	for i := 0; i < 20 && s.Graph().Counters().Total.EarlyRetry == 0; i++ {
		req, _ := http.NewRequest("GET", s.GraphURL()+"/users", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("client-request-id", fmt.Sprintf("raw-%d", i))
		for try := 0; try < 2; try++ {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode < 429 {
				break
			}
		}
	}
	if s.Graph().Counters().Total.EarlyRetry == 0 {
		t.Fatal("an immediate retry of an injected 429/503 was not counted")
	}
}
