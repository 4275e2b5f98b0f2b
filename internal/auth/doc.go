// Package auth decides who is calling the REST API and what they may do.
//
// A caller presents "Authorization: Bearer <token>". Two kinds of token are
// accepted:
//
//   - API keys, "evk_<id>_<secret>", made by `entravault apikey create`. Only
//     the SHA-256 of the secret is stored, one small JSON object per key in
//     the blob bucket under [DefaultKeyPrefix], with an HMAC-SHA256 under a
//     key derived from the snapshot repository's data key
//     ([RecordKeyPurpose]): write access to the bucket without the KMS key
//     cannot mint or edit a key; see [KeyStore].
//   - OIDC access tokens from one configured issuer (Entra ID in production,
//     the tenant simulator in dev), checked by go-oidc for issuer, audience,
//     signature and expiry; see [OIDCVerifier]. The JWKS named by discovery
//     is fetched by this package, only when needed, so forged tokens cannot
//     make the API flood the issuer. Only users' tokens carrying an
//     Entravault app role are accepted: app-only tokens and tokens without
//     a role get 403.
//
// Either way the result is a [Principal]: a display name, the immutable
// identifier a connector access list may name, and a [Role]. [Authenticator.Middleware]
// puts it in the echo.Context and the request context; handlers read it with
// [PrincipalFrom] (or [FromContext]) and apply the per-connector rule with
// [CanSee] and [Authorize]: admins see every connector, everyone else only
// connectors whose access list names them (404 otherwise, so existence is
// not revealed), and viewers change nothing (403). [RequireWrite] guards
// creation; [EnsureListed] keeps a non-admin creator in the access list.
//
// Access lists match immutable IDs only: "apikey:<id>" for a key and
// "oid:<tenant id>/<object id>" for a user. Names are for display: a
// revoked key's name can be given to a new key, a UPN recycled, a mail
// edited by its user. The API turns a key name given in an access list into
// the live key's ID when the list is written ([ResolveAccess]) and refuses
// other names; name entries stored before this rule admit nobody until an
// admin writes the list again.
//
// # Migration of key records
//
// Records written before records were MACed are refused (ErrUnsignedKey),
// never signed on first use, since whoever can write the bucket could
// have planted one. `entravault apikey list` marks them; an operator with
// storage and KMS access checks each and signs the ones they issued with
// `entravault apikey migrate ID...` ([KeyStore.Migrate]), or revokes them.
//
// Tests of code behind the middleware use [TestKeyStore] and [TestToken].
//
// # Errors
//
// Failures are sentinels for errors.Is: [ErrNoToken], [ErrInvalidToken] (and
// the more precise [ErrWrongIssuer], [ErrWrongAudience], [ErrBadSignature],
// which also match ErrInvalidToken, as [ErrUnsignedKey] does), [ErrExpired],
// [ErrRevoked], [ErrNoRole], [ErrAppToken], [ErrUnavailable], [ErrNameTaken],
// [ErrKeyNotFound], [ErrInvalidName], [ErrInvalidRole], and for the access
// rule [ErrNotVisible], [ErrReadOnly] and [ErrUnresolved]. No error
// message, log line or stored object ever holds a token or a secret.
//
// # Imports
//
// auth may import echo, gocloud.dev/blob, go-oidc and go-jose (go-oidc's
// JOSE library). It must not import Temporal, the Graph SDK or any other
// Entravault package: the API depends on it, not the other way round.
package auth
