package entra

import (
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"html"
	"math/big"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// authorizeURL builds an authorize (or adminconsent) URL for the backup app.
func (h *harness) authorizeURL(path string, extra url.Values) string {
	q := url.Values{
		"client_id":     {backupAppID},
		"response_type": {"code"},
		"redirect_uri":  {appRedirect},
		"scope":         {"openid profile https://graph.microsoft.com/.default"},
		"state":         {"st-123"},
		"nonce":         {"n-456"},
		"prompt":        {"consent"},
	}
	for k, v := range extra {
		if v[0] == "" {
			q.Del(k)
		} else {
			q[k] = v
		}
	}
	return h.ts.URL + path + "?" + q.Encode()
}

func authorizePath(tenant string) string { return "/" + tenant + "/oauth2/v2.0/authorize" }

// signIn walks GET authorize → POST credentials and returns the page after.
func (h *harness) signIn(c *http.Client, authURL, upn, password string) page {
	h.t.Helper()
	p := h.get(c, authURL)
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="passwd"`) {
		h.t.Fatalf("authorize did not show the sign-in page: %d\n%s", p.status, p.body)
	}
	return h.submit(c, p, url.Values{"login": {upn}, "passwd": {password}})
}

// redirected checks p sends the browser to the app's redirect URI and returns
// the query.
func redirected(t *testing.T, p page, want string) url.Values {
	t.Helper()
	if p.status != http.StatusFound || p.location == nil {
		t.Fatalf("want a redirect, got %d:\n%s", p.status, p.body)
	}
	got := *p.location
	got.RawQuery = ""
	if got.String() != want {
		t.Fatalf("redirected to %s, want %s", got.String(), want)
	}
	return p.location.Query()
}

// exchange redeems a code with the backup app's secret.
func (h *harness) exchange(code string, extra url.Values) (int, map[string]any) {
	h.t.Helper()
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"client_id":     {backupAppID},
		"client_secret": {backupSecret},
		"code":          {code},
		"redirect_uri":  {appRedirect},
		"scope":         {"openid profile https://graph.microsoft.com/.default"},
	}
	for k, v := range extra {
		if v[0] == "" {
			form.Del(k)
		} else {
			form[k] = v
		}
	}
	return h.postToken(testTenant, form)
}

// verifyIDToken checks the id_token signature with the key published in the
// JWKS (as an OIDC client would) and returns its claims.
func (h *harness) verifyIDToken(raw string) jwt.MapClaims {
	h.t.Helper()
	resp, err := h.tls.Client().Get(h.ts.URL + "/" + testTenant + "/discovery/v2.0/keys")
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var jwks struct {
		Keys []struct{ Kid, N, E string } `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&jwks); err != nil || len(jwks.Keys) != 1 {
		h.t.Fatalf("JWKS: %v %+v", err, jwks)
	}
	n, _ := base64.RawURLEncoding.DecodeString(jwks.Keys[0].N)
	e, _ := base64.RawURLEncoding.DecodeString(jwks.Keys[0].E)
	pub := &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	var c jwt.MapClaims
	_, err = jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if t.Header["kid"] != jwks.Keys[0].Kid {
			h.t.Errorf("id_token kid %v not in JWKS", t.Header["kid"])
		}
		return pub, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithTimeFunc(h.clock.Now),
		jwt.WithAudience(backupAppID), jwt.WithIssuer(h.ts.URL+"/"+testTenant+"/v2.0"))
	if err != nil {
		h.t.Fatalf("id_token: %v", err)
	}
	return c
}

// TestConsentFlowAccept is the connector's "Sign in → Review permissions →
// Accept" path end to end, then the code exchange.
func TestConsentFlowAccept(t *testing.T) {
	h := newHarness(t)
	c := h.browser()
	review := h.signIn(c, h.authorizeURL(authorizePath(testTenant), nil), adminUPN, adminPassword)
	if review.status != http.StatusOK || !strings.Contains(review.body, "Permissions requested") {
		t.Fatalf("want the review page, got %d:\n%s", review.status, review.body)
	}
	for _, r := range backupRoles {
		if !strings.Contains(review.body, r) {
			t.Errorf("review page does not list %s", r)
		}
	}
	if len(h.dir.consentLog()) != 0 {
		t.Fatal("consent recorded before Accept")
	}
	q := redirected(t, h.submit(c, review, url.Values{"action": {"accept"}}), appRedirect)
	if q.Get("state") != "st-123" || q.Get("code") == "" || q.Get("error") != "" {
		t.Fatalf("redirect query = %v", q)
	}
	log := h.dir.consentLog()
	if len(log) != 1 || log[0].clientID != backupAppID || log[0].by != adminOID || !slices.Equal(log[0].roles, backupRoles) || !log[0].at.Equal(h.clock.Now()) {
		t.Fatalf("consent log = %+v", log)
	}

	status, body := h.exchange(q.Get("code"), nil)
	if status != http.StatusOK {
		t.Fatalf("exchange: %d %v", status, body)
	}
	id := h.verifyIDToken(body["id_token"].(string))
	for k, want := range map[string]string{
		"oid": adminOID, "upn": adminUPN, "preferred_username": adminUPN, "tid": testTenant,
		"name": "Ada Admin", "nonce": "n-456", "ver": "2.0",
	} {
		if id[k] != want {
			t.Errorf("id_token %s = %v, want %s", k, id[k], want)
		}
	}
	at, err := h.srv.VerifyAccessToken(body["access_token"].(string))
	if err != nil {
		t.Fatal(err)
	}
	if at.IdentityType != "user" || at.ObjectID != adminOID || at.UserPrincipalName != adminUPN || at.AppID != backupAppID {
		t.Errorf("access token claims = %+v", at)
	}
	if body["expires_in"] != float64(3599) {
		t.Errorf("expires_in = %v", body["expires_in"])
	}

	// The grant now shows in app-only tokens.
	app, err := h.srv.VerifyAccessToken(h.appToken())
	if err != nil {
		t.Fatal(err)
	}
	if want := slices.Sorted(slices.Values(backupRoles)); !slices.Equal(app.Roles, want) {
		t.Errorf("roles after consent = %v, want %v", app.Roles, want)
	}

	// Codes are single-use.
	status, body = h.exchange(q.Get("code"), nil)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" || !hasCode(body, 54005) {
		t.Errorf("replayed code: %d %v", status, body)
	}
}

func hasCode(body map[string]any, code float64) bool {
	codes, _ := body["error_codes"].([]any)
	return len(codes) == 1 && codes[0] == code
}

// TestConsentFlowOutcomes covers every other way the interactive flow ends.
func TestConsentFlowOutcomes(t *testing.T) {
	tests := []struct {
		name string
		// granted is consent already on record before the flow.
		granted []string
		query   url.Values
		upn     string
		pass    string
		// action on the review page; "" when no review page is expected.
		action    string
		wantQuery map[string]string // on the redirect; "*" = any non-empty value
		wantPage  string            // instead of a redirect: status + text on the page
		status    int
		consents  int
	}{
		{
			name: "cancel", upn: adminUPN, pass: adminPassword, action: "cancel",
			wantQuery: map[string]string{"error": "access_denied", "state": "st-123", "error_description": "AADSTS65004*", "code": ""},
		},
		{
			name: "non-admin needs admin approval", upn: userUPN, pass: userPassword,
			wantPage: "AADSTS90094", status: http.StatusForbidden,
		},
		{
			name: "consent on record skips review", granted: backupRoles, query: url.Values{"prompt": {""}},
			upn: userUPN, pass: userPassword,
			wantQuery: map[string]string{"code": "*", "state": "st-123"},
		},
		{
			name: "prompt=consent reviews again", granted: backupRoles, upn: adminUPN, pass: adminPassword, action: "accept",
			wantQuery: map[string]string{"code": "*", "state": "st-123"}, consents: 1,
		},
		{
			name: "partial consent reviews", granted: backupRoles[:1], query: url.Values{"prompt": {""}},
			upn: adminUPN, pass: adminPassword, action: "accept",
			wantQuery: map[string]string{"code": "*"}, consents: 1,
		},
		{
			name: "tenant by domain", query: url.Values{"prompt": {""}}, upn: adminUPN, pass: adminPassword, action: "accept",
			wantQuery: map[string]string{"code": "*"}, consents: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			if tc.granted != nil {
				h.dir.grant(backupAppID, tc.granted...)
			}
			tenant := testTenant
			if strings.Contains(tc.name, "domain") {
				tenant = testDomain
			}
			c := h.browser()
			p := h.signIn(c, h.authorizeURL(authorizePath(tenant), tc.query), tc.upn, tc.pass)
			if tc.action != "" {
				if !strings.Contains(p.body, "Permissions requested") {
					t.Fatalf("want the review page, got %d:\n%s", p.status, p.body)
				}
				p = h.submit(c, p, url.Values{"action": {tc.action}})
			}
			if tc.wantPage != "" {
				if p.status != tc.status || !strings.Contains(p.body, tc.wantPage) {
					t.Fatalf("got %d, want %d with %s:\n%s", p.status, tc.status, tc.wantPage, p.body)
				}
			} else {
				checkQuery(t, redirected(t, p, appRedirect), tc.wantQuery)
			}
			if n := len(h.dir.consentLog()); n != tc.consents {
				t.Errorf("consents recorded = %d, want %d", n, tc.consents)
			}
		})
	}
}

func checkQuery(t *testing.T, q url.Values, want map[string]string) {
	t.Helper()
	for k, w := range want {
		got := q.Get(k)
		switch {
		case w == "*" && got == "":
			t.Errorf("%s missing from redirect %v", k, q)
		case strings.HasSuffix(w, "*") && w != "*" && !strings.HasPrefix(got, strings.TrimSuffix(w, "*")):
			t.Errorf("%s = %q, want prefix %q", k, got, strings.TrimSuffix(w, "*"))
		case !strings.HasSuffix(w, "*") && got != w:
			t.Errorf("%s = %q, want %q", k, got, w)
		}
	}
}

// TestNonAdminApprovalLink: the "Need admin approval" page links back to the
// app with consent_required.
func TestNonAdminApprovalLink(t *testing.T) {
	h := newHarness(t)
	p := h.signIn(h.browser(), h.authorizeURL(authorizePath(testTenant), nil), userUPN, userPassword)
	i := strings.Index(p.body, `<a href="`)
	if i < 0 {
		t.Fatalf("no link on the approval page:\n%s", p.body)
	}
	href := p.body[i+len(`<a href="`):]
	href = html.UnescapeString(href[:strings.Index(href, `"`)])
	u, err := url.Parse(href)
	if err != nil {
		t.Fatal(err)
	}
	checkQuery(t, u.Query(), map[string]string{"error": "consent_required", "error_description": "AADSTS90094*", "state": "st-123"})
}

// TestWrongPassword: the sign-in page comes back with AADSTS50126 and the
// same flow then succeeds with the right password.
func TestWrongPassword(t *testing.T) {
	h := newHarness(t)
	c := h.browser()
	p := h.signIn(c, h.authorizeURL(authorizePath(testTenant), nil), adminUPN, "wrong")
	if p.status != http.StatusOK || !strings.Contains(p.body, "AADSTS50126") || !strings.Contains(p.body, `name="passwd"`) {
		t.Fatalf("want the sign-in page with AADSTS50126, got %d:\n%s", p.status, p.body)
	}
	if strings.Contains(p.body, "wrong") && strings.Contains(p.body, `value="wrong"`) {
		t.Error("page echoes the password")
	}
	p = h.submit(c, p, url.Values{"login": {"nobody@contoso.onmicrosoft.com"}, "passwd": {"x"}})
	if !strings.Contains(p.body, "AADSTS50034") {
		t.Fatalf("unknown user: want AADSTS50034, got %d:\n%s", p.status, p.body)
	}
	p = h.submit(c, p, url.Values{"login": {strings.ToUpper(adminUPN)}, "passwd": {adminPassword}})
	if !strings.Contains(p.body, "Permissions requested") {
		t.Fatalf("right password: want the review page, got %d:\n%s", p.status, p.body)
	}
}

// TestSimAuto completes the flows without pages, as scripts do.
func TestSimAuto(t *testing.T) {
	adminV2 := "/" + testTenant + "/v2.0/adminconsent"
	adminV1 := "/" + testTenant + "/adminconsent"
	tests := []struct {
		name      string
		path      string
		query     url.Values
		wantQuery map[string]string
		wantPage  int // error page status instead of a redirect
		consents  int
	}{
		{"authorize accept", authorizePath(testTenant), url.Values{"sim_auto": {"accept"}, "login_hint": {adminUPN}},
			map[string]string{"code": "*", "state": "st-123"}, 0, 1},
		{"authorize cancel", authorizePath(testTenant), url.Values{"sim_auto": {"cancel"}, "login_hint": {adminUPN}},
			map[string]string{"error": "access_denied", "error_description": "AADSTS65004*", "state": "st-123"}, 0, 0},
		{"authorize non-admin", authorizePath(testTenant), url.Values{"sim_auto": {"accept"}, "login_hint": {userUPN}},
			map[string]string{"error": "consent_required", "error_description": "AADSTS90094*", "state": "st-123"}, 0, 0},
		{"authorize unknown user", authorizePath(testTenant), url.Values{"sim_auto": {"accept"}, "login_hint": {"ghost@contoso.onmicrosoft.com"}},
			nil, http.StatusBadRequest, 0},
		{"authorize without login_hint", authorizePath(testTenant), url.Values{"sim_auto": {"accept"}},
			nil, http.StatusBadRequest, 0},
		{"v2 adminconsent accept", adminV2, url.Values{"sim_auto": {"accept"}, "login_hint": {adminUPN}, "scope": {"https://graph.microsoft.com/.default"}},
			map[string]string{"admin_consent": "True", "tenant": testTenant, "scope": "https://graph.microsoft.com/.default", "state": "st-123", "code": ""}, 0, 1},
		{"v2 adminconsent cancel", adminV2, url.Values{"sim_auto": {"cancel"}, "login_hint": {adminUPN}, "scope": {"https://graph.microsoft.com/.default"}},
			map[string]string{"error": "access_denied", "error_description": "AADSTS65004*", "state": "st-123", "admin_consent": ""}, 0, 0},
		{"v2 adminconsent non-admin", adminV2, url.Values{"sim_auto": {"accept"}, "login_hint": {userUPN}, "scope": {"https://graph.microsoft.com/.default"}},
			map[string]string{"error": "consent_required", "state": "st-123"}, 0, 0},
		{"v2 adminconsent without scope", adminV2, url.Values{"sim_auto": {"accept"}, "login_hint": {adminUPN}, "scope": {""}},
			map[string]string{"error": "invalid_request"}, 0, 0},
		{"v1 adminconsent accept", adminV1, url.Values{"sim_auto": {"accept"}, "login_hint": {adminUPN}},
			map[string]string{"admin_consent": "True", "tenant": testTenant, "state": "st-123"}, 0, 1},
		{"v1 adminconsent cancel", adminV1, url.Values{"sim_auto": {"cancel"}, "login_hint": {adminUPN}},
			map[string]string{"error": "permission_denied", "state": "st-123"}, 0, 0},
		{"v2 adminconsent on common", "/common/v2.0/adminconsent", url.Values{"sim_auto": {"accept"}, "login_hint": {adminUPN}},
			nil, http.StatusBadRequest, 0},
		{"unknown tenant", authorizePath("nowhere.example"), url.Values{"sim_auto": {"accept"}, "login_hint": {adminUPN}},
			nil, http.StatusBadRequest, 0},
		{"unknown client", authorizePath(testTenant), url.Values{"sim_auto": {"accept"}, "login_hint": {adminUPN}, "client_id": {"dddddddd-0000-0000-0000-000000000000"}},
			nil, http.StatusBadRequest, 0},
		{"unregistered redirect", authorizePath(testTenant), url.Values{"sim_auto": {"accept"}, "login_hint": {adminUPN}, "client_id": {strictAppID}, "redirect_uri": {"https://evil.example/cb"}},
			nil, http.StatusBadRequest, 0},
		{"http redirect off loopback", authorizePath(testTenant), url.Values{"sim_auto": {"accept"}, "login_hint": {adminUPN}, "redirect_uri": {"http://app.example/cb"}},
			nil, http.StatusBadRequest, 0},
		{"bad response_type", authorizePath(testTenant), url.Values{"sim_auto": {"accept"}, "login_hint": {adminUPN}, "response_type": {"token"}},
			map[string]string{"error": "unsupported_response_type", "state": "st-123"}, 0, 0},
		{"prompt=none", authorizePath(testTenant), url.Values{"login_hint": {adminUPN}, "prompt": {"none"}},
			map[string]string{"error": "login_required", "state": "st-123"}, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			p := h.get(h.browser(), h.authorizeURL(tc.path, tc.query))
			if tc.wantPage != 0 {
				if p.status != tc.wantPage || p.location != nil || !strings.Contains(p.body, "AADSTS") {
					t.Fatalf("want error page %d, got %d (location %v):\n%s", tc.wantPage, p.status, p.location, p.body)
				}
			} else {
				checkQuery(t, redirected(t, p, appRedirect), tc.wantQuery)
			}
			log := h.dir.consentLog()
			if len(log) != tc.consents {
				t.Fatalf("consents = %+v, want %d", log, tc.consents)
			}
			if tc.consents == 1 && (log[0].by != adminOID || !slices.Equal(log[0].roles, backupRoles)) {
				t.Errorf("consent = %+v", log[0])
			}
		})
	}
}

// TestAdminConsentInteractive: v2 adminconsent through the pages.
func TestAdminConsentInteractive(t *testing.T) {
	h := newHarness(t)
	c := h.browser()
	p := h.signIn(c, h.authorizeURL("/"+testDomain+"/v2.0/adminconsent", url.Values{"scope": {"https://graph.microsoft.com/.default"}}), adminUPN, adminPassword)
	q := redirected(t, h.submit(c, p, url.Values{"action": {"accept"}}), appRedirect)
	checkQuery(t, q, map[string]string{"admin_consent": "True", "tenant": testTenant, "state": "st-123"})
	if !slices.Equal(h.dir.GrantedRoles(backupAppID), backupRoles) {
		t.Errorf("granted = %v", h.dir.GrantedRoles(backupAppID))
	}
	// The flow is over: its form cannot be replayed.
	if again := h.submit(c, p, url.Values{"action": {"accept"}}); again.status != http.StatusBadRequest || again.location != nil {
		t.Errorf("replayed consent form: %d %v", again.status, again.location)
	}
}

// TestCodeExchangeErrors covers code expiry, redirect mismatch, PKCE and
// client mismatch.
func TestCodeExchangeErrors(t *testing.T) {
	verifier := "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	sum := sha256.Sum256([]byte(verifier))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	tests := []struct {
		name       string
		query      url.Values
		advance    time.Duration
		form       url.Values
		wantStatus int
		wantCode   float64
	}{
		{"expired after 10 minutes", nil, 10*time.Minute + time.Second, nil, 400, 70008},
		{"valid before 10 minutes", nil, 9 * time.Minute, nil, 200, 0},
		{"redirect mismatch", nil, 0, url.Values{"redirect_uri": {"https://app.example/other"}}, 400, 500112},
		{"other client", nil, 0, url.Values{"client_id": {noRolesAppID}, "client_secret": {noRolesSecret}}, 400, 70000},
		{"wrong client secret", nil, 0, url.Values{"client_secret": {"bad"}}, 401, 7000215},
		{"unknown code", nil, 0, url.Values{"code": {"bogus"}}, 400, 70000},
		{"PKCE public client", url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}, 0,
			url.Values{"client_secret": {""}, "code_verifier": {verifier}}, 200, 0},
		{"PKCE wrong verifier", url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}, 0,
			url.Values{"code_verifier": {"another-verifier-another-verifier-another-verifier"}}, 400, 501481},
		{"PKCE verifier missing", url.Values{"code_challenge": {challenge}, "code_challenge_method": {"S256"}}, 0,
			nil, 400, 501481},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			q := url.Values{"sim_auto": {"accept"}, "login_hint": {adminUPN}}
			for k, v := range tc.query {
				q[k] = v
			}
			code := redirected(t, h.get(h.browser(), h.authorizeURL(authorizePath(testTenant), q)), appRedirect).Get("code")
			h.clock.Advance(tc.advance)
			status, body := h.exchange(code, tc.form)
			if status != tc.wantStatus {
				t.Fatalf("status = %d %v, want %d", status, body, tc.wantStatus)
			}
			if tc.wantCode != 0 && !hasCode(body, tc.wantCode) {
				t.Errorf("error_codes = %v, want %v", body["error_codes"], tc.wantCode)
			}
			if status == 200 {
				h.verifyIDToken(body["id_token"].(string))
			}
		})
	}
}

// TestDiscovery checks the documents MSAL reads.
func TestDiscovery(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name, tenant, wantIssuer, wantToken string
	}{
		{"tenant id", testTenant, h.ts.URL + "/" + testTenant + "/v2.0", h.ts.URL + "/" + testTenant + "/oauth2/v2.0/token"},
		{"domain names the tenant id", testDomain, h.ts.URL + "/" + testTenant + "/v2.0", h.ts.URL + "/" + testTenant + "/oauth2/v2.0/token"},
		{"common keeps the placeholder", "common", h.ts.URL + "/{tenantid}/v2.0", h.ts.URL + "/common/oauth2/v2.0/token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := h.get(h.tls.Client(), h.ts.URL+"/"+tc.tenant+"/v2.0/.well-known/openid-configuration")
			var doc map[string]any
			mustJSON(t, p.body, &doc)
			if doc["issuer"] != tc.wantIssuer || doc["token_endpoint"] != tc.wantToken {
				t.Errorf("issuer=%v token_endpoint=%v", doc["issuer"], doc["token_endpoint"])
			}
			for _, k := range []string{"authorization_endpoint", "jwks_uri"} {
				if s, _ := doc[k].(string); !strings.HasPrefix(s, h.ts.URL+"/") {
					t.Errorf("%s = %v", k, doc[k])
				}
			}
		})
	}
	p := h.get(h.tls.Client(), h.ts.URL+"/nowhere.example/v2.0/.well-known/openid-configuration")
	var body map[string]any
	mustJSON(t, p.body, &body)
	if p.status != http.StatusBadRequest || !hasCode(body, 90002) {
		t.Errorf("unknown tenant: %d %v", p.status, body)
	}
	for _, path := range []string{"/common/discovery/v2.0/keys", "/" + testTenant + "/discovery/v2.0/keys"} {
		if p := h.get(h.tls.Client(), h.ts.URL+path); p.status != http.StatusOK || !strings.Contains(p.body, h.srv.KeyID()) {
			t.Errorf("%s: %d %s", path, p.status, p.body)
		}
	}
}

// TestFlowIsSingleUse: a signed-in flow cannot be signed in again, and two
// Accepts posted at once give one consent and one code.
func TestFlowIsSingleUse(t *testing.T) {
	h := newHarness(t)
	c := h.browser()
	signInPage := h.get(c, h.authorizeURL(authorizePath(testTenant), nil))
	review := h.submit(c, signInPage, url.Values{"login": {adminUPN}, "passwd": {adminPassword}})
	if !strings.Contains(review.body, "Permissions requested") {
		t.Fatalf("want the review page:\n%s", review.body)
	}
	if again := h.submit(c, signInPage, url.Values{"login": {userUPN}, "passwd": {userPassword}}); again.status != http.StatusBadRequest {
		t.Errorf("second sign-in on the same flow: %d", again.status)
	}
	form := url.Values{"action": {"accept"}, "flow": {flowField.FindStringSubmatch(review.body)[1]}}.Encode()
	statuses := make(chan int, 2)
	for range 2 {
		go func() {
			resp, err := c.Post(h.ts.URL+"/"+testTenant+"/consent", "application/x-www-form-urlencoded", strings.NewReader(form))
			if err != nil {
				statuses <- 0
				return
			}
			resp.Body.Close()
			statuses <- resp.StatusCode
		}()
	}
	redirects := 0
	for range 2 {
		if <-statuses == http.StatusFound {
			redirects++
		}
	}
	if redirects != 1 || len(h.dir.consentLog()) != 1 {
		t.Errorf("redirects = %d, consents = %d; want 1 and 1", redirects, len(h.dir.consentLog()))
	}
}

func TestLogout(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name       string
		query      string
		wantStatus int
	}{
		{"back to the app", "?post_logout_redirect_uri=" + url.QueryEscape(appRedirect) + "&state=s1", http.StatusFound},
		{"not an acceptable redirect", "?post_logout_redirect_uri=" + url.QueryEscape("http://evil.example/"), http.StatusOK},
		{"no redirect", "", http.StatusOK},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := h.get(h.browser(), h.ts.URL+"/"+testTenant+"/oauth2/v2.0/logout"+tc.query)
			if p.status != tc.wantStatus {
				t.Fatalf("status %d, want %d", p.status, tc.wantStatus)
			}
			if tc.wantStatus == http.StatusFound {
				checkQuery(t, redirected(t, p, appRedirect), map[string]string{"state": "s1"})
			}
		})
	}
}
