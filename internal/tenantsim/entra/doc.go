// Package entra simulates the Entra ID sign-in service (login.microsoftonline.com)
// for Entravault's tenant simulator.
//
// It serves, per tenant (addressed by tenant id or verified domain):
//
//   - OIDC discovery: /{tenant}/v2.0/.well-known/openid-configuration
//   - signing keys:   /{tenant}/discovery/v2.0/keys (and /common/...)
//   - the token endpoint /{tenant}/oauth2/v2.0/token: client_credentials with a
//     client secret or a certificate assertion, and authorization_code
//   - interactive sign-in with consent: /{tenant}/oauth2/v2.0/authorize,
//     /{tenant}/v2.0/adminconsent and /{tenant}/adminconsent
//
// Access tokens are RS256 JWTs shaped like Graph app-only tokens; the Graph
// side of the simulator checks them with [Server.VerifyAccessToken]. An app
// registration that exposes an API ([ExposedAPI], e.g. Entravault's REST
// API) gets v2 access tokens (aud = its app id, iss = the discovery issuer,
// roles from app role assignments) that an OIDC library verifies. Errors
// use the AADSTS JSON body and status codes Entra uses, so azidentity/MSAL
// surface them as they would in production.
//
// Scripts complete the HTML pages without a browser by adding
// sim_auto=accept (or sim_auto=cancel) and login_hint=<UPN> to an authorize or
// adminconsent URL.
//
// The package knows the tenant only through the [Directory] interface, which
// the synthetic tenant implements. It must not import msgraph-sdk-go, Temporal
// or anything else heavy: it is linked into the simulator and into tests.
// TLS helpers ([EnsureTLS], [EnsureAppCertificate]) exist because azidentity
// refuses a non-HTTPS authority.
//
// Secrets (client secrets, passwords, codes, tokens) never appear in logs or
// error messages.
package entra
