package tenantsim_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/internal/tenantsim/model"
)

var flowField = regexp.MustCompile(`name="flow" value="([^"]+)"`)

// callback is the app's redirect URI; it records the query it received.
type callback struct {
	mu   sync.Mutex
	last url.Values
	srv  *httptest.Server
}

func newCallback(t *testing.T) *callback {
	cb := &callback{}
	cb.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cb.mu.Lock()
		cb.last = r.URL.Query()
		cb.mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(cb.srv.Close)
	return cb
}

func (cb *callback) query() url.Values { cb.mu.Lock(); defer cb.mu.Unlock(); return cb.last }

func authorizeURL(s *tenantsim.Simulator, redirect string, extra url.Values) string {
	q := url.Values{"client_id": {s.Credentials().BackupApp.ClientID}, "response_type": {"code"},
		"redirect_uri": {redirect}, "scope": {"openid profile https://graph.microsoft.com/.default"},
		"prompt": {"consent"}, "state": {"st-123"}}
	for k, v := range extra {
		q[k] = v
	}
	return s.AuthorityHost() + s.Credentials().TenantID + "/oauth2/v2.0/authorize?" + q.Encode()
}

func formFlow(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := flowField.FindSubmatch(b)
	if m == nil {
		t.Fatalf("status %d: no flow field in page", resp.StatusCode)
	}
	return string(m[1])
}

func TestConsentFlowEndToEnd(t *testing.T) {
	s := tenantsim.NewTest(t, tenantsim.Options{Seed: 11, Users: 40, ConsentRequired: true,
		Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	ctx := context.Background()
	cr := s.Credentials()
	admin, regular := cr.Admins[0], cr.Admins[2]
	if !slices.Contains(admin.Roles, "Global Administrator") || len(regular.Roles) != 0 {
		t.Fatalf("unexpected accounts: %+v", cr.Admins)
	}

	// Before consent the app's token has no roles: Graph refuses.
	before := newClient(t, s, cr.BackupApp, false)
	_, err := before.SDK().Users().Get(ctx, nil)
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) || oe.ResponseStatusCode != 403 {
		t.Fatalf("before consent: %v", err)
	}

	cb := newCallback(t)
	hc := s.HTTPClient() // follows redirects, trusts the simulator CA
	resp, err := hc.Get(authorizeURL(s, cb.srv.URL+"/cb", nil))
	if err != nil {
		t.Fatal(err)
	}
	flow := formFlow(t, resp)
	base := s.AuthorityHost() + cr.TenantID
	resp, err = hc.PostForm(base+"/login", url.Values{"flow": {flow}, "login": {admin.UPN}, "passwd": {admin.Password}})
	if err != nil {
		t.Fatal(err)
	}
	flow = formFlow(t, resp) // the permission review page
	resp, err = hc.PostForm(base+"/consent", url.Values{"flow": {flow}, "action": {"accept"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	got := cb.query()
	if got.Get("state") != "st-123" || got.Get("code") == "" {
		t.Fatalf("accept redirected with %v", got)
	}

	// The code exchanges for an id_token of the signed-in admin.
	tok, err := hc.PostForm(base+"/oauth2/v2.0/token", url.Values{"grant_type": {"authorization_code"},
		"client_id": {cr.BackupApp.ClientID}, "client_secret": {cr.BackupApp.ClientSecret}, "code": {got.Get("code")},
		"redirect_uri": {cb.srv.URL + "/cb"}, "scope": {"openid profile https://graph.microsoft.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		IDToken string `json:"id_token"`
	}
	_ = json.NewDecoder(tok.Body).Decode(&body)
	tok.Body.Close()
	parts := strings.Split(body.IDToken, ".")
	if len(parts) != 3 {
		t.Fatalf("no id_token (status %d)", tok.StatusCode)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct{ UPN, TID, OID string }
	_ = json.Unmarshal(payload, &claims)
	if !strings.EqualFold(claims.UPN, admin.UPN) || claims.TID != cr.TenantID || claims.OID == "" {
		t.Fatalf("id_token claims %+v", claims)
	}

	// Consent is recorded in the ground truth and a fresh credential reads.
	resp, err = http.Get(strings.TrimSuffix(s.GraphURL(), "/v1.0") + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		ConsentGrants []struct {
			ClientID string   `json:"clientId"`
			Roles    []string `json:"roles"`
		} `json:"consentGrants"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if len(st.ConsentGrants) != 1 || st.ConsentGrants[0].ClientID != cr.BackupApp.ClientID ||
		!slices.Contains(st.ConsentGrants[0].Roles, "User.Read.All") {
		t.Fatalf("consent grants %+v", st.ConsentGrants)
	}
	after := newClient(t, s, cr.BackupApp, true)
	if _, err := after.SDK().Users().Get(ctx, nil); err != nil {
		t.Fatalf("after consent: %s", describe(err))
	}

	cases := []struct {
		name, upn, wantErr string
	}{
		{"cancel", admin.UPN, "access_denied"},
		{"non-admin", regular.UPN, "consent_required"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			auto := "accept"
			if tc.name == "cancel" {
				auto = "cancel"
			}
			resp, err := hc.Get(authorizeURL(s, cb.srv.URL+"/cb", url.Values{"sim_auto": {auto}, "login_hint": {tc.upn}}))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			q := cb.query()
			if q.Get("error") != tc.wantErr || q.Get("state") != "st-123" || q.Get("code") != "" {
				t.Fatalf("redirect query %v", q)
			}
		})
	}
}

func TestWritesForRestore(t *testing.T) {
	s := tenantsim.NewTest(t, tenantsim.Options{Seed: 12, Users: 40, Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	c := newClient(t, s, s.Credentials().BackupApp, false)
	ctx := context.Background()
	sdk := c.SDK()

	u := models.NewUser()
	enabled := true
	name, upn, nick := "Restored Person", "restored.person@"+s.Credentials().TenantDomain, "restored.person"
	u.SetAccountEnabled(&enabled)
	u.SetDisplayName(&name)
	u.SetUserPrincipalName(&upn)
	u.SetMailNickname(&nick)
	pp := models.NewPasswordProfile()
	pw := "Temp-Passw0rd!"
	pp.SetPassword(&pw)
	u.SetPasswordProfile(pp)
	created, err := sdk.Users().Post(ctx, u, nil) // body gzip-compressed by the SDK
	if err != nil {
		t.Fatal(describe(err))
	}
	id := *created.GetId()
	title := "Chief Restorer"
	patch := models.NewUser()
	patch.SetJobTitle(&title)
	if _, err := sdk.Users().ByUserId(id).Patch(ctx, patch, nil); err != nil {
		t.Fatal(describe(err))
	}
	got, err := sdk.Users().ByUserId(id).Get(ctx, nil)
	if err != nil || deref(got.GetJobTitle()) != title || deref(got.GetDisplayName()) != name {
		t.Fatalf("after patch: %v %v", err, got)
	}

	// A Microsoft 365 group with the user as member.
	g := models.NewGroup()
	gname, gnick, f, tr := "Restore Team", "restore-team", false, true
	g.SetDisplayName(&gname)
	g.SetMailNickname(&gnick)
	g.SetMailEnabled(&tr)
	g.SetSecurityEnabled(&f)
	g.SetGroupTypes([]string{"Unified"})
	grp, err := sdk.Groups().Post(ctx, g, nil)
	if err != nil {
		t.Fatal(describe(err))
	}
	ref := models.NewReferenceCreate()
	odataID := s.GraphURL() + "/directoryObjects/" + id
	ref.SetOdataId(&odataID)
	if err := sdk.Groups().ByGroupId(*grp.GetId()).Members().Ref().Post(ctx, ref, nil); err != nil {
		t.Fatal(describe(err))
	}
	members, err := sdk.Groups().ByGroupId(*grp.GetId()).Members().Get(ctx, nil)
	if err != nil || len(members.GetValue()) != 1 {
		t.Fatalf("members after add: %v", err)
	}

	// Delete both, restore both from the recycle bin.
	for _, del := range []func() error{
		func() error { return sdk.Users().ByUserId(id).Delete(ctx, nil) },
		func() error { return sdk.Groups().ByGroupId(*grp.GetId()).Delete(ctx, nil) },
	} {
		if err := del(); err != nil {
			t.Fatal(describe(err))
		}
	}
	for _, oid := range []string{id, *grp.GetId()} {
		if _, err := sdk.Directory().DeletedItems().ByDirectoryObjectId(oid).Restore().Post(ctx, nil); err != nil {
			t.Fatalf("restore %s: %s", oid, describe(err))
		}
	}
	members, err = sdk.Groups().ByGroupId(*grp.GetId()).Members().Get(ctx, nil)
	if err != nil || len(members.GetValue()) != 1 {
		t.Fatalf("membership after restore: %v", err)
	}

	// Security groups are deleted for good; restoring one fails.
	sg := models.NewGroup()
	sname, snick := "Temp Security", "temp-security"
	sg.SetDisplayName(&sname)
	sg.SetMailNickname(&snick)
	sg.SetMailEnabled(&f)
	sg.SetSecurityEnabled(&tr)
	sec, err := sdk.Groups().Post(ctx, sg, nil)
	if err != nil {
		t.Fatal(describe(err))
	}
	if err := sdk.Groups().ByGroupId(*sec.GetId()).Delete(ctx, nil); err != nil {
		t.Fatal(describe(err))
	}
	_, err = sdk.Directory().DeletedItems().ByDirectoryObjectId(*sec.GetId()).Restore().Post(ctx, nil)
	if !errors.As(err, new(*odataerrors.ODataError)) {
		t.Fatalf("restoring a security group: %v", err)
	}

	// An app with only read roles cannot write.
	ro := tenantsim.NewTest(t, tenantsim.Options{Seed: 12, Users: 40, ConsentRequired: true, Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	ro.Tenant().RecordConsent(ro.Credentials().BackupApp.ClientID, model.BackupReadRoles, "test", ro.Tenant().Now())
	rc := newClient(t, ro, ro.Credentials().BackupApp, false)
	_, err = rc.SDK().Users().Post(ctx, u, nil)
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) || oe.ResponseStatusCode != 403 || deref(oe.GetErrorEscaped().GetCode()) != "Authorization_RequestDenied" {
		t.Fatalf("read-only write: %v", err)
	}
}

func TestPolicyAndAdministrativeUnitWrites(t *testing.T) {
	s := tenantsim.NewTest(t, tenantsim.Options{Seed: 13, Users: 30, Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	c := newClient(t, s, s.Credentials().BackupApp, false)
	ctx := context.Background()
	sdk := c.SDK()

	loc := models.NewIpNamedLocation()
	lname, cidr, trusted := "Restored office", "192.0.2.0/24", true
	loc.SetDisplayName(&lname)
	typ := "#microsoft.graph.ipNamedLocation" // the SDK does not set it; Graph requires it
	loc.SetOdataType(&typ)
	loc.SetIsTrusted(&trusted)
	r := models.NewIPv4CidrRange()
	r.SetCidrAddress(&cidr)
	loc.SetIpRanges([]models.IpRangeable{r})
	createdLoc, err := sdk.Identity().ConditionalAccess().NamedLocations().Post(ctx, loc, nil)
	if err != nil {
		t.Fatal(describe(err))
	}
	if _, ok := createdLoc.(models.IpNamedLocationable); !ok {
		t.Fatalf("created named location is %T", createdLoc)
	}

	p := models.NewConditionalAccessPolicy()
	pname, state := "Restored policy", models.DISABLED_CONDITIONALACCESSPOLICYSTATE
	p.SetDisplayName(&pname)
	p.SetState(&state)
	cond := models.NewConditionalAccessConditionSet()
	users := models.NewConditionalAccessUsers()
	users.SetIncludeUsers([]string{"All"})
	cond.SetUsers(users)
	locs := models.NewConditionalAccessLocations()
	locs.SetIncludeLocations([]string{*createdLoc.GetId()})
	cond.SetLocations(locs)
	p.SetConditions(cond)
	pol, err := sdk.Identity().ConditionalAccess().Policies().Post(ctx, p, nil)
	if err != nil {
		t.Fatal(describe(err))
	}
	enabled := models.ENABLED_CONDITIONALACCESSPOLICYSTATE
	patch := models.NewConditionalAccessPolicy()
	patch.SetState(&enabled)
	if _, err := sdk.Identity().ConditionalAccess().Policies().ByConditionalAccessPolicyId(*pol.GetId()).Patch(ctx, patch, nil); err != nil {
		t.Fatal(describe(err))
	}
	got, err := sdk.Identity().ConditionalAccess().Policies().ByConditionalAccessPolicyId(*pol.GetId()).Get(ctx, nil)
	if err != nil || got.GetState() == nil || *got.GetState() != enabled ||
		!slices.Contains(got.GetConditions().GetLocations().GetIncludeLocations(), *createdLoc.GetId()) {
		t.Fatalf("policy after patch: %v", err)
	}
	if err := sdk.Identity().ConditionalAccess().Policies().ByConditionalAccessPolicyId(*pol.GetId()).Delete(ctx, nil); err != nil {
		t.Fatal(describe(err))
	}
	if _, err := sdk.Identity().ConditionalAccess().Policies().ByConditionalAccessPolicyId(*pol.GetId()).Get(ctx, nil); !errors.As(err, new(*odataerrors.ODataError)) {
		t.Fatalf("deleted policy still readable: %v", err)
	}

	au := models.NewAdministrativeUnit()
	aname := "Restored unit"
	au.SetDisplayName(&aname)
	createdAU, err := sdk.Directory().AdministrativeUnits().Post(ctx, au, nil)
	if err != nil {
		t.Fatal(describe(err))
	}
	ref := models.NewReferenceCreate()
	userID := s.Credentials().Admins[2].UPN
	list, err := sdk.Users().Get(ctx, nil)
	if err != nil {
		t.Fatal(describe(err))
	}
	for _, u := range list.GetValue() {
		if strings.EqualFold(deref(u.GetUserPrincipalName()), userID) {
			userID = *u.GetId()
		}
	}
	odataID := s.GraphURL() + "/directoryObjects/" + userID
	ref.SetOdataId(&odataID)
	if err := sdk.Directory().AdministrativeUnits().ByAdministrativeUnitId(*createdAU.GetId()).Members().Ref().Post(ctx, ref, nil); err != nil {
		t.Fatal(describe(err))
	}
	members, err := sdk.Directory().AdministrativeUnits().ByAdministrativeUnitId(*createdAU.GetId()).Members().Get(ctx, nil)
	if err != nil || len(members.GetValue()) != 1 || deref(members.GetValue()[0].GetId()) != userID {
		t.Fatalf("AU members: %v", err)
	}
	if err := sdk.Directory().AdministrativeUnits().ByAdministrativeUnitId(*createdAU.GetId()).Members().ByDirectoryObjectId(userID).Ref().Delete(ctx, nil); err != nil {
		t.Fatal(describe(err))
	}
	members, err = sdk.Directory().AdministrativeUnits().ByAdministrativeUnitId(*createdAU.GetId()).Members().Get(ctx, nil)
	if err != nil || len(members.GetValue()) != 0 {
		t.Fatalf("AU members after removal: %v", err)
	}
}
