package devstack

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/tenantsim"
)

// shiftedClock is the simulator's clock: real time plus an offset the test
// moves to have tokens issued in the past.
type shiftedClock struct{ offset atomic.Int64 }

func (c *shiftedClock) Now() time.Time { return time.Now().Add(time.Duration(c.offset.Load())) }

// newOIDCHarness is newHarness with the simulator on a shiftable clock and
// no OIDC settings: the stack must trust the simulator's sign-in by itself.
func newOIDCHarness(t *testing.T, ctx context.Context, clock *shiftedClock) *harness {
	cfg := testConfig(t, t.TempDir())
	cfg.Dev.NoSimulator = false
	cfg.Dev.GraphAddr, cfg.Dev.LoginAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.API.Addr = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg.API.PublicURL = "http://" + cfg.API.Addr
	cfg.Dev.UIPort = 0
	if cfg.API.OIDCIssuer != "" || cfg.API.OIDCAudience != "" {
		t.Fatalf("test config sets an OIDC issuer %q", cfg.API.OIDCIssuer)
	}
	logs := &lockedBuffer{}
	s, err := Start(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), Options{
		Simulator: &tenantsim.Options{Seed: 11, Users: 30, Groups: 5, AdministrativeUnits: 2, Applications: 3, Premium: true, LogsPerDay: 2, Now: clock.Now},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return &harness{t: t, stack: s, api: s.URLs().API, key: s.AdminKey(), creds: s.Simulator().Credentials(), logs: logs, ctx: ctx}
}

const cliRedirect = "http://127.0.0.1:9/callback" // never contacted: the client stops at the redirect

// tokens are what the CLI app gets for a user.
type tokens struct {
	Access string `json:"access_token"`
	ID     string `json:"id_token"`
}

// userTokens signs upn in to the API through the simulator's authorize
// endpoint (sim_auto, PKCE) as the CLI app and redeems the code: as a
// public client, or with the CLI app's secret when confidential.
func (h *harness) userTokens(upn string, confidential bool) tokens {
	h.t.Helper()
	sim := h.stack.Simulator()
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	verifier := base64.RawURLEncoding.EncodeToString(b)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id": {h.creds.CLIApp.ClientID}, "response_type": {"code"}, "redirect_uri": {cliRedirect},
		"scope": {"openid profile api://" + h.creds.APIApp.ClientID + "/" + tenantsim.APIScope}, "state": {"st"},
		"code_challenge": {base64.RawURLEncoding.EncodeToString(sum[:])}, "code_challenge_method": {"S256"},
		"sim_auto": {"accept"}, "login_hint": {upn},
	}
	browser := sim.HTTPClient()
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := browser.Get(sim.AuthorityHost() + h.creds.TenantID + "/oauth2/v2.0/authorize?" + q.Encode())
	if err != nil {
		h.t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || resp.StatusCode != http.StatusFound || loc.Query().Get("code") == "" {
		h.t.Fatalf("authorize for %s: %d, Location %q", upn, resp.StatusCode, resp.Header.Get("Location"))
	}
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {h.creds.CLIApp.ClientID},
		"code": {loc.Query().Get("code")}, "redirect_uri": {cliRedirect}, "code_verifier": {verifier}}
	if confidential {
		form.Set("client_secret", h.creds.CLIApp.ClientSecret)
	}
	return h.redeem(form)
}

// redeem posts form to the simulator's token endpoint.
func (h *harness) redeem(form url.Values) tokens {
	h.t.Helper()
	return h.redeemIn(h.creds.TenantID, form)
}

// redeemIn is redeem at the token endpoint of another tenant of the
// simulator.
func (h *harness) redeemIn(tenantID string, form url.Values) tokens {
	h.t.Helper()
	sim := h.stack.Simulator()
	resp, err := sim.HTTPClient().PostForm(sim.AuthorityHost()+tenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok tokens
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.Access == "" {
		h.t.Fatalf("token endpoint: %d %v", resp.StatusCode, err)
	}
	return tok
}

// principalID is the access list ID of the user an access token was
// issued to, "oid:<tid>/<oid>", read from its (trusted here) payload.
func (h *harness) principalID(accessToken string) string {
	h.t.Helper()
	parts := strings.Split(accessToken, ".")
	var c struct {
		TID string `json:"tid"`
		OID string `json:"oid"`
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(payload, &c) != nil || c.TID == "" || c.OID == "" {
		h.t.Fatalf("access token without tid and oid: %v", err)
	}
	return auth.UserPrincipalID(c.TID, c.OID)
}

// send calls the API with bearer token tok and returns the status, the
// WWW-Authenticate header and the error code of an error body.
func (h *harness) send(tok, method, path string, body any, into any) (status int, challenge, code string) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(h.ctx, method, h.api+path, rd)
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(raw, &e)
	if into != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, into); err != nil {
			h.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, resp.Header.Get("WWW-Authenticate"), e.Error.Code
}

func (h *harness) listIDs(tok string) []string {
	h.t.Helper()
	var list struct {
		Connectors []struct {
			ID string `json:"id"`
		} `json:"connectors"`
	}
	if status, _, code := h.send(tok, "GET", "/api/v1/connectors", nil, &list); status != http.StatusOK {
		h.t.Fatalf("list: %d %s", status, code)
	}
	var ids []string
	for _, c := range list.Connectors {
		ids = append(ids, c.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestOIDCSignIn: with no OIDC settings the dev stack trusts the
// simulator's sign-in. Accounts signed in through the authorization code
// flow get the API role of their app role (Global Administrator → admin,
// Security Administrator → operator, regular user → viewer), and tokens that
// are expired, for another audience, from another issuer or altered are
// refused with 401.
func TestOIDCSignIn(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	clock := &shiftedClock{}
	h := newOIDCHarness(t, ctx, clock)
	ga, sec, user := h.admin("Global Administrator"), h.admin("Security Administrator"), h.admin("")
	adminTok, operatorTok, viewerTok := h.userTokens(ga.UPN, true), h.userTokens(sec.UPN, false), h.userTokens(user.UPN, false)

	create := func(tok, name string, access []string) (int, string) {
		cfg := directoryConnector(h.creds.TenantDomain, name)
		if access != nil {
			cfg["access"] = access
		}
		var c created
		status, _, _ := h.send(tok, "POST", "/api/v1/connectors", cfg, &c)
		return status, c.ID
	}
	// Users are listed by tenant and object id; a UPN would admit whoever
	// holds it later, so it is refused.
	if status, _ := create(adminTok.Access, "shared by upn", []string{user.UPN}); status != http.StatusBadRequest {
		t.Errorf("access list by UPN: %d, want 400", status)
	}
	status, shared := create(adminTok.Access, "shared with the user", []string{h.principalID(viewerTok.Access)})
	if status != http.StatusCreated {
		t.Fatalf("admin create: %d", status)
	}
	status, private := create(adminTok.Access, "admins only", nil)
	if status != http.StatusCreated {
		t.Fatalf("admin create: %d", status)
	}
	status, ops := create(operatorTok.Access, "operator's", nil)
	if status != http.StatusCreated {
		t.Fatalf("operator create: %d", status)
	}
	if status, _, code := h.send(viewerTok.Access, "POST", "/api/v1/connectors", directoryConnector(h.creds.TenantDomain, "viewer's"), nil); status != http.StatusForbidden {
		t.Errorf("viewer create: %d %s, want 403", status, code)
	}

	visible := []struct {
		name string
		tok  string
		want []string
	}{
		{"admin sees all", adminTok.Access, []string{shared, private, ops}},
		{"operator sees what it created", operatorTok.Access, []string{ops}},
		{"viewer sees what lists its object id", viewerTok.Access, []string{shared}},
	}
	for _, v := range visible {
		t.Run(v.name, func(t *testing.T) {
			want := slices.Clone(v.want)
			slices.Sort(want)
			// The list is served from visibility, which catches up with a
			// new connector within about a second.
			got := h.listIDs(v.tok)
			for deadline := time.Now().Add(15 * time.Second); !slices.Equal(got, want) && time.Now().Before(deadline); {
				time.Sleep(200 * time.Millisecond)
				got = h.listIDs(v.tok)
			}
			if !slices.Equal(got, want) {
				t.Errorf("lists %v, want %v", got, want)
			}
			for _, id := range []string{shared, private, ops} {
				wantStatus := http.StatusNotFound
				if slices.Contains(want, id) {
					wantStatus = http.StatusOK
				}
				if status, _, _ := h.send(v.tok, "GET", "/api/v1/connectors/"+id, nil, nil); status != wantStatus {
					t.Errorf("GET %s = %d, want %d", id, status, wantStatus)
				}
			}
		})
	}
	if status, _, _ := h.send(viewerTok.Access, "PATCH", "/api/v1/connectors/"+shared, map[string]any{"name": "renamed"}, nil); status != http.StatusForbidden {
		t.Errorf("viewer PATCH on a listed connector = %d, want 403", status)
	}

	// Refused tokens. The expired one is issued by the simulator two hours
	// ago (its clock moved back), so only its exp is wrong.
	clock.offset.Store(int64(-30 * time.Minute))
	recent := h.userTokens(ga.UPN, false)
	clock.offset.Store(int64(-2 * time.Hour))
	expired := h.userTokens(ga.UPN, false)
	clock.offset.Store(0)
	if status, _, code := h.send(recent.Access, "GET", "/api/v1/connectors", nil, nil); status != http.StatusOK {
		t.Fatalf("a token issued 30 minutes ago: %d %s, want 200", status, code)
	}
	graphTok := h.redeem(url.Values{"grant_type": {"client_credentials"}, "client_id": {h.creds.BackupApp.ClientID},
		"client_secret": {h.creds.BackupApp.ClientSecret}, "scope": {"https://graph.microsoft.com/.default"}})
	sig := strings.LastIndexByte(adminTok.Access, '.') + 1
	flipped := "A"
	if adminTok.Access[sig] == 'A' {
		flipped = "B"
	}
	refused := []struct{ name, tok string }{
		{"expired", expired.Access},
		{"id_token: audience is the client", adminTok.ID},
		{"Graph token: another issuer and audience", graphTok.Access},
		{"altered signature", adminTok.Access[:sig] + flipped + adminTok.Access[sig+1:]},
		{"not a JWT", "not-a-token"},
	}
	for _, r := range refused {
		t.Run("refused "+r.name, func(t *testing.T) {
			status, challenge, code := h.send(r.tok, "GET", "/api/v1/connectors", nil, nil)
			if status != http.StatusUnauthorized || code != "unauthorized" || !strings.Contains(challenge, `error="invalid_token"`) {
				t.Errorf("%d %q %q, want 401 unauthorized with an invalid_token challenge", status, code, challenge)
			}
		})
	}
	// A valid app-only token for the API (client credentials of another
	// application) is not a user: 403, not a viewer.
	appTok := h.redeem(url.Values{"grant_type": {"client_credentials"}, "client_id": {h.creds.BackupApp.ClientID},
		"client_secret": {h.creds.BackupApp.ClientSecret}, "scope": {"api://" + h.creds.APIApp.ClientID + "/.default"}})
	if status, _, code := h.send(appTok.Access, "GET", "/api/v1/connectors", nil, nil); status != http.StatusForbidden {
		t.Errorf("app-only token: %d %s, want 403", status, code)
	}
	for _, secret := range []string{adminTok.Access, viewerTok.Access, h.creds.CLIApp.ClientSecret} {
		if strings.Contains(h.logs.String(), secret) {
			t.Error("a token or secret reached the logs")
		}
	}
}
