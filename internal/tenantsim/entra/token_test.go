package entra

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
)

func (h *harness) clientOptions() azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: h.ts.URL + "/"},
		Transport: h.tls.Client(),
	}
}

var graphScope = policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}

// TestAzidentity drives the real azidentity credentials against the server.
func TestAzidentity(t *testing.T) {
	h := newHarness(t)
	h.dir.grant(backupAppID, "User.Read.All", "Group.Read.All")
	certs, key, err := azidentity.ParseCertificates(h.appCert.PEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	otherCert, err := NewAppCertificate("not-registered")
	if err != nil {
		t.Fatal(err)
	}
	otherCerts, otherKey, err := azidentity.ParseCertificates(otherCert.PEM, nil)
	if err != nil {
		t.Fatal(err)
	}
	secretCred := func(tenant, client, secret string) (azcore.TokenCredential, error) {
		return azidentity.NewClientSecretCredential(tenant, client, secret, &azidentity.ClientSecretCredentialOptions{
			ClientOptions: h.clientOptions(), DisableInstanceDiscovery: true,
		})
	}
	certCred := func(certs []*x509.Certificate, key any) (azcore.TokenCredential, error) {
		return azidentity.NewClientCertificateCredential(testTenant, backupAppID, certs, key, &azidentity.ClientCertificateCredentialOptions{
			ClientOptions: h.clientOptions(), DisableInstanceDiscovery: true,
		})
	}
	tests := []struct {
		name       string
		cred       func() (azcore.TokenCredential, error)
		wantRoles  []string
		wantACR    string
		wantStatus int    // for failures: HTTP status of the token response
		wantCode   string // for failures: the AADSTS code in the error
	}{
		{
			name:      "secret gets granted roles only",
			cred:      func() (azcore.TokenCredential, error) { return secretCred(testTenant, backupAppID, backupSecret) },
			wantRoles: []string{"Group.Read.All", "User.Read.All"},
			wantACR:   "1",
		},
		{
			name:      "tenant addressed by domain",
			cred:      func() (azcore.TokenCredential, error) { return secretCred(testDomain, backupAppID, backupSecret) },
			wantRoles: []string{"Group.Read.All", "User.Read.All"},
			wantACR:   "1",
		},
		{
			name:    "app without grants gets no roles",
			cred:    func() (azcore.TokenCredential, error) { return secretCred(testTenant, noRolesAppID, noRolesSecret) },
			wantACR: "1",
		},
		{
			name:      "certificate credential",
			cred:      func() (azcore.TokenCredential, error) { return certCred(certs, key) },
			wantRoles: []string{"Group.Read.All", "User.Read.All"},
			wantACR:   "2",
		},
		{
			name:       "wrong secret",
			cred:       func() (azcore.TokenCredential, error) { return secretCred(testTenant, backupAppID, "wrong") },
			wantStatus: http.StatusUnauthorized,
			wantCode:   "AADSTS7000215",
		},
		{
			name: "unknown client",
			cred: func() (azcore.TokenCredential, error) {
				return secretCred(testTenant, "bbbbbbbb-0000-0000-0000-000000000009", "x")
			},
			wantStatus: http.StatusBadRequest,
			wantCode:   "AADSTS700016",
		},
		{
			name:       "unregistered certificate",
			cred:       func() (azcore.TokenCredential, error) { return certCred(otherCerts, otherKey) },
			wantStatus: http.StatusUnauthorized,
			wantCode:   "AADSTS700027",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cred, err := tc.cred()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			tok, err := cred.GetToken(ctx, graphScope)
			if tc.wantCode != "" {
				var afe *azidentity.AuthenticationFailedError
				if !errors.As(err, &afe) {
					t.Fatalf("GetToken error = %v, want *AuthenticationFailedError", err)
				}
				if afe.RawResponse == nil || afe.RawResponse.StatusCode != tc.wantStatus {
					t.Errorf("status = %v, want %d", afe.RawResponse, tc.wantStatus)
				}
				if !strings.Contains(err.Error(), tc.wantCode) {
					t.Errorf("error does not carry %s: %v", tc.wantCode, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("GetToken: %v", err)
			}
			if d := time.Until(tok.ExpiresOn); d < 55*time.Minute || d > 61*time.Minute {
				t.Errorf("token expires in %v, want about an hour", d)
			}
			c, err := h.srv.VerifyAccessToken(tok.Token)
			if err != nil {
				t.Fatalf("VerifyAccessToken: %v", err)
			}
			if !slices.Equal(c.Roles, tc.wantRoles) {
				t.Errorf("roles = %v, want %v", c.Roles, tc.wantRoles)
			}
			if c.TenantID != testTenant || c.Audience != GraphResource || c.IdentityType != "app" || c.ObjectID == "" {
				t.Errorf("claims = %+v", c)
			}
			raw := decodeClaims(t, tok.Token)
			if _, has := raw["roles"]; has != (len(tc.wantRoles) > 0) {
				t.Errorf("roles claim present = %v, want %v", has, len(tc.wantRoles) > 0)
			}
			if raw["appidacr"] != tc.wantACR || raw["azp"] != raw["appid"] || raw["iss"] != "https://sts.windows.net/"+testTenant+"/" {
				t.Errorf("claims appidacr=%v azp=%v appid=%v iss=%v", raw["appidacr"], raw["azp"], raw["appid"], raw["iss"])
			}
		})
	}
}

// decodeClaims reads a JWT payload without verifying it.
func decodeClaims(t *testing.T, raw string) jwt.MapClaims {
	t.Helper()
	var c jwt.MapClaims
	if _, _, err := jwt.NewParser().ParseUnverified(raw, &c); err != nil {
		t.Fatalf("parse JWT: %v", err)
	}
	return c
}

// TestTokenEndpointErrors checks status, OAuth error and AADSTS code of each
// rejected request, over raw HTTP.
func TestTokenEndpointErrors(t *testing.T) {
	h := newHarness(t)
	base := func() url.Values {
		return url.Values{
			"grant_type":    {"client_credentials"},
			"client_id":     {backupAppID},
			"client_secret": {backupSecret},
			"scope":         {"https://graph.microsoft.com/.default"},
		}
	}
	with := func(k, v string) url.Values {
		f := base()
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	tests := []struct {
		name       string
		tenant     string
		form       url.Values
		wantStatus int
		wantError  string
		wantCode   float64
	}{
		{"unknown tenant", "99999999-0000-0000-0000-000000000000", base(), 400, "invalid_request", 90002},
		{"wrong secret", testTenant, with("client_secret", "nope"), 401, "invalid_client", 7000215},
		{"unknown client", testTenant, with("client_id", "cccccccc-0000-0000-0000-000000000000"), 400, "unauthorized_client", 700016},
		{"no grant type", testTenant, with("grant_type", ""), 400, "invalid_request", 900144},
		{"unsupported grant", testTenant, with("grant_type", "password"), 400, "unsupported_grant_type", 70003},
		{"no client id", testTenant, with("client_id", ""), 400, "invalid_request", 900144},
		{"no credential", testTenant, with("client_secret", ""), 401, "invalid_client", 7000218},
		{"no scope", testTenant, with("scope", ""), 400, "invalid_request", 900144},
		{"scope without .default", testTenant, with("scope", "https://graph.microsoft.com/User.Read.All"), 400, "invalid_scope", 1002012},
		{"resource is not graph", testTenant, with("scope", "https://vault.azure.net/.default"), 400, "invalid_resource", 500011},
		{"secret of an app without one", testTenant, func() url.Values {
			f := base()
			f.Set("client_id", strictAppID)
			f.Set("client_secret", backupSecret)
			return f
		}(), 401, "invalid_client", 7000215},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := h.postToken(tc.tenant, tc.form)
			if status != tc.wantStatus || body["error"] != tc.wantError {
				t.Fatalf("got %d %v, want %d %s", status, body["error"], tc.wantStatus, tc.wantError)
			}
			codes, _ := body["error_codes"].([]any)
			if len(codes) != 1 || codes[0] != tc.wantCode {
				t.Errorf("error_codes = %v, want [%v]", body["error_codes"], tc.wantCode)
			}
			for _, k := range []string{"error_description", "timestamp", "trace_id", "correlation_id"} {
				if s, _ := body[k].(string); s == "" {
					t.Errorf("%s missing", k)
				}
			}
			if d, _ := body["error_description"].(string); strings.Contains(d, backupSecret) || strings.Contains(d, "nope") {
				t.Errorf("error_description leaks the secret: %s", d)
			}
		})
	}
}

// TestTokenEndpointAccepts covers request shapes MSAL and scripts send.
func TestTokenEndpointAccepts(t *testing.T) {
	h := newHarness(t)
	h.dir.grant(backupAppID, "User.Read.All")
	tests := []struct {
		name    string
		form    url.Values
		basic   bool
		wantAud string
	}{
		{"CAE claims and OIDC scopes are ignored", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {backupAppID}, "client_secret": {backupSecret},
			"scope":  {"https://graph.microsoft.com/.default openid offline_access profile"},
			"claims": {`{"access_token":{"xms_cc":{"values":["CP1"]}}}`}, "client_info": {"1"},
		}, false, GraphResource},
		{"graph app id as resource", url.Values{
			"grant_type": {"client_credentials"}, "client_id": {backupAppID}, "client_secret": {backupSecret},
			"scope": {GraphAppID + "/.default"},
		}, false, GraphAppID},
		{"client_secret_basic", url.Values{
			"grant_type": {"client_credentials"}, "scope": {"https://graph.microsoft.com/.default"},
		}, true, GraphResource},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, h.tokenURL(testTenant), strings.NewReader(tc.form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			if tc.basic {
				req.SetBasicAuth(backupAppID, backupSecret)
			}
			p := h.do(h.tls.Client(), req)
			if p.status != http.StatusOK {
				t.Fatalf("status %d: %s", p.status, p.body)
			}
			if !strings.Contains(p.body, `"expires_in":3599`) || !strings.Contains(p.body, `"ext_expires_in":3599`) {
				t.Errorf("expires_in is not the integer 3599: %s", p.body)
			}
			var body struct {
				AccessToken string `json:"access_token"`
				TokenType   string `json:"token_type"`
			}
			mustJSON(t, p.body, &body)
			c, err := h.srv.VerifyAccessToken(body.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if body.TokenType != "Bearer" || c.Audience != tc.wantAud || !slices.Equal(c.Roles, []string{"User.Read.All"}) {
				t.Errorf("token_type=%s claims=%+v", body.TokenType, c)
			}
		})
	}
}

// TestClientAssertion checks certificate assertions built by hand, covering
// what azidentity does not send (RS256 with x5t) and each rejection.
func TestClientAssertion(t *testing.T) {
	h := newHarness(t)
	other, err := NewAppCertificate("other")
	if err != nil {
		t.Fatal(err)
	}
	type spec struct {
		alg      jwt.SigningMethod
		header   string // "x5t" or "x5t#S256"
		cert     *AppCertificate
		iss, aud string
		exp      time.Duration
	}
	good := func() spec {
		return spec{jwt.SigningMethodPS256, "x5t#S256", h.appCert, backupAppID, h.tokenURL(testTenant), 10 * time.Minute}
	}
	tests := []struct {
		name       string
		mod        func(*spec)
		wantStatus int
		wantCode   float64
	}{
		{"PS256 x5t#S256", func(*spec) {}, 200, 0},
		{"RS256 x5t", func(s *spec) { s.alg, s.header = jwt.SigningMethodRS256, "x5t" }, 200, 0},
		{"aud with domain", func(s *spec) { s.aud = h.tokenURL(testDomain) }, 200, 0},
		{"v1 token endpoint aud", func(s *spec) { s.aud = h.ts.URL + "/" + testTenant + "/oauth2/token" }, 200, 0},
		{"key not registered", func(s *spec) { s.cert = other }, 401, 700027},
		{"wrong audience", func(s *spec) { s.aud = "https://login.microsoftonline.com/" + testTenant + "/oauth2/v2.0/token" }, 401, 70021},
		{"expired", func(s *spec) { s.exp = -10 * time.Minute }, 401, 700024},
		{"issuer is another app", func(s *spec) { s.iss = noRolesAppID }, 401, 700021},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := good()
			tc.mod(&s)
			now := h.clock.Now()
			tok := jwt.NewWithClaims(s.alg, jwt.RegisteredClaims{
				Issuer: s.iss, Subject: s.iss, Audience: jwt.ClaimStrings{s.aud}, ID: newUUID(),
				NotBefore: jwt.NewNumericDate(now.Add(-time.Minute + min(s.exp, 0)*2)),
				ExpiresAt: jwt.NewNumericDate(now.Add(s.exp)),
			})
			// The header names the registered certificate even when another
			// key signs, so only the signature check can reject it.
			if s.header == "x5t" {
				tok.Header["x5t"] = h.appCert.Thumbprint()
			} else {
				tok.Header["x5t#S256"] = x5tS256(h.appCert.CertDER)
			}
			signed, err := tok.SignedString(s.cert.Key)
			if err != nil {
				t.Fatal(err)
			}
			status, body := h.postToken(testTenant, url.Values{
				"grant_type": {"client_credentials"}, "client_id": {backupAppID},
				"client_assertion_type": {jwtBearerAssertionType}, "client_assertion": {signed},
				"scope": {"https://graph.microsoft.com/.default"},
			})
			if status != tc.wantStatus {
				t.Fatalf("status = %d (%v), want %d", status, body["error_description"], tc.wantStatus)
			}
			if tc.wantCode != 0 {
				if codes, _ := body["error_codes"].([]any); len(codes) != 1 || codes[0] != tc.wantCode {
					t.Errorf("error_codes = %v, want [%v]", body["error_codes"], tc.wantCode)
				}
			}
		})
	}
}

// TestTokenV1 covers the v1 endpoint older tools use (resource=, quoted
// times).
func TestTokenV1(t *testing.T) {
	h := newHarness(t)
	h.dir.grant(backupAppID, "User.Read.All")
	tests := []struct {
		name       string
		form       url.Values
		wantStatus int
	}{
		{"resource", url.Values{"grant_type": {"client_credentials"}, "client_id": {backupAppID}, "client_secret": {backupSecret}, "resource": {GraphResource}}, 200},
		{"no resource", url.Values{"grant_type": {"client_credentials"}, "client_id": {backupAppID}, "client_secret": {backupSecret}}, 400},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {backupAppID}, "client_secret": {"x"}, "resource": {GraphResource}}, 401},
		{"no code grant on v1", url.Values{"grant_type": {"authorization_code"}, "client_id": {backupAppID}, "client_secret": {backupSecret}, "code": {"x"}}, 400},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := h.tls.Client().PostForm(h.ts.URL+"/"+testTenant+"/oauth2/token", tc.form)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d %v, want %d", resp.StatusCode, body, tc.wantStatus)
			}
			if tc.wantStatus != 200 {
				return
			}
			if body["expires_in"] != "3599" || body["resource"] != GraphResource {
				t.Errorf("body = %v", body)
			}
			c, err := h.srv.VerifyAccessToken(body["access_token"].(string))
			if err != nil || !slices.Equal(c.Roles, []string{"User.Read.All"}) {
				t.Errorf("token: %v %+v", err, c)
			}
		})
	}
}

// TestPublicURL: a pinned public URL wins over the request's host in
// discovery and id_token issuers (for a simulator behind a proxy).
func TestPublicURL(t *testing.T) {
	h := newHarness(t)
	srv, err := NewServer(h.dir, Options{PublicURL: "https://login.sim.example:9443/", Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/"+testTenant+"/v2.0/.well-known/openid-configuration", nil))
	var doc map[string]any
	mustJSON(t, rec.Body.String(), &doc)
	if doc["issuer"] != "https://login.sim.example:9443/"+testTenant+"/v2.0" {
		t.Errorf("issuer = %v", doc["issuer"])
	}
}
