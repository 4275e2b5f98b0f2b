package entra

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Graph's resource identifiers: tokens for Graph carry one of them as aud.
const (
	GraphResource = "https://graph.microsoft.com"
	GraphAppID    = "00000003-0000-0000-c000-000000000000"
)

// Token verification errors, matched with errors.Is. An expired or
// not-yet-valid token is ErrTokenExpired (Graph answers "Access token has
// expired or is not yet valid."); every other failure is ErrInvalidToken, and
// a wrong audience is also ErrWrongAudience.
var (
	ErrTokenExpired  = errors.New("entra: access token has expired or is not yet valid")
	ErrInvalidToken  = errors.New("entra: invalid access token")
	ErrWrongAudience = errors.New("entra: access token audience is not Microsoft Graph")
)

// Claims is what the Graph side needs from a verified access token.
type Claims struct {
	TenantID string
	// AppID is the client id of the calling application (appid/azp).
	AppID   string
	AppName string
	// Audience is https://graph.microsoft.com or Graph's app id.
	Audience string
	// Roles are the application permissions granted to the app; empty when
	// none were granted (the claim is then absent).
	Roles []string
	// Scopes are delegated permissions (scp), for user tokens only.
	Scopes []string
	// ObjectID is the caller: the service principal for app tokens, the
	// user for delegated tokens.
	ObjectID string
	// UserPrincipalName is set for delegated (user) tokens only.
	UserPrincipalName string
	// IdentityType is "app" or "user" (idtyp).
	IdentityType string
	IssuedAt     time.Time
	NotBefore    time.Time
	ExpiresAt    time.Time
}

// HasRole reports whether the token grants the application permission role.
func (c Claims) HasRole(role string) bool {
	for _, r := range c.Roles {
		if strings.EqualFold(r, role) {
			return true
		}
	}
	return false
}

// accessTokenClaims is the JSON body of an access token, shaped like a v1
// Graph token. It implements jwt.Claims.
type accessTokenClaims struct {
	Aud        string           `json:"aud"`
	Iss        string           `json:"iss"`
	Iat        *jwt.NumericDate `json:"iat"`
	Nbf        *jwt.NumericDate `json:"nbf"`
	Exp        *jwt.NumericDate `json:"exp"`
	AppDisplay string           `json:"app_displayname,omitempty"`
	AppID      string           `json:"appid"`
	AppIDACR   string           `json:"appidacr"`
	Azp        string           `json:"azp"`
	AzpACR     string           `json:"azpacr"`
	IDP        string           `json:"idp,omitempty"`
	IDTyp      string           `json:"idtyp"`
	Name       string           `json:"name,omitempty"`
	OID        string           `json:"oid"`
	Roles      []string         `json:"roles,omitempty"`
	Scp        string           `json:"scp,omitempty"`
	Sub        string           `json:"sub"`
	TID        string           `json:"tid"`
	UPN        string           `json:"upn,omitempty"`
	UniqueName string           `json:"unique_name,omitempty"`
	UTI        string           `json:"uti"`
	Ver        string           `json:"ver"`
	WIDs       []string         `json:"wids,omitempty"`
}

func (c *accessTokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Exp, nil }
func (c *accessTokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.Iat, nil }
func (c *accessTokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.Nbf, nil }
func (c *accessTokenClaims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c *accessTokenClaims) GetSubject() (string, error)                  { return c.Sub, nil }
func (c *accessTokenClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Aud}, nil
}

// idTokenClaims is a v2 id_token for the signed-in account.
type idTokenClaims struct {
	Aud               string           `json:"aud"`
	Iss               string           `json:"iss"`
	Iat               *jwt.NumericDate `json:"iat"`
	Nbf               *jwt.NumericDate `json:"nbf"`
	Exp               *jwt.NumericDate `json:"exp"`
	Name              string           `json:"name,omitempty"`
	Nonce             string           `json:"nonce,omitempty"`
	OID               string           `json:"oid"`
	PreferredUsername string           `json:"preferred_username"`
	Sub               string           `json:"sub"`
	TID               string           `json:"tid"`
	UPN               string           `json:"upn"`
	UTI               string           `json:"uti"`
	Ver               string           `json:"ver"`
}

func (c *idTokenClaims) GetExpirationTime() (*jwt.NumericDate, error) { return c.Exp, nil }
func (c *idTokenClaims) GetIssuedAt() (*jwt.NumericDate, error)       { return c.Iat, nil }
func (c *idTokenClaims) GetNotBefore() (*jwt.NumericDate, error)      { return c.Nbf, nil }
func (c *idTokenClaims) GetIssuer() (string, error)                   { return c.Iss, nil }
func (c *idTokenClaims) GetSubject() (string, error)                  { return c.Sub, nil }
func (c *idTokenClaims) GetAudience() (jwt.ClaimStrings, error) {
	return jwt.ClaimStrings{c.Aud}, nil
}

// stsIssuer is the issuer of v1-shaped Graph access tokens.
func stsIssuer(tenantID string) string { return "https://sts.windows.net/" + tenantID + "/" }

// sign serialises claims as an RS256 JWT with Entra's header (typ, kid, x5t).
func (k *signingKey) sign(claims jwt.Claims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = k.kid
	t.Header["x5t"] = k.kid
	s, err := t.SignedString(k.key)
	if err != nil {
		return "", fmt.Errorf("entra: sign token: %w", err)
	}
	return s, nil
}

// VerifyAccessToken checks an access token issued by this server: RS256
// signature by the current signing key, exp/nbf against the server clock,
// issuer of this tenant and a Graph audience. Errors satisfy
// errors.Is(err, ErrTokenExpired) or errors.Is(err, ErrInvalidToken); a
// wrong audience also matches ErrWrongAudience. Messages never contain the
// token.
func (s *Server) VerifyAccessToken(raw string) (Claims, error) {
	var c accessTokenClaims
	_, err := jwt.ParseWithClaims(raw, &c, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != "" && kid != s.key.kid {
			return nil, errors.New("unknown signing key")
		}
		return &s.key.key.PublicKey, nil
	},
		jwt.WithValidMethods([]string{jwt.SigningMethodRS256.Alg()}),
		jwt.WithTimeFunc(s.now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuer(stsIssuer(s.dir.TenantID())),
	)
	switch {
	case err == nil:
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenNotValidYet):
		return Claims{}, ErrTokenExpired
	default:
		return Claims{}, fmt.Errorf("%w: %s", ErrInvalidToken, jwtReason(err))
	}
	if c.Aud != GraphResource && c.Aud != GraphAppID {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, ErrWrongAudience)
	}
	if !strings.EqualFold(c.TID, s.dir.TenantID()) {
		return Claims{}, fmt.Errorf("%w: token is for another tenant", ErrInvalidToken)
	}
	out := Claims{
		TenantID:          c.TID,
		AppID:             c.AppID,
		AppName:           c.AppDisplay,
		Audience:          c.Aud,
		Roles:             c.Roles,
		ObjectID:          c.OID,
		UserPrincipalName: c.UPN,
		IdentityType:      c.IDTyp,
	}
	if c.Scp != "" {
		out.Scopes = strings.Fields(c.Scp)
	}
	if c.Iat != nil {
		out.IssuedAt = c.Iat.Time
	}
	if c.Nbf != nil {
		out.NotBefore = c.Nbf.Time
	}
	if c.Exp != nil {
		out.ExpiresAt = c.Exp.Time
	}
	return out, nil
}

// jwtReason names which check failed, without echoing token content.
func jwtReason(err error) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed token"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return "signature validation failed"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "required claim missing"
	default:
		return "validation failed"
	}
}

// jwk is one RSA key in a JWKS document.
type jwk struct {
	Kty    string   `json:"kty"`
	Use    string   `json:"use"`
	Kid    string   `json:"kid"`
	X5t    string   `json:"x5t"`
	N      string   `json:"n"`
	E      string   `json:"e"`
	X5c    []string `json:"x5c"`
	Issuer string   `json:"issuer,omitempty"`
}

func (s *Server) jwks(issuer string) []byte {
	pub := &s.key.key.PublicKey
	e := make([]byte, 0, 4)
	for v := pub.E; v > 0; v >>= 8 {
		e = append([]byte{byte(v)}, e...)
	}
	doc := struct {
		Keys []jwk `json:"keys"`
	}{Keys: []jwk{{
		Kty:    "RSA",
		Use:    "sig",
		Kid:    s.key.kid,
		X5t:    s.key.kid,
		N:      base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		E:      base64.RawURLEncoding.EncodeToString(e),
		X5c:    []string{base64.StdEncoding.EncodeToString(s.key.cert.Raw)},
		Issuer: issuer,
	}}}
	b, _ := json.Marshal(doc) // plain strings: cannot fail
	return b
}

// randomID returns n random bytes, base64url-encoded.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return base64.RawURLEncoding.EncodeToString(b)
}

// newUUID returns a random version-4 UUID string.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return formatUUID(b, 4)
}

// stableUUID derives a UUID from name, for ids that must be the same on every
// run (a service principal id the directory did not give, the pairwise sub
// of an id_token).
func stableUUID(name string) string {
	sum := sha256.Sum256([]byte("entravault-sim:" + name))
	return formatUUID(sum[:16], 5)
}

func formatUUID(b []byte, version byte) string {
	b[6] = (b[6] & 0x0f) | version<<4
	b[8] = (b[8] & 0x3f) | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
