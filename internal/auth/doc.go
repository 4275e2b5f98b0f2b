// Package auth decides who is calling the REST API and what they may do.
//
// A caller presents "Authorization: Bearer <token>". Two kinds of token are
// accepted:
//
//   - API keys, "evk_<id>_<secret>", made by `entravault apikey create`. Only
//     the SHA-256 of the secret is stored, one small JSON object per key in
//     the blob bucket under [DefaultKeyPrefix]; see [KeyStore].
//   - OIDC access tokens from one configured issuer (Entra ID in production,
//     the tenant simulator in dev), checked by issuer, audience, signature
//     (JWKS found through discovery) and expiry; see [OIDCVerifier].
//
// Either way the result is a [Principal]: a display name, every identifier a
// connector access list may name, and a [Role]. [Authenticator.Middleware]
// puts it in the echo.Context; handlers read it with [PrincipalFrom] and apply
// the per-connector rule with [CanSee] and [Authorize]: admins see every
// connector, everyone else only connectors whose access list names them (404
// otherwise, so existence is not revealed), and viewers change nothing (403).
//
// # Errors
//
// Failures are sentinels for errors.Is: [ErrNoToken], [ErrInvalidToken] (and
// the more precise [ErrWrongIssuer], [ErrWrongAudience], [ErrBadSignature],
// which also match ErrInvalidToken), [ErrExpired], [ErrRevoked],
// [ErrUnavailable], [ErrNameTaken], [ErrKeyNotFound], [ErrInvalidName],
// [ErrInvalidRole]. No error message, log line or stored object ever holds a
// token or a secret.
//
// # Imports
//
// auth may import echo, gocloud.dev/blob and go-oidc. It must not import
// Temporal, the Graph SDK or any other Entravault package: the API depends on
// it, not the other way round.
package auth
