// Package auth decides who is calling the REST API and what they may do.
//
// A caller presents "Authorization: Bearer <token>". Two kinds of token are
// accepted:
//
//   - API keys, "evk_<id>_<secret>", made by `entravault apikey create`. Only
//     the SHA-256 of the secret is stored, one small JSON object per key in
//     the blob bucket under [DefaultKeyPrefix]; see [KeyStore].
//   - OIDC access tokens from one configured issuer (Entra ID in production,
//     the tenant simulator in dev), checked by go-oidc for issuer, audience,
//     signature and expiry; see [OIDCVerifier]. The JWKS named by discovery
//     is fetched by this package, only when needed, so forged tokens cannot
//     make the API flood the issuer.
//
// Either way the result is a [Principal]: a display name, every identifier a
// connector access list may name, and a [Role]. [Authenticator.Middleware]
// puts it in the echo.Context and the request context; handlers read it with
// [PrincipalFrom] (or [FromContext]) and apply the per-connector rule with
// [CanSee] and [Authorize]: admins see every connector, everyone else only
// connectors whose access list names them (404 otherwise, so existence is
// not revealed), and viewers change nothing (403). [RequireWrite] guards
// creation; [EnsureListed] keeps a non-admin creator in the access list.
//
// An API key's name is one of its IDs, so an access list entry "ci" also
// admits a later key named "ci" after the first is revoked (rotation keeps
// access); list "apikey:<id>" to admit one key only.
//
// Tests of code behind the middleware use [TestKeyStore] and [TestToken].
//
// # Errors
//
// Failures are sentinels for errors.Is: [ErrNoToken], [ErrInvalidToken] (and
// the more precise [ErrWrongIssuer], [ErrWrongAudience], [ErrBadSignature],
// which also match ErrInvalidToken), [ErrExpired], [ErrRevoked],
// [ErrUnavailable], [ErrNameTaken], [ErrKeyNotFound], [ErrInvalidName],
// [ErrInvalidRole], and for the access rule [ErrNotVisible] and
// [ErrReadOnly]. No error message, log line or stored object ever holds a
// token or a secret.
//
// # Imports
//
// auth may import echo, gocloud.dev/blob, go-oidc and go-jose (go-oidc's
// JOSE library). It must not import Temporal, the Graph SDK or any other
// Entravault package: the API depends on it, not the other way round.
package auth
