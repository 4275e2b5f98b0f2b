package entra

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/golang-jwt/jwt/v5"
)

const (
	apiAppID    = "bbbbbbbb-0000-0000-0000-00000000a0a0" // exposes api://<id>
	bareAPIID   = "bbbbbbbb-0000-0000-0000-00000000b0b0" // exposes an API without identifier URI
	cliAppID    = "bbbbbbbb-0000-0000-0000-00000000c0c0" // public client, PKCE only
	cliRedirect = "http://127.0.0.1:1234/callback"
	backupSPID  = "00000000-0000-0000-0000-0000000005b1"
	otherAPIURI = "api://bbbbbbbb-0000-0000-0000-00000000ffff"
)

// withAPI registers an app exposing an API whose roles are assigned to
// the admin (Admin), the user (Viewer) and the backup app's service
// principal (Operator plus a role the API no longer defines), and a public
// client app.
func withAPI(h *harness) {
	h.dir.mu.Lock()
	defer h.dir.mu.Unlock()
	api := &ExposedAPI{
		IdentifierURIs: []string{"api://" + apiAppID},
		Scopes:         []string{"access_as_user", "read_reports"},
		AppRoles:       []string{"Entravault.Admin", "Entravault.Operator", "Entravault.Viewer"},
		Assignments: map[string][]string{
			adminOID:   {"Entravault.Admin"},
			userOID:    {"Entravault.Viewer"},
			backupSPID: {"Entravault.Operator", "Retired.Role"},
		},
	}
	h.dir.apps[apiAppID] = App{ClientID: apiAppID, DisplayName: "Entravault API", API: api}
	h.dir.apps[bareAPIID] = App{ClientID: bareAPIID, DisplayName: "Bare API", API: &ExposedAPI{AppRoles: []string{"Reader"}}}
	h.dir.apps[cliAppID] = App{ClientID: cliAppID, DisplayName: "Entravault CLI"}
	backup := h.dir.apps[backupAppID]
	backup.ServicePrincipalID = backupSPID
	h.dir.apps[backupAppID] = backup
}

// apiVerifier checks tokens the way the Entravault API does (go-oidc with
// the discovery document), on the harness clock.
func (h *harness) apiVerifier(audience string) *oidc.IDTokenVerifier {
	h.t.Helper()
	ctx := oidc.ClientContext(context.Background(), h.tls.Client())
	p, err := oidc.NewProvider(ctx, h.ts.URL+"/"+testTenant+"/v2.0")
	if err != nil {
		h.t.Fatalf("discovery: %v", err)
	}
	return p.Verifier(&oidc.Config{ClientID: audience, Now: h.clock.Now})
}

// verifyAPIToken checks issuer, audience, signature and expiry and returns
// the claims.
func (h *harness) verifyAPIToken(raw, audience string) jwt.MapClaims {
	h.t.Helper()
	ctx := oidc.ClientContext(context.Background(), h.tls.Client())
	tok, err := h.apiVerifier(audience).Verify(ctx, raw)
	if err != nil {
		h.t.Fatalf("API token does not verify: %v", err)
	}
	var c jwt.MapClaims
	if err := tok.Claims(&c); err != nil {
		h.t.Fatal(err)
	}
	return c
}

func roles(c jwt.MapClaims) []string {
	var out []string
	list, _ := c["roles"].([]any)
	for _, r := range list {
		out = append(out, r.(string))
	}
	return out
}

func TestAPITokenClientCredentials(t *testing.T) {
	h := newHarness(t)
	withAPI(h)
	form := func(client, secret, scope string) url.Values {
		return url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "client_secret": {secret}, "scope": {scope}}
	}
	tests := []struct {
		name      string
		form      url.Values
		v1        bool
		status    int
		aadsts    float64
		aud       string
		wantRoles []string
		wantOID   string
	}{
		{"identifier URI", form(backupAppID, backupSecret, "api://"+apiAppID+"/.default"), false, 200, 0, apiAppID, []string{"Entravault.Operator"}, backupSPID},
		{"app id", form(backupAppID, backupSecret, apiAppID+"/.default"), false, 200, 0, apiAppID, []string{"Entravault.Operator"}, backupSPID},
		{"no assignment", form(noRolesAppID, noRolesSecret, "api://"+apiAppID+"/.default"), false, 200, 0, apiAppID, nil, stableUUID("sp:" + testTenant + ":" + noRolesAppID)},
		{"API without identifier URI, by app id", form(backupAppID, backupSecret, bareAPIID+"/.default"), false, 200, 0, bareAPIID, nil, backupSPID},
		{"API without identifier URI, by URI", form(backupAppID, backupSecret, "api://"+bareAPIID+"/.default"), false, 400, 500011, "", nil, ""},
		{"unknown API", form(backupAppID, backupSecret, otherAPIURI+"/.default"), false, 400, 500011, "", nil, ""},
		{"app that exposes no API", form(backupAppID, backupSecret, "api://"+noRolesAppID+"/.default"), false, 400, 500011, "", nil, ""},
		{"delegated scope", form(backupAppID, backupSecret, "api://"+apiAppID+"/access_as_user"), false, 400, 1002012, "", nil, ""},
		{"wrong secret", form(backupAppID, "nope", "api://"+apiAppID+"/.default"), false, 401, 7000215, "", nil, ""},
		{"v1 endpoint", url.Values{"grant_type": {"client_credentials"}, "client_id": {backupAppID}, "client_secret": {backupSecret}, "resource": {"api://" + apiAppID}}, true, 400, 500011, "", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hh := *h
			hh.t = t
			var (
				status int
				body   map[string]any
			)
			if tc.v1 {
				status, body = hh.postTokenV1(testTenant, tc.form)
			} else {
				status, body = hh.postToken(testTenant, tc.form)
			}
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, body["error"])
			}
			if tc.status != 200 {
				if !hasCode(body, tc.aadsts) {
					t.Fatalf("error codes %v, want %v", body["error_codes"], tc.aadsts)
				}
				return
			}
			c := hh.verifyAPIToken(body["access_token"].(string), tc.aud)
			if got := roles(c); !slices.Equal(got, tc.wantRoles) {
				t.Errorf("roles %v, want %v", got, tc.wantRoles)
			}
			if _, present := c["roles"]; tc.wantRoles == nil && present {
				t.Error("roles claim present without an assignment")
			}
			want := map[string]any{"iss": h.ts.URL + "/" + testTenant + "/v2.0", "azp": tc.form.Get("client_id"), "azpacr": "1",
				"idtyp": "app", "oid": tc.wantOID, "sub": tc.wantOID, "tid": testTenant, "ver": "2.0"}
			for k, v := range want {
				if c[k] != v {
					t.Errorf("%s = %v, want %v", k, c[k], v)
				}
			}
			if exp, iat := c["exp"].(float64), c["iat"].(float64); exp-iat != DefaultTokenLifetime.Seconds() || c["nbf"] != c["iat"] {
				t.Errorf("iat %v nbf %v exp %v: want nbf = iat and a %v lifetime", iat, c["nbf"], exp, DefaultTokenLifetime)
			}
		})
	}
}

// postTokenV1 posts to the v1 token endpoint and decodes the JSON body.
func (h *harness) postTokenV1(tenant string, form url.Values) (int, map[string]any) {
	h.t.Helper()
	resp, err := h.tls.Client().PostForm(h.ts.URL+"/"+tenant+"/oauth2/token", form)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		h.t.Fatalf("token response is not JSON: %v", err)
	}
	return resp.StatusCode, body
}

// apiCode runs the authorization code flow for the CLI app (sim_auto,
// PKCE) and returns the code.
func (h *harness) apiCode(upn, scope string) (code, verifier string) {
	h.t.Helper()
	verifier = "verifier-" + randomID(32)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {cliAppID}, "response_type": {"code"}, "redirect_uri": {cliRedirect}, "scope": {scope},
		"state": {"s1"}, "nonce": {"n1"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}, "sim_auto": {"accept"}, "login_hint": {upn},
	}
	p := h.get(h.browser(), h.ts.URL+authorizePath(testTenant)+"?"+q.Encode())
	back := redirected(h.t.(*testing.T), p, cliRedirect)
	if back.Get("code") == "" {
		h.t.Fatalf("no code: %v", back)
	}
	return back.Get("code"), verifier
}

func TestAPITokenAuthorizationCode(t *testing.T) {
	h := newHarness(t)
	withAPI(h)
	apiURI := "api://" + apiAppID
	tests := []struct {
		name      string
		upn       string
		scope     string
		status    int
		aadsts    float64
		wantRoles []string
		wantScp   string
		wantScope string
	}{
		{"admin", adminUPN, "openid profile " + apiURI + "/access_as_user", 200, 0, []string{"Entravault.Admin"}, "access_as_user", apiURI + "/access_as_user openid profile"},
		{"user", userUPN, "openid " + apiURI + "/access_as_user", 200, 0, []string{"Entravault.Viewer"}, "access_as_user", apiURI + "/access_as_user openid"},
		{"default gives every exposed scope", userUPN, apiURI + "/.default", 200, 0, []string{"Entravault.Viewer"}, "access_as_user read_reports", apiURI + "/access_as_user " + apiURI + "/read_reports"},
		{"by app id", adminUPN, apiAppID + "/read_reports", 200, 0, []string{"Entravault.Admin"}, "read_reports", apiAppID + "/read_reports"},
		{"first resource wins", adminUPN, apiURI + "/access_as_user https://graph.microsoft.com/User.Read", 200, 0, []string{"Entravault.Admin"}, "access_as_user", apiURI + "/access_as_user"},
		{"scope the API does not expose", adminUPN, apiURI + "/delete_everything", 400, 70011, nil, "", ""},
		{"unknown API", adminUPN, otherAPIURI + "/access_as_user", 400, 500011, nil, "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hh := *h
			hh.t = t
			code, verifier := hh.apiCode(tc.upn, tc.scope)
			status, body := hh.postToken(testTenant, url.Values{
				"grant_type": {"authorization_code"}, "client_id": {cliAppID}, "code": {code},
				"redirect_uri": {cliRedirect}, "code_verifier": {verifier}, "scope": {tc.scope},
			})
			if status != tc.status {
				t.Fatalf("status %d, want %d: %v", status, tc.status, body["error"])
			}
			if tc.status != 200 {
				if !hasCode(body, tc.aadsts) {
					t.Fatalf("error codes %v, want %v", body["error_codes"], tc.aadsts)
				}
				return
			}
			if body["scope"] != tc.wantScope {
				t.Errorf("response scope %q, want %q", body["scope"], tc.wantScope)
			}
			c := hh.verifyAPIToken(body["access_token"].(string), apiAppID)
			if got := roles(c); !slices.Equal(got, tc.wantRoles) {
				t.Errorf("roles %v, want %v", got, tc.wantRoles)
			}
			oid := adminOID
			if tc.upn == userUPN {
				oid = userOID
			}
			want := map[string]any{"aud": apiAppID, "iss": h.ts.URL + "/" + testTenant + "/v2.0", "azp": cliAppID, "azpacr": "0",
				"idtyp": "user", "oid": oid, "preferred_username": tc.upn, "scp": tc.wantScp, "tid": testTenant, "ver": "2.0",
				"sub": stableUUID("sub:" + oid + ":" + apiAppID)}
			for k, v := range want {
				if c[k] != v {
					t.Errorf("%s = %v, want %v", k, c[k], v)
				}
			}
			_, hasID := body["id_token"]
			if wantID := slices.Contains([]string{"admin", "user"}, tc.name); hasID != wantID {
				t.Errorf("id_token present = %v, want %v", hasID, wantID)
			}
		})
	}
}

// TestAPITokenBoundaries: an API token expires like any other, is not an
// id_token for the client, and cannot call Graph; Graph tokens are not
// API tokens.
func TestAPITokenBoundaries(t *testing.T) {
	h := newHarness(t)
	withAPI(h)
	ctx := oidc.ClientContext(context.Background(), h.tls.Client())
	code, verifier := h.apiCode(adminUPN, "openid api://"+apiAppID+"/access_as_user")
	status, body := h.postToken(testTenant, url.Values{
		"grant_type": {"authorization_code"}, "client_id": {cliAppID}, "code": {code},
		"redirect_uri": {cliRedirect}, "code_verifier": {verifier},
	})
	if status != 200 {
		t.Fatalf("token: %d %v", status, body["error"])
	}
	access, idToken := body["access_token"].(string), body["id_token"].(string)

	if _, err := h.apiVerifier(apiAppID).Verify(ctx, idToken); err == nil {
		t.Error("the id_token (aud = client) passed as an API token")
	}
	if _, err := h.apiVerifier(cliAppID).Verify(ctx, access); err == nil {
		t.Error("the API token passed for another audience")
	}
	if _, err := h.srv.VerifyAccessToken(access); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("Graph accepted an API token: %v", err)
	}
	if _, err := h.apiVerifier(apiAppID).Verify(ctx, h.appToken()); err == nil {
		t.Error("a Graph token passed as an API token")
	}

	h.clock.Advance(DefaultTokenLifetime + 1)
	var expired *oidc.TokenExpiredError
	if _, err := h.apiVerifier(apiAppID).Verify(ctx, access); !errors.As(err, &expired) {
		t.Errorf("after its lifetime: %v, want TokenExpiredError", err)
	}
}
