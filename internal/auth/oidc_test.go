package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const (
	testAudience = "api://entravault"
	testTenant   = "00000000-0000-0000-0000-0000000000f1"
	aliceOID     = "00000000-0000-0000-0000-00000000a11c"
)

// testIssuer is an OIDC issuer on httptest (TLS, so the verifier must be
// given a client trusting its private CA): a discovery document and a JWKS
// with one RSA key, and a method to sign tokens with it or any other key.
type testIssuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
	kid string

	mu        sync.Mutex
	published []jose.JSONWebKey // served at /keys
	fetches   atomic.Int32      // GET /keys so far
}

// publish replaces the served key set.
func (iss *testIssuer) publish(keys ...jose.JSONWebKey) {
	iss.mu.Lock()
	iss.published = keys
	iss.mu.Unlock()
}

func publicJWK(k *rsa.PrivateKey, kid string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"}
}

func newTestIssuer(t testing.TB) *testIssuer {
	t.Helper()
	iss := &testIssuer{key: newRSAKey(t), kid: "key-1"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, map[string]any{
			"issuer":                                iss.url(),
			"authorization_endpoint":                iss.url() + "/authorize",
			"token_endpoint":                        iss.url() + "/token",
			"jwks_uri":                              iss.url() + "/keys",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	iss.publish(publicJWK(iss.key, iss.kid))
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, r *http.Request) {
		iss.fetches.Add(1)
		iss.mu.Lock()
		set := jose.JSONWebKeySet{Keys: iss.published}
		iss.mu.Unlock()
		writeJSON(w, set)
	})
	iss.srv = httptest.NewUnstartedServer(mux)
	iss.srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusted-CA test's handshake failure
	iss.srv.StartTLS()
	t.Cleanup(iss.srv.Close)
	return iss
}

func newRSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (iss *testIssuer) url() string { return iss.srv.URL }

// claims returns a valid set of claims for a user holding the viewer app
// role, signed in through a client with a delegated scope; tests change
// them.
func (iss *testIssuer) claims() map[string]any {
	now := time.Now()
	return map[string]any{
		"iss":   iss.url(),
		"aud":   testAudience,
		"sub":   "sub-alice",
		"tid":   testTenant,
		"oid":   aliceOID,
		"upn":   "alice@contoso.com",
		"scp":   "access_as_user",
		"azp":   "cli-app",
		"roles": []string{"Entravault.Viewer"},
		"iat":   now.Add(-time.Minute).Unix(),
		"nbf":   now.Add(-time.Minute).Unix(),
		"exp":   now.Add(time.Hour).Unix(),
	}
}

func (iss *testIssuer) sign(t testing.TB, claims map[string]any) string {
	return signWith(t, iss.key, iss.kid, claims)
}

func signWith(t testing.TB, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func (iss *testIssuer) verifier(t testing.TB, cfg OIDCConfig) *OIDCVerifier {
	t.Helper()
	cfg.Issuer, cfg.HTTPClient = iss.url(), iss.srv.Client()
	if cfg.Audience == "" {
		cfg.Audience = testAudience
	}
	v, err := NewOIDCVerifier(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewOIDCVerifier: %v", err)
	}
	return v
}

func with(c map[string]any, kv ...any) map[string]any {
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(c, kv[i].(string))
		} else {
			c[kv[i].(string)] = kv[i+1]
		}
	}
	return c
}

func TestOIDCAccepts(t *testing.T) {
	iss := newTestIssuer(t)
	root := UserPrincipalID(testTenant, "oid-of-root")
	v := iss.verifier(t, OIDCConfig{Admins: []string{strings.ToUpper(root)}})
	aliceIDs := []string{UserPrincipalID(testTenant, aliceOID)}
	cases := []struct {
		name     string
		claims   map[string]any
		wantName string
		wantRole Role
		wantIDs  []string
	}{
		{"viewer app role", iss.claims(), "alice@contoso.com", RoleViewer, aliceIDs},
		{"admin app role", with(iss.claims(), "roles", []string{"Entravault.Admin"}), "alice@contoso.com", RoleAdmin, aliceIDs},
		{"operator app role", with(iss.claims(), "roles", []string{"Entravault.Operator"}), "alice@contoso.com", RoleOperator, aliceIDs},
		{"strongest of several wins", with(iss.claims(), "roles", []string{"Entravault.Viewer", "entravault.operator", "Other.Role"}), "alice@contoso.com", RoleOperator, aliceIDs},
		{"unknown roles beside a known one", with(iss.claims(), "roles", []string{"Directory.Read.All", "Entravault.Viewer"}), "alice@contoso.com", RoleViewer, aliceIDs},
		{"admins list by tenant and oid, without app roles", with(iss.claims(), "oid", "oid-of-root", "upn", nil, "roles", nil), "oid-of-root", RoleAdmin, []string{root}},
		{"v2 token: preferred_username and email", with(iss.claims(), "upn", nil, "preferred_username", "alice@contoso.com", "email", "alice@mail.contoso.com"),
			"alice@contoso.com", RoleViewer, aliceIDs},
		{"email only", with(iss.claims(), "upn", nil, "email", "alice@mail.contoso.com"), "alice@mail.contoso.com", RoleViewer, aliceIDs},
		{"audience list containing ours", with(iss.claims(), "aud", []string{"other", testAudience}), "alice@contoso.com", RoleViewer, aliceIDs},
		{"idtyp user", with(iss.claims(), "idtyp", "user"), "alice@contoso.com", RoleViewer, aliceIDs},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Authenticate(context.Background(), iss.sign(t, tc.claims))
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			want := Principal{Name: tc.wantName, IDs: tc.wantIDs, Role: tc.wantRole, Method: MethodOIDC}
			if !equalPrincipal(p, want) {
				t.Fatalf("principal = %+v, want %+v", p, want)
			}
		})
	}
}

// TestOIDCRefusesByIdentity is issue 15 item 3 for tokens: valid tokens
// that are not a user's, carry no role, or name their user only by mutable
// claims get no access, and a listed UPN, mail or bootstrap admin name
// does not admit whoever holds that name now.
func TestOIDCRefusesByIdentity(t *testing.T) {
	ctx := context.Background()
	iss := newTestIssuer(t)
	v := iss.verifier(t, OIDCConfig{Admins: []string{"bootstrap@contoso.com", aliceOID}})
	cases := []struct {
		name   string
		claims map[string]any
		want   error
	}{
		{"no roles claim", with(iss.claims(), "roles", nil), ErrNoRole},
		{"only roles of other apps", with(iss.claims(), "roles", []string{"Directory.Read.All"}), ErrNoRole},
		{"no role, upn on the admins list", with(iss.claims(), "roles", nil, "upn", "bootstrap@contoso.com"), ErrNoRole},
		{"no role, bare oid on the admins list", with(iss.claims(), "roles", nil), ErrNoRole},
		{"app-only token (idtyp app)", with(iss.claims(), "idtyp", "app", "roles", []string{"Entravault.Admin"}), ErrAppToken},
		{"app-only token (no delegated scope)", with(iss.claims(), "scp", nil, "upn", nil, "roles", []string{"Entravault.Admin"}), ErrAppToken},
		{"no object id", with(iss.claims(), "oid", nil), ErrInvalidToken},
		{"no tenant id", with(iss.claims(), "tid", nil), ErrInvalidToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Authenticate(ctx, iss.sign(t, tc.claims))
			if !errors.Is(err, tc.want) {
				t.Fatalf("Authenticate = %+v, %v; want %v", p, err, tc.want)
			}
		})
	}

	// Another user who has (or took) alice's UPN and mail: their oid
	// differs, so alice's connector stays hers, and a name on the admins
	// list makes nobody admin.
	aliceAccess := []string{"alice@contoso.com", "alice@mail.contoso.com", UserPrincipalID(testTenant, aliceOID)}
	mallory := with(iss.claims(), "oid", "00000000-0000-0000-0000-0000000bad01", "email", "alice@mail.contoso.com")
	p, err := v.Authenticate(ctx, iss.sign(t, mallory))
	if err != nil {
		t.Fatal(err)
	}
	if CanSee(p, aliceAccess) {
		t.Fatalf("a user with alice's upn and mail but another oid sees her connector: %+v", p)
	}
	p, err = v.Authenticate(ctx, iss.sign(t, with(iss.claims(), "upn", "bootstrap@contoso.com")))
	if err != nil || p.Role != RoleViewer {
		t.Fatalf("upn on the admins list: %+v, %v; want a viewer", p, err)
	}
	if p, err := v.Authenticate(ctx, iss.sign(t, iss.claims())); err != nil || !CanSee(p, aliceAccess) {
		t.Fatalf("alice herself: %+v, %v", p, err)
	}
}

// With Clients set, only tokens obtained through those applications count.
func TestOIDCClients(t *testing.T) {
	iss := newTestIssuer(t)
	v := iss.verifier(t, OIDCConfig{Clients: []string{"CLI-APP"}})
	cases := []struct {
		name   string
		claims map[string]any
		want   error
	}{
		{"allowed client (azp)", iss.claims(), nil},
		{"allowed client (v1 appid)", with(iss.claims(), "azp", nil, "appid", "cli-app"), nil},
		{"other client", with(iss.claims(), "azp", "other-app"), ErrAppToken},
		{"no client named", with(iss.claims(), "azp", nil), ErrAppToken},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := v.Authenticate(context.Background(), iss.sign(t, tc.claims)); !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestOIDCRoleClaim(t *testing.T) {
	iss := newTestIssuer(t)
	v := iss.verifier(t, OIDCConfig{RoleClaim: "entravault_roles"})
	cases := []struct {
		name   string
		claims map[string]any
		want   Role // "": refused with ErrNoRole
	}{
		{"configured claim as list", with(iss.claims(), "entravault_roles", []string{"Entravault.Admin"}), RoleAdmin},
		{"configured claim as space-separated string", with(iss.claims(), "entravault_roles", "x Entravault.Operator"), RoleOperator},
		{"default claim ignored", with(iss.claims(), "roles", []string{"Entravault.Admin"}), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, err := v.Authenticate(context.Background(), iss.sign(t, tc.claims))
			if p.Role != tc.want || (tc.want == "") != errors.Is(err, ErrNoRole) {
				t.Fatalf("role = %q, %v; want %q", p.Role, err, tc.want)
			}
		})
	}
}

func TestOIDCRejects(t *testing.T) {
	iss := newTestIssuer(t)
	v := iss.verifier(t, OIDCConfig{})
	otherKey := newRSAKey(t)
	valid := iss.sign(t, iss.claims())
	parts := strings.Split(valid, ".")
	cases := []struct {
		name  string
		token string
		want  []error
	}{
		{"expired", iss.sign(t, with(iss.claims(), "exp", time.Now().Add(-time.Minute).Unix())), []error{ErrExpired}},
		{"wrong audience", iss.sign(t, with(iss.claims(), "aud", "api://someone-else")), []error{ErrInvalidToken, ErrWrongAudience}},
		{"wrong issuer", iss.sign(t, with(iss.claims(), "iss", "https://evil.example")), []error{ErrInvalidToken, ErrWrongIssuer}},
		{"signed by another key with our kid", signWith(t, otherKey, iss.kid, iss.claims()), []error{ErrInvalidToken, ErrBadSignature}},
		{"signed by an unknown kid", signWith(t, otherKey, "key-2", iss.claims()), []error{ErrInvalidToken, ErrBadSignature}},
		{"payload swapped under a valid signature", parts[0] + "." + strings.Split(iss.sign(t, with(iss.claims(), "roles", []string{"Entravault.Admin"})), ".")[1] + "." + parts[2],
			[]error{ErrInvalidToken, ErrBadSignature}},
		{"not yet valid", iss.sign(t, with(iss.claims(), "nbf", time.Now().Add(time.Hour).Unix())), []error{ErrInvalidToken}},
		{"unsigned (alg none)", "eyJhbGciOiJub25lIn0." + parts[1] + ".", []error{ErrInvalidToken}},
		{"garbage", "not-a-jwt", []error{ErrInvalidToken}},
		{"empty", "", []error{ErrInvalidToken}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := v.Authenticate(context.Background(), tc.token)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Fatalf("err = %v, want errors.Is %v", err, w)
				}
			}
			if tc.token != "" && strings.Contains(err.Error(), tc.token) {
				t.Fatal("error message contains the token")
			}
		})
	}
}

func TestOIDCIssuerUnreachable(t *testing.T) {
	iss := newTestIssuer(t)

	// Discovery over TLS needs the caller's client: the default one does not
	// trust the test CA.
	if _, err := NewOIDCVerifier(context.Background(), OIDCConfig{Issuer: iss.url(), Audience: testAudience}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("untrusted CA: err = %v, want ErrUnavailable", err)
	}
	if _, err := NewOIDCVerifier(context.Background(), OIDCConfig{Issuer: iss.url()}); err == nil {
		t.Fatal("missing audience accepted")
	}

	// Keys unreachable after start: neither accepted nor called invalid.
	v := iss.verifier(t, OIDCConfig{})
	tok := iss.sign(t, iss.claims())
	iss.srv.Close()
	if _, err := v.Authenticate(context.Background(), tok); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("JWKS down: err = %v, want ErrUnavailable", err)
	}
}

// BenchmarkOIDCAuthenticate measures one token check once the JWKS is
// fetched: "verify" parses, checks the RS256 signature and maps claims
// every time; "cached" is a token seen before.
func BenchmarkOIDCAuthenticate(b *testing.B) {
	iss := newTestIssuer(b)
	v := iss.verifier(b, OIDCConfig{})
	tok := iss.sign(b, with(iss.claims(), "roles", []string{"Entravault.Operator"}))
	ctx := context.Background()
	if _, err := v.Authenticate(ctx, tok); err != nil { // fetch the JWKS
		b.Fatal(err)
	}
	for _, cached := range []bool{true, false} {
		name := map[bool]string{true: "cached", false: "verify"}[cached]
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !cached {
					v.mu.Lock()
					clear(v.verified)
					v.mu.Unlock()
				}
				if _, err := v.Authenticate(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Accepted tokens are remembered, but never past their expiry.
func TestOIDCCacheHonoursExpiry(t *testing.T) {
	iss := newTestIssuer(t)
	v := iss.verifier(t, OIDCConfig{})
	clock := newClock()
	v.now = clock.now
	tok := iss.sign(t, with(iss.claims(), "exp", clock.now().Add(30*time.Second).Unix()))

	for i := range 2 {
		p, err := v.Authenticate(context.Background(), tok)
		if err != nil || p.Name != "alice@contoso.com" {
			t.Fatalf("call %d: %+v, %v", i, p, err)
		}
		p.IDs[0] = "mutated by the caller"
	}
	if p, _ := v.Authenticate(context.Background(), tok); p.IDs[0] == "mutated by the caller" {
		t.Fatal("cached principal shares its IDs with callers")
	}
	clock.add(31 * time.Second)
	if _, err := v.Authenticate(context.Background(), tok); !errors.Is(err, ErrExpired) {
		t.Fatalf("after exp: err = %v, want ErrExpired", err)
	}
}

// The key set is fetched again only when needed, so forged tokens cannot
// make the API hammer the issuer, while rotated keys are picked up and
// withdrawn ones stop working.
func TestOIDCKeySetRefresh(t *testing.T) {
	ctx := context.Background()
	setup := func(t *testing.T) (*testIssuer, *OIDCVerifier, *fakeClock) {
		iss := newTestIssuer(t)
		v := iss.verifier(t, OIDCConfig{})
		clock := newClock()
		v.now = clock.now
		if _, err := v.Authenticate(ctx, iss.sign(t, iss.claims())); err != nil {
			t.Fatal(err)
		}
		if n := iss.fetches.Load(); n != 1 {
			t.Fatalf("first token: %d JWKS fetches, want 1", n)
		}
		return iss, v, clock
	}

	t.Run("bad signatures under a known key ID never fetch", func(t *testing.T) {
		iss, v, _ := setup(t)
		forger := newRSAKey(t)
		for i := range 20 {
			if _, err := v.Authenticate(ctx, signWith(t, forger, iss.kid, with(iss.claims(), "jti", i))); !errors.Is(err, ErrBadSignature) {
				t.Fatalf("err = %v, want ErrBadSignature", err)
			}
		}
		if n := iss.fetches.Load(); n != 1 {
			t.Fatalf("%d JWKS fetches, want 1", n)
		}
	})

	t.Run("unknown key IDs fetch at most once per interval", func(t *testing.T) {
		iss, v, clock := setup(t)
		forger := newRSAKey(t)
		for round := range 3 {
			for i := range 10 {
				if _, err := v.Authenticate(ctx, signWith(t, forger, "forged", with(iss.claims(), "jti", i))); !errors.Is(err, ErrBadSignature) {
					t.Fatalf("err = %v, want ErrBadSignature", err)
				}
			}
			if n, want := iss.fetches.Load(), int32(1+round); n != want {
				t.Fatalf("round %d: %d JWKS fetches, want %d", round, n, want)
			}
			clock.add(jwksMinRefresh)
		}
	})

	t.Run("a rotated key is picked up", func(t *testing.T) {
		iss, v, clock := setup(t)
		next := newRSAKey(t)
		iss.publish(publicJWK(iss.key, iss.kid), publicJWK(next, "key-2"))
		clock.add(jwksMinRefresh)
		if _, err := v.Authenticate(ctx, signWith(t, next, "key-2", iss.claims())); err != nil {
			t.Fatalf("token under the new key: %v", err)
		}
	})

	t.Run("a withdrawn key stops working within the max age", func(t *testing.T) {
		iss, v, clock := setup(t)
		next := newRSAKey(t)
		iss.publish(publicJWK(next, "key-2"))
		clock.add(jwksMaxAge + time.Second)
		if _, err := v.Authenticate(ctx, iss.sign(t, with(iss.claims(), "jti", "after", "exp", clock.now().Add(time.Hour).Unix()))); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("token under the withdrawn key: err = %v, want ErrBadSignature", err)
		}
	})

	t.Run("known keys keep working while the issuer is down", func(t *testing.T) {
		iss, v, clock := setup(t)
		iss.srv.Close()
		clock.add(jwksMaxAge + time.Second)
		if _, err := v.Authenticate(ctx, iss.sign(t, with(iss.claims(), "jti", "outage", "exp", clock.now().Add(time.Hour).Unix()))); err != nil {
			t.Fatalf("during outage: %v", err)
		}
	})
}
