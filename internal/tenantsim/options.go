package tenantsim

import (
	"log/slog"
	"time"

	"github.com/entravault/entravault/internal/tenantsim/graphapi"
	"github.com/entravault/entravault/internal/tenantsim/model"
)

// ThrottleConfig sets the simulated Graph throttling limits.
type ThrottleConfig = graphapi.ThrottleConfig

// Faults configures fault injection (also settable at PUT /_sim/faults).
type Faults = graphapi.Faults

// Options configure a Simulator. Zero values take defaults.
type Options struct {
	Seed                                             int64
	Users, Groups, AdministrativeUnits, Applications int
	// Premium gives the tenant Entra ID P1/P2 (sign-in logs readable).
	Premium bool
	// LogsPerDay is the sign-in and audit record rate over the last 30 days.
	LogsPerDay int
	// DataDir holds tenant.json, the CA, keys and certificates; "" = a
	// temporary folder removed by Close.
	DataDir string
	// StateFile, when set, persists the tenant (objects, changes, consents,
	// logs) across restarts: loaded by New when it exists and was made with
	// the same seed; written by Start, again within 300 ms of every change
	// (so a kill loses little) and by Close. "" = in memory only.
	StateFile string
	// GraphAddr and LoginAddr are listen addresses; defaults
	// 127.0.0.1:8090 and 127.0.0.1:8091. Use "127.0.0.1:0" in tests.
	GraphAddr, LoginAddr string
	// DeltaTokenMaxAge is how long delta tokens stay valid; default 7 days.
	DeltaTokenMaxAge time.Duration
	// DeltaExpiredGone answers expired delta tokens with 410 Gone + Location
	// instead of 400 syncStateNotFound.
	DeltaExpiredGone bool
	Throttle         ThrottleConfig
	// ConsistencyDelay mimics Entra's replication lag: for that long after
	// an object is created through Graph, link requests naming it answer
	// 400 "… do not exist". Default 0; PUT /_sim/faults replaces it.
	ConsistencyDelay time.Duration
	// ConsentRequired leaves the backup app without granted roles until an
	// admin consents through the sign-in flow.
	ConsentRequired bool
	// Tenants is how many tenants the process serves (default 1), all at
	// the same Graph URL and authority host. The first is the one these
	// options describe; each other one has OtherTenantUsers users (at least
	// the three sign-in accounts) and a few groups, units and applications,
	// and shares the first tenant's backup, restore and no-roles
	// applications (one multi-tenant registration). Its credentials are in
	// Credentials.Tenants, its control API under /_sim/tenants/{id}/….
	Tenants          int
	OtherTenantUsers int
	// Now is the clock; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// AppCredentials are an application's sign-in material. CertPath and
// KeyPath name the same PEM file (certificate then PKCS#8 key, the layout
// azidentity.ParseCertificates reads); empty when the app has no certificate.
type AppCredentials struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
	CertPath     string `json:"certPath,omitempty"`
	KeyPath      string `json:"keyPath,omitempty"`
}

// AccountCredentials are an interactive account of the tenant. Roles are
// directory role names; empty for the regular (non-admin) account. AppRoles
// are the Entravault API app roles assigned to it (the roles claim of its
// tokens for the API).
type AccountCredentials struct {
	UPN      string   `json:"upn"`
	Password string   `json:"password"`
	Roles    []string `json:"roles"`
	AppRoles []string `json:"appRoles,omitempty"`
}

// Credentials are the demo credentials of the simulated tenant.
type Credentials struct {
	TenantID      string         `json:"tenantId"`
	TenantDomain  string         `json:"tenantDomain"`
	GraphURL      string         `json:"graphUrl"`
	AuthorityHost string         `json:"authorityHost"`
	CACertPath    string         `json:"caCertPath"`
	BackupApp     AppCredentials `json:"backupApp"`
	NoRolesApp    AppCredentials `json:"noRolesApp"`
	// RestoreApp holds restore's write permissions, consented apart from
	// the backup application (its adminconsent link).
	RestoreApp AppCredentials `json:"restoreApp"`
	// APIApp is Entravault's REST API registration (client id only: the
	// API validates tokens, it asks for none). Its tokens carry aud =
	// APIApp.ClientID and iss = APIIssuer; ask with scope
	// api://<clientId>/.default (client credentials) or
	// api://<clientId>/access_as_user (a user, authorization code).
	APIApp    AppCredentials `json:"apiApp"`
	APIIssuer string         `json:"apiIssuer"`
	// CLIApp signs users in to the API: a public client (PKCE) or
	// confidential with its secret; any loopback or https redirect URI.
	CLIApp AppCredentials       `json:"cliApp"`
	Admins []AccountCredentials `json:"admins"`
	Seed   int64                `json:"seed"`
	// Tenants are the other tenants the process serves (Options.Tenants).
	Tenants []Credentials `json:"tenants,omitempty"`
}

// ChurnStats counts what a churn did.
type ChurnStats = model.ChurnStats

// IncidentReport says what an incident did: by kind, the ids of the
// objects changed (role assignment ids for remove_role_assignments).
type IncidentReport struct {
	Kind     string              `json:"kind"`
	Percent  float64             `json:"percent"`
	Affected map[string][]string `json:"affected"`
}
