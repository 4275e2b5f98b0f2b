package auth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"gocloud.dev/blob/memblob"
)

// newTestAPI serves a few routes behind the middleware. /api/v1/whoami
// answers the Principal from the echo.Context and checks the request
// context carries the same one.
func newTestAPI(t *testing.T, a *Authenticator) *echo.Echo {
	t.Helper()
	e := echo.New()
	e.Use(a.Middleware())
	ok := func(c echo.Context) error { return c.String(http.StatusOK, "ok") }
	e.GET("/healthz", ok)
	e.GET("/api/v1/consent/callback", ok)
	e.GET("/static/app.js", ok)
	e.GET("/api/v1/whoami", func(c echo.Context) error {
		p, found := PrincipalFrom(c)
		if !found {
			return c.String(http.StatusInternalServerError, "no principal")
		}
		if q, ok := FromContext(c.Request().Context()); !ok || q.Name != p.Name {
			return c.String(http.StatusInternalServerError, "request context lacks the principal")
		}
		return c.JSON(http.StatusOK, p)
	})
	return e
}

func TestMiddleware(t *testing.T) {
	ctx := context.Background()
	bucket := memblob.OpenBucket(nil)
	t.Cleanup(func() { bucket.Close() })
	keys := NewKeyStore(bucket, testKey)
	opTok, _ := mustCreate(t, keys, "ci", RoleOperator)
	revTok, revKey := mustCreate(t, keys, "old", RoleAdmin)
	if err := keys.Revoke(ctx, revKey.ID); err != nil {
		t.Fatal(err)
	}
	iss := newTestIssuer(t)
	oidcTok := iss.sign(t, with(iss.claims(), "roles", []string{"Entravault.Admin"}))
	expiredTok := iss.sign(t, with(iss.claims(), "exp", 1))
	noRoleTok := iss.sign(t, with(iss.claims(), "roles", nil))
	appTok := iss.sign(t, with(iss.claims(), "idtyp", "app", "scp", nil, "roles", []string{"Entravault.Admin"}))
	forgedTok := plantKey(t, bucket, "00000000000000e1", "evil", RoleAdmin, "")

	full := &Authenticator{
		Keys: keys,
		OIDC: iss.verifier(t, OIDCConfig{}),
		Skip: []string{"/healthz", "/api/v1/consent/callback", "/static/*"},
	}
	keysOnly := &Authenticator{Keys: keys}
	oidcOnly := &Authenticator{OIDC: full.OIDC}

	cases := []struct {
		name       string
		auth       *Authenticator
		path       string
		header     string // Authorization
		wantStatus int
		wantName   string // principal name on 200 from whoami
		wantRole   Role
		wantErr    error  // errors.Is on the HTTPError's Internal
		challenge  string // substring of WWW-Authenticate; "" means header absent
	}{
		{"no header", full, "/api/v1/whoami", "", 401, "", "", ErrNoToken, `Bearer realm="entravault"`},
		{"basic auth", full, "/api/v1/whoami", "Basic dXNlcjpwYXNz", 401, "", "", ErrNoToken, `Bearer realm="entravault"`},
		{"bearer without token", full, "/api/v1/whoami", "Bearer ", 401, "", "", ErrNoToken, `Bearer realm="entravault"`},
		{"garbage API key", full, "/api/v1/whoami", "Bearer evk_nope", 401, "", "", ErrInvalidToken, `error="invalid_token"`},
		{"garbage JWT", full, "/api/v1/whoami", "Bearer abc.def.ghi", 401, "", "", ErrInvalidToken, `error="invalid_token"`},
		{"revoked key", full, "/api/v1/whoami", "Bearer " + revTok, 401, "", "", ErrRevoked, `error="invalid_token"`},
		{"expired token", full, "/api/v1/whoami", "Bearer " + expiredTok, 401, "", "", ErrExpired, `error="invalid_token"`},
		{"API key", full, "/api/v1/whoami", "Bearer " + opTok, 200, "ci", RoleOperator, nil, ""},
		{"scheme in lower case", full, "/api/v1/whoami", "bearer " + opTok, 200, "ci", RoleOperator, nil, ""},
		{"OIDC token", full, "/api/v1/whoami", "Bearer " + oidcTok, 200, "alice@contoso.com", RoleAdmin, nil, ""},
		{"OIDC token without a role", full, "/api/v1/whoami", "Bearer " + noRoleTok, 403, "", "", ErrNoRole, `error="insufficient_scope"`},
		{"app-only OIDC token", full, "/api/v1/whoami", "Bearer " + appTok, 403, "", "", ErrAppToken, `error="insufficient_scope"`},
		{"forged API key record", full, "/api/v1/whoami", "Bearer " + forgedTok, 401, "", "", ErrUnsignedKey, `error="invalid_token"`},
		{"OIDC token without OIDC configured", keysOnly, "/api/v1/whoami", "Bearer " + oidcTok, 401, "", "", ErrInvalidToken, `error="invalid_token"`},
		{"API key without key store", oidcOnly, "/api/v1/whoami", "Bearer " + opTok, 401, "", "", ErrInvalidToken, `error="invalid_token"`},
		{"skipped path", full, "/healthz", "", 200, "", "", nil, ""},
		{"skipped callback", full, "/api/v1/consent/callback", "", 200, "", "", nil, ""},
		{"skipped prefix", full, "/static/app.js", "", 200, "", "", nil, ""},
		{"skipped path ignores a bad token", full, "/healthz", "Bearer evk_nope", 200, "", "", nil, ""},
		{"skip is exact, not a prefix", full, "/healthzz", "", 401, "", "", ErrNoToken, `Bearer realm="entravault"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newTestAPI(t, tc.auth)
			var gotErr error
			e.HTTPErrorHandler = func(err error, c echo.Context) {
				gotErr = err
				e.DefaultHTTPErrorHandler(err, c)
			}
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)

			if rec.Code != tc.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			chal := rec.Header().Get("WWW-Authenticate")
			if tc.challenge == "" && chal != "" || !strings.Contains(chal, tc.challenge) {
				t.Fatalf("WWW-Authenticate = %q, want it to contain %q", chal, tc.challenge)
			}
			if tc.challenge == `Bearer realm="entravault"` && strings.Contains(chal, "invalid_token") {
				t.Fatalf("WWW-Authenticate = %q: a missing token is not an invalid one (RFC 6750)", chal)
			}
			if tc.wantErr != nil {
				var he *echo.HTTPError
				if !errors.As(gotErr, &he) || !errors.Is(gotErr, tc.wantErr) {
					t.Fatalf("error = %v, want an *echo.HTTPError matching %v", gotErr, tc.wantErr)
				}
			}
			if _, secret, found := strings.Cut(tc.header, " "); found && len(secret) > 8 && strings.Contains(rec.Body.String(), secret) {
				t.Fatal("response body echoes the token")
			}
			if tc.wantName != "" {
				var p Principal
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
					t.Fatal(err)
				}
				if p.Name != tc.wantName || p.Role != tc.wantRole {
					t.Fatalf("principal = %+v, want name %q role %q", p, tc.wantName, tc.wantRole)
				}
			}
		})
	}
}

func TestMiddlewareStoreUnavailable(t *testing.T) {
	bucket := memblob.OpenBucket(nil)
	keys := NewKeyStore(bucket, testKey, WithCacheTTL(0))
	tok, _ := mustCreate(t, keys, "ci", RoleOperator)
	bucket.Close()

	e := newTestAPI(t, &Authenticator{Keys: keys})
	req := httptest.NewRequest(http.MethodGet, "/api/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	if rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503 (cannot tell whether the key is valid)", rec.Code)
	}
}
