package auth

import (
	"errors"
	"fmt"
)

// Errors returned by this package; test them with errors.Is. Messages never
// contain the token.
var (
	// ErrNoToken: the request carries no bearer token.
	ErrNoToken = errors.New("auth: no bearer token")
	// ErrInvalidToken: malformed, unknown, wrongly signed or otherwise not
	// acceptable. The three errors below also match it.
	ErrInvalidToken = errors.New("auth: invalid token")
	// ErrWrongIssuer: an OIDC token from another issuer.
	ErrWrongIssuer = errors.New("auth: token from another issuer")
	// ErrWrongAudience: an OIDC token meant for another application.
	ErrWrongAudience = errors.New("auth: token for another audience")
	// ErrBadSignature: an OIDC token whose signature does not verify against
	// the issuer's keys, or an API key whose secret does not match.
	ErrBadSignature = errors.New("auth: bad signature or secret")
	// ErrExpired: an OIDC token past its expiry.
	ErrExpired = errors.New("auth: token expired")
	// ErrRevoked: an API key that was revoked.
	ErrRevoked = errors.New("auth: API key revoked")
	// ErrUnsignedKey: an API key whose stored record has no valid MAC
	// under the record key: forged or edited in the bucket, or written
	// before records were signed (`entravault apikey migrate`). Also
	// matches ErrInvalidToken.
	ErrUnsignedKey = errors.New("auth: API key record not signed with the repository's key")
	// ErrNoRole: a valid OIDC token that carries none of the Entravault app
	// roles (answer 403): no role means no access, not viewer.
	ErrNoRole = errors.New("auth: token carries no Entravault app role")
	// ErrAppToken: a valid OIDC token that is not a user's: app-only
	// (client credentials), or from a client application not allowed
	// (answer 403). Applications use API keys.
	ErrAppToken = errors.New("auth: app-only or unknown client token")
	// ErrUnavailable: the key store or the issuer could not be reached, so
	// the token could be neither accepted nor refused.
	ErrUnavailable = errors.New("auth: credential store unavailable")

	// ErrNameTaken: Create with the name of a live key.
	ErrNameTaken = errors.New("auth: API key name already in use")
	// ErrInvalidName: an API key name that is empty, too long or has
	// characters outside letters, digits and ". _ - @".
	ErrInvalidName = errors.New("auth: invalid API key name")
	// ErrKeyNotFound: Revoke of an ID that does not exist.
	ErrKeyNotFound = errors.New("auth: API key not found")
	// ErrInvalidRole: a role other than admin, operator or viewer.
	ErrInvalidRole = errors.New("auth: invalid role")
	// ErrUnresolved: an access list entry that is neither an immutable
	// principal ID nor the name of a live API key (ResolveAccess).
	ErrUnresolved = errors.New("auth: access entry is not a principal ID or live API key name")

	// ErrNotVisible: the principal may not see the connector (answer 404).
	ErrNotVisible = errors.New("auth: not visible to this principal")
	// ErrReadOnly: the principal may see the connector but not change it
	// (answer 403).
	ErrReadOnly = errors.New("auth: principal may not change anything")
)

// invalid wraps a precise reason so that it matches both itself and
// ErrInvalidToken.
func invalid(reason error) error {
	return fmt.Errorf("%w: %w", ErrInvalidToken, reason)
}
