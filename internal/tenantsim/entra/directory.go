package entra

import "time"

// Directory is what the sign-in service needs from the simulated tenant.
// Implementations must be safe for concurrent use; every call is made on the
// request goroutine, and none may block for long.
type Directory interface {
	// TenantID is the tenant's GUID.
	TenantID() string
	// VerifiedDomains lists domains that may stand for the tenant in URLs
	// (e.g. "contoso.onmicrosoft.com").
	VerifiedDomains() []string
	// Account looks up a user by UPN, case-insensitively.
	Account(upn string) (Account, bool)
	// App looks up an application registration by client (app) id.
	App(clientID string) (App, bool)
	// GrantedRoles lists the application permissions (e.g. "User.Read.All")
	// consented tenant-wide for the app; they become the token's roles claim.
	GrantedRoles(clientID string) []string
	// RecordConsent records a tenant-wide admin consent to roles for the app,
	// given by the account byObjectID at time at.
	RecordConsent(clientID string, roles []string, byObjectID string, at time.Time)
}

// Account is a user who can sign in.
type Account struct {
	ObjectID          string
	UserPrincipalName string
	DisplayName       string
	Password          string
	GlobalAdmin       bool // may grant tenant-wide consent
	SecurityAdmin     bool
}

// App is an application registration.
type App struct {
	ClientID    string
	DisplayName string
	// Secret is the client secret; empty means the app has none.
	Secret string
	// CertificateDER is the app's certificate credential; nil means none.
	CertificateDER []byte
	// ConfiguredRoles are the application permissions requested on the
	// registration; consent grants all of them.
	ConfiguredRoles []string
	// RedirectURIs registered for the app; empty allows any https or
	// loopback http redirect.
	RedirectURIs []string
	// ServicePrincipalID is the object id of the app's service principal, used
	// as oid/sub of app-only tokens. Optional: a stable id derived from the
	// client id is used when empty.
	ServicePrincipalID string
	// API is set when the registration exposes an API of its own; clients
	// may then ask for tokens with this app as the resource.
	API *ExposedAPI
}

// ExposedAPI is what an app registration's "Expose an API" and "App roles"
// pages define, plus the tenant's app role assignments to it. Tokens for it
// are v2 access tokens (accessTokenAcceptedVersion 2): aud is the app id,
// iss the v2 issuer of the discovery document.
type ExposedAPI struct {
	// IdentifierURIs name the resource in scopes besides its app id. Only
	// the default form api://<appId> is resolved.
	IdentifierURIs []string
	// Scopes are the delegated permissions, e.g. "access_as_user".
	Scopes []string
	// AppRoles are the values of the app roles, e.g. "Entravault.Admin".
	AppRoles []string
	// Assignments maps a principal's object id (a user, or a client app's
	// service principal) to the app role values assigned to it; they
	// become the token's roles claim.
	Assignments map[string][]string
}
