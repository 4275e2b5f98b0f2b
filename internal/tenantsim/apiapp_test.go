package tenantsim_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/entravault/entravault/internal/tenantsim"
)

// apiClaims are the claims Entravault's API reads from its tokens.
type apiClaims struct {
	Roles             []string `json:"roles"`
	Scp               string   `json:"scp"`
	PreferredUsername string   `json:"preferred_username"`
	OID               string   `json:"oid"`
	TID               string   `json:"tid"`
	IDTyp             string   `json:"idtyp"`
}

// apiToken asks the simulator's token endpoint for form and returns the
// access token, verified as the API verifies it: discovery at
// Credentials.APIIssuer, audience = the API app id.
func apiToken(t *testing.T, s *tenantsim.Simulator, form url.Values) apiClaims {
	t.Helper()
	creds := s.Credentials()
	resp, err := s.HTTPClient().PostForm(s.AuthorityHost()+creds.TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %v", resp.StatusCode, body["error"])
	}
	ctx := oidc.ClientContext(context.Background(), s.HTTPClient())
	p, err := oidc.NewProvider(ctx, creds.APIIssuer)
	if err != nil {
		t.Fatalf("discovery at the API issuer: %v", err)
	}
	raw, _ := body["access_token"].(string)
	tok, err := p.Verifier(&oidc.Config{ClientID: creds.APIApp.ClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("API token: %v", err)
	}
	var c apiClaims
	if err := tok.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

// userCode signs upn in to the CLI app with sim_auto and PKCE, returning
// the code and its verifier.
func userCode(t *testing.T, s *tenantsim.Simulator, upn, scope string) (code, verifier string) {
	t.Helper()
	const redirect = "http://127.0.0.1:9/callback" // never contacted
	verifier = "a-verifier-long-enough-for-pkce-0123456789"
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{"client_id": {s.Credentials().CLIApp.ClientID}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {scope}, "state": {"s"}, "code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"}, "sim_auto": {"accept"}, "login_hint": {upn}}
	c := s.HTTPClient()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(s.AuthorityHost() + s.Credentials().TenantID + "/oauth2/v2.0/authorize?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Query().Get("code") == "" {
		t.Fatalf("authorize: %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	return loc.Query().Get("code"), verifier
}

// TestEntravaultAPIApp: each demo account signs in to the API through the
// CLI app and gets its app role; the CLI app alone gets a token without
// roles; the registrations survive a restart on the same data folder.
func TestEntravaultAPIApp(t *testing.T) {
	dir := t.TempDir()
	s := tenantsim.NewTest(t, tenantsim.Options{Seed: 3, Users: 20, DataDir: dir})
	creds := s.Credentials()
	scope := "openid api://" + creds.APIApp.ClientID + "/" + tenantsim.APIScope
	wantRoles := map[string]string{"Global Administrator": "Entravault.Admin", "Security Administrator": "Entravault.Operator", "": "Entravault.Viewer"}
	for _, acct := range creds.Admins {
		dirRole := ""
		if len(acct.Roles) > 0 {
			dirRole = acct.Roles[0]
		}
		t.Run("user "+acct.UPN, func(t *testing.T) {
			if want := wantRoles[dirRole]; !slices.Equal(acct.AppRoles, []string{want}) {
				t.Errorf("credentials list app roles %v, want [%s]", acct.AppRoles, want)
			}
			code, verifier := userCode(t, s, acct.UPN, scope)
			c := apiToken(t, s, url.Values{"grant_type": {"authorization_code"}, "client_id": {creds.CLIApp.ClientID},
				"code": {code}, "code_verifier": {verifier}, "redirect_uri": {"http://127.0.0.1:9/callback"}})
			if !slices.Equal(c.Roles, []string{wantRoles[dirRole]}) || c.Scp != tenantsim.APIScope ||
				c.PreferredUsername != acct.UPN || c.TID != creds.TenantID || c.IDTyp != "user" || c.OID == "" {
				t.Errorf("claims %+v", c)
			}
		})
	}
	t.Run("client credentials", func(t *testing.T) {
		c := apiToken(t, s, url.Values{"grant_type": {"client_credentials"}, "client_id": {creds.CLIApp.ClientID},
			"client_secret": {creds.CLIApp.ClientSecret}, "scope": {"api://" + creds.APIApp.ClientID + "/.default"}})
		if len(c.Roles) != 0 || c.IDTyp != "app" {
			t.Errorf("claims %+v, want an app token without roles", c)
		}
	})
	t.Run("restart keeps the registrations", func(t *testing.T) {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		again := tenantsim.NewTest(t, tenantsim.Options{Seed: 3, Users: 20, DataDir: dir})
		got := again.Credentials()
		if got.APIApp != creds.APIApp || got.CLIApp != creds.CLIApp {
			t.Errorf("after restart API %+v CLI %+v, want %+v %+v", got.APIApp, got.CLIApp, creds.APIApp, creds.CLIApp)
		}
	})
}
