package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Authenticator is the API's authentication middleware configuration.
type Authenticator struct {
	// Keys checks tokens starting with TokenPrefix; nil refuses them.
	Keys *KeyStore
	// OIDC checks every other token; nil refuses them.
	OIDC *OIDCVerifier
	// Skip lists request paths served without a token, e.g. "/healthz",
	// "/api/v1/consent/callback". An entry ending in "*" matches every path
	// with that prefix.
	Skip []string
}

// principalKey is the echo.Context key and the context.Context key of the
// Principal.
const principalKey = "entravault.auth.principal"

type ctxKey struct{}

// Middleware authenticates every request not in Skip from its
// "Authorization: Bearer <token>" header and stores the Principal in the
// echo.Context (PrincipalFrom) and the request's context (FromContext).
// A missing or refused token is a 401 *echo.HTTPError with a
// WWW-Authenticate header (RFC 6750); a valid token without a role or not a
// user's is a 403; an unreachable key store or issuer is a 503. The error's Internal holds the sentinel; no message holds the token.
func (a *Authenticator) Middleware() echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if a.skipped(c.Request().URL.Path) {
				return next(c)
			}
			p, err := a.Authenticate(c.Request().Context(), c.Request().Header.Get(echo.HeaderAuthorization))
			if err != nil {
				return a.refuse(c, err)
			}
			c.Set(principalKey, p)
			c.SetRequest(c.Request().WithContext(WithPrincipal(c.Request().Context(), p)))
			return next(c)
		}
	}
}

// Authenticate checks an Authorization header value outside echo.
func (a *Authenticator) Authenticate(ctx context.Context, header string) (Principal, error) {
	scheme, token, _ := strings.Cut(strings.TrimSpace(header), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Principal{}, ErrNoToken
	}
	if strings.HasPrefix(token, TokenPrefix) {
		if a.Keys == nil {
			return Principal{}, invalid(errors.New("API keys are not accepted"))
		}
		return a.Keys.Authenticate(ctx, token)
	}
	if a.OIDC == nil {
		return Principal{}, invalid(errors.New("no OIDC issuer is configured"))
	}
	return a.OIDC.Authenticate(ctx, token)
}

func (a *Authenticator) skipped(path string) bool {
	for _, s := range a.Skip {
		if prefix, ok := strings.CutSuffix(s, "*"); ok {
			if strings.HasPrefix(path, prefix) {
				return true
			}
		} else if path == s {
			return true
		}
	}
	return false
}

// refuse builds the error response. Messages name the reason only.
func (a *Authenticator) refuse(c echo.Context, err error) error {
	if errors.Is(err, ErrUnavailable) {
		return echo.NewHTTPError(http.StatusServiceUnavailable, "cannot check credentials right now").SetInternal(err)
	}
	if errors.Is(err, ErrNoRole) || errors.Is(err, ErrAppToken) {
		msg := "the token carries no Entravault app role"
		if errors.Is(err, ErrAppToken) {
			msg = "only users' tokens from allowed clients are accepted; applications use API keys"
		}
		c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Bearer realm="entravault", error="insufficient_scope"`)
		return echo.NewHTTPError(http.StatusForbidden, msg).SetInternal(err)
	}
	challenge := `Bearer realm="entravault"`
	msg := "invalid bearer token"
	switch {
	case errors.Is(err, ErrNoToken):
		msg = "missing bearer token: send Authorization: Bearer <API key or access token>"
	case errors.Is(err, ErrExpired):
		msg = "bearer token expired"
	case errors.Is(err, ErrRevoked):
		msg = "API key revoked"
	case errors.Is(err, ErrUnsignedKey):
		msg = "API key record is not signed: an operator must check it and run `entravault apikey migrate`"
	case errors.Is(err, ErrWrongIssuer):
		msg = "bearer token from an issuer this API does not trust"
	case errors.Is(err, ErrWrongAudience):
		msg = "bearer token issued for another audience"
	case errors.Is(err, ErrBadSignature):
		msg = "bearer token signature or secret does not match"
	}
	if !errors.Is(err, ErrNoToken) {
		challenge += `, error="invalid_token"`
	}
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, challenge)
	return echo.NewHTTPError(http.StatusUnauthorized, msg).SetInternal(err)
}

// SetPrincipal stores p in c, as the middleware does (tests call it to
// act as a caller without a token).
func SetPrincipal(c echo.Context, p Principal) { c.Set(principalKey, p) }

// PrincipalFrom returns the Principal the middleware stored in c.
func PrincipalFrom(c echo.Context) (Principal, bool) {
	p, ok := c.Get(principalKey).(Principal)
	return p, ok
}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the Principal carried by ctx.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}
