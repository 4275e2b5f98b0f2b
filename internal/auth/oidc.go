package auth

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// App roles an Entra ID app registration defines for Entravault; a token's
// role claim carrying one of them gives the matching Role.
const (
	AppRoleAdmin    = "Entravault.Admin"
	AppRoleOperator = "Entravault.Operator"
	AppRoleViewer   = "Entravault.Viewer"
)

// OIDCConfig configures the accepted OIDC issuer.
type OIDCConfig struct {
	// Issuer is the issuer URL, exactly as in the tokens' iss claim and the
	// discovery document, e.g. https://login.microsoftonline.com/<tenant>/v2.0
	// (Entra issues v2 access tokens when the app registration sets
	// accessTokenAcceptedVersion to 2).
	Issuer string
	// Audience must appear in the tokens' aud claim: the API app's client ID
	// or application ID URI.
	Audience string
	// HTTPClient fetches discovery and JWKS; it may trust a private CA (the
	// tenant simulator's). nil: http.DefaultClient.
	HTTPClient *http.Client
	// RoleClaim names the claim holding app roles; default "roles". Values
	// AppRoleAdmin, AppRoleOperator, AppRoleViewer (any case) map to roles,
	// the strongest wins; a token with none of them is refused (ErrNoRole).
	RoleClaim string
	// Admins lists principal IDs ("oid:<tenant id>/<object id>", see
	// UserPrincipalID) that are admins whatever their claims: the bootstrap
	// admin before app roles are assigned. Never names: a UPN or mail can
	// be recycled or edited.
	Admins []string
	// Clients, when set, are the client application IDs (the token's azp,
	// or appid in v1 tokens) users may sign in to the API through; tokens
	// obtained by any other application are refused (ErrAppToken).
	Clients []string
}

// OIDCVerifier validates access tokens from one issuer. It is safe for
// concurrent use.
type OIDCVerifier struct {
	cfg      OIDCConfig
	verifier *oidc.IDTokenVerifier
	client   *http.Client
	now      func() time.Time

	// verified caches accepted tokens by SHA-256, so a client sending the
	// same token on every call pays the RSA check once a minute, not each
	// time. An entry never outlives the token's exp.
	mu       sync.Mutex
	verified map[[sha256.Size]byte]verifiedToken
}

type verifiedToken struct {
	p       Principal
	expires time.Time
}

// verifiedTTL bounds how long an accepted token is remembered; a change of
// OIDCConfig.Admins or of role mapping applies after a restart anyway.
const verifiedTTL = time.Minute

// NewOIDCVerifier fetches the issuer's discovery document (so it fails
// early on a wrong issuer URL or an untrusted certificate; an unreachable
// issuer is ErrUnavailable, worth retrying) and prepares a verifier that
// fetches and caches the JWKS it names.
func NewOIDCVerifier(ctx context.Context, cfg OIDCConfig) (*OIDCVerifier, error) {
	if cfg.Issuer == "" || cfg.Audience == "" {
		return nil, errors.New("auth: OIDC issuer and audience are both required")
	}
	if cfg.RoleClaim == "" {
		cfg.RoleClaim = "roles"
	}
	client := cfg.HTTPClient
	if client == nil {
		client = http.DefaultClient
	}
	provider, err := oidc.NewProvider(oidc.ClientContext(ctx, client), cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: OIDC discovery for %s: %v", ErrUnavailable, cfg.Issuer, err)
	}
	var meta struct {
		JWKSURL string   `json:"jwks_uri"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := provider.Claims(&meta); err != nil || meta.JWKSURL == "" {
		return nil, fmt.Errorf("%w: OIDC discovery for %s names no jwks_uri", ErrUnavailable, cfg.Issuer)
	}
	algs := supportedAlgs(meta.Algs)
	v := &OIDCVerifier{cfg: cfg, client: client, now: time.Now, verified: map[[sha256.Size]byte]verifiedToken{}}
	now := func() time.Time { return v.now() }
	keys := &jwksKeySet{url: meta.JWKSURL, client: client, now: now}
	cfgAlgs := make([]string, len(algs))
	for i, a := range algs {
		keys.algs = append(keys.algs, jose.SignatureAlgorithm(a))
		cfgAlgs[i] = a
	}
	v.verifier = oidc.NewVerifier(cfg.Issuer, keys, &oidc.Config{ClientID: cfg.Audience, SupportedSigningAlgs: cfgAlgs, Now: now})
	return v, nil
}

// supportedAlgs keeps the asymmetric algorithms the issuer announces;
// none announced means RS256, the one OIDC requires. HS* and "none" are
// never accepted.
func supportedAlgs(announced []string) []string {
	var algs []string
	for _, a := range announced {
		switch a {
		case oidc.RS256, oidc.RS384, oidc.RS512, oidc.ES256, oidc.ES384, oidc.ES512, oidc.PS256, oidc.PS384, oidc.PS512, oidc.EdDSA:
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = []string{oidc.RS256}
	}
	return algs
}

// tokenClaims are the claims Entravault reads from a verified token.
type tokenClaims struct {
	Issuer            string          `json:"iss"`
	Audience          json.RawMessage `json:"aud"`
	TID               string          `json:"tid"`
	OID               string          `json:"oid"`
	UPN               string          `json:"upn"`
	PreferredUsername string          `json:"preferred_username"`
	Email             string          `json:"email"`
	IDTyp             string          `json:"idtyp"`
	Azp               string          `json:"azp"`
	AppID             string          `json:"appid"`
}

// Authenticate verifies rawToken's issuer, audience, expiry and signature
// and maps its claims to a Principal. Errors match ErrExpired,
// ErrInvalidToken (with ErrWrongIssuer, ErrWrongAudience or ErrBadSignature
// when that is the reason) or ErrUnavailable; none contains the token.
func (v *OIDCVerifier) Authenticate(ctx context.Context, rawToken string) (Principal, error) {
	sum := sha256.Sum256([]byte(rawToken))
	now := v.now()
	v.mu.Lock()
	hit, ok := v.verified[sum]
	v.mu.Unlock()
	if ok && now.Before(hit.expires) {
		p := hit.p
		p.IDs = slices.Clone(p.IDs) // the caller may append to it
		return p, nil
	}
	tok, err := v.verifier.Verify(oidc.ClientContext(ctx, v.client), rawToken)
	if err != nil {
		return Principal{}, v.classify(rawToken, err)
	}
	p, err := v.principal(tok)
	if err != nil {
		return Principal{}, err
	}
	expires := now.Add(verifiedTTL)
	if tok.Expiry.Before(expires) {
		expires = tok.Expiry
	}
	v.mu.Lock()
	if len(v.verified) >= maxCache {
		for k, e := range v.verified {
			if !now.Before(e.expires) {
				delete(v.verified, k)
			}
		}
		if len(v.verified) >= maxCache {
			clear(v.verified)
		}
	}
	cached := p
	cached.IDs = slices.Clone(p.IDs)
	v.verified[sum] = verifiedToken{p: cached, expires: expires}
	v.mu.Unlock()
	return p, nil
}

// principal maps a verified token's claims to a Principal.
func (v *OIDCVerifier) principal(tok *oidc.IDToken) (Principal, error) {
	var c tokenClaims
	if err := tok.Claims(&c); err != nil {
		return Principal{}, invalid(errors.New("unreadable claims"))
	}
	var all map[string]json.RawMessage
	if err := tok.Claims(&all); err != nil {
		return Principal{}, invalid(errors.New("unreadable claims"))
	}

	// Only users' tokens: an app-only token (client credentials) says
	// idtyp "app" where Entra is asked to, and never has a delegated scp.
	if strings.EqualFold(c.IDTyp, "app") || len(stringsClaim(all["scp"])) == 0 {
		return Principal{}, ErrAppToken
	}
	if client := cmp.Or(c.Azp, c.AppID); len(v.cfg.Clients) > 0 && !slices.ContainsFunc(v.cfg.Clients, func(id string) bool {
		return strings.EqualFold(strings.TrimSpace(id), client)
	}) {
		return Principal{}, ErrAppToken
	}
	if strings.TrimSpace(c.TID) == "" || strings.TrimSpace(c.OID) == "" {
		return Principal{}, invalid(errors.New("token names no tenant or object id"))
	}
	p := Principal{
		Name:   cmp.Or(c.UPN, c.PreferredUsername, c.Email, c.OID),
		IDs:    []string{UserPrincipalID(strings.TrimSpace(c.TID), strings.TrimSpace(c.OID))},
		Method: MethodOIDC,
	}
	for _, r := range stringsClaim(all[v.cfg.RoleClaim]) {
		if role := appRole(r); role.rank() > p.Role.rank() {
			p.Role = role
		}
	}
	for _, admin := range v.cfg.Admins {
		if strings.EqualFold(strings.TrimSpace(admin), p.IDs[0]) {
			p.Role = RoleAdmin
		}
	}
	if p.Role == "" {
		return Principal{}, ErrNoRole
	}
	return p, nil
}

func appRole(r string) Role {
	switch {
	case strings.EqualFold(r, AppRoleAdmin):
		return RoleAdmin
	case strings.EqualFold(r, AppRoleOperator):
		return RoleOperator
	case strings.EqualFold(r, AppRoleViewer):
		return RoleViewer
	}
	return ""
}

// stringsClaim reads a claim that is a list of strings or one string with
// space-separated values (as scp is).
func stringsClaim(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return strings.Fields(one)
	}
	return nil
}

// classify turns a go-oidc error into this package's sentinels. go-oidc
// types only expiry; for the rest the unverified payload tells which check
// failed (it is only used to pick the error, never to accept a token).
// Signature failures from an unreachable JWKS are ErrUnavailable.
func (v *OIDCVerifier) classify(rawToken string, err error) error {
	var expired *oidc.TokenExpiredError
	if errors.As(err, &expired) {
		return fmt.Errorf("%w at %s", ErrExpired, expired.Expiry.UTC().Format(time.RFC3339))
	}
	c, ok := unverifiedClaims(rawToken)
	if !ok {
		return invalid(errors.New("not a JWT"))
	}
	if c.Issuer != v.cfg.Issuer {
		return invalid(ErrWrongIssuer)
	}
	var aud []string
	if json.Unmarshal(c.Audience, &aud) != nil {
		var one string
		_ = json.Unmarshal(c.Audience, &one)
		aud = []string{one}
	}
	found := false
	for _, a := range aud {
		found = found || a == v.cfg.Audience
	}
	if !found {
		return invalid(ErrWrongAudience)
	}
	// go-oidc flattens the key set's error into its text ("failed to verify
	// signature: <ours>"), so the key set's own wording is matched here.
	if strings.Contains(err.Error(), "fetching keys") {
		return fmt.Errorf("%w: issuer keys: %v", ErrUnavailable, err)
	}
	if strings.Contains(err.Error(), "verify signature") {
		return invalid(ErrBadSignature)
	}
	return invalid(errors.New("token rejected"))
}

func unverifiedClaims(raw string) (tokenClaims, bool) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return tokenClaims{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return tokenClaims{}, false
	}
	var c tokenClaims
	return c, json.Unmarshal(payload, &c) == nil
}
