package config

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Role names the process being configured; each registers only its flags.
type Role string

const (
	RoleDev    Role = "dev"    // everything on one machine, embedded Temporal
	RoleAPI    Role = "api"    // REST API against an external Temporal cluster
	RoleWorker Role = "worker" // Temporal worker against an external cluster
)

// Defaults shared by flags, docs and tests.
const (
	DefaultNamespace = "default"
	DefaultTaskQueue = "entravault"
)

// Config is the whole configuration of one entravault process.
type Config struct {
	Role Role
	Log  Log
	// Temporal is the cluster the api and worker talk to. In dev it is the
	// embedded server, and Address is derived from Dev.TemporalPort.
	Temporal Temporal
	API      API
	Storage  Storage
	// Graph holds the backup application's registration, used by the worker
	// only. Its secret comes from deployment config, never from workflow
	// inputs, so it stays out of Temporal history.
	Graph Graph
	// Restore is the restore application's registration: the write
	// permissions, consented only when a tenant is first restored into,
	// so the backup application stays read-only. Optional: without it,
	// restores write with the backup application.
	Restore RestoreApp
	Dev     Dev
}

// RestoreApp is the restore application's registration in Entra ID. The
// worker writes with it; the API only builds its consent link.
type RestoreApp struct {
	ClientID         string
	ClientSecretFile string
	CertFile         string
	KeyFile          string
}

// Log selects the slog handler.
type Log struct {
	Format string // text or json
	Level  string // debug, info, warn, error
}

// Temporal is how to reach a Temporal frontend.
type Temporal struct {
	Address       string
	Namespace     string
	TaskQueue     string
	TLSCertFile   string // client certificate for mTLS
	TLSKeyFile    string
	TLSCAFile     string // CA that signed the server certificate
	TLSServerName string
	APIKeyFile    string // file holding a Temporal Cloud API key; a file keeps it out of argv
}

// API is the REST API listener and its sign-in settings.
type API struct {
	Addr string
	// PublicURL is how browsers reach the API; the consent redirect URI is
	// PublicURL + /api/v1/consent/callback.
	PublicURL      string
	ConsentTimeout time.Duration
	OIDCIssuer     string // optional: accept access tokens from this issuer
	OIDCAudience   string
	// PurgeGrace is how long a purge waits, cancellable by an admin.
	PurgeGrace time.Duration
}

// Storage is where snapshots go, as gocloud.dev URLs.
type Storage struct {
	BlobURL    string // file:///var/lib/entravault, s3://bucket, azblob://container, gs://bucket
	SecretsURL string // keeper wrapping the repository's data key
}

// Graph is the backup application's registration in Entra ID.
type Graph struct {
	ClientID         string
	ClientSecretFile string // a file, so the secret is never in argv or the environment listing
	CertFile         string // certificate credential (PEM), instead of a secret
	KeyFile          string
	AuthorityHost    string // https://login.microsoftonline.com/ by default
	GraphURL         string // https://graph.microsoft.com/v1.0 by default
	CACertFile       string // extra CA to trust (the dev simulator's)
}

// Dev configures `entravault dev`: embedded Temporal, UI and simulator.
type Dev struct {
	DataDir          string
	TemporalPort     int
	TemporalHTTPPort int
	UIPort           int
	GraphAddr        string
	LoginAddr        string
	SimSeed          int64
	SimUsers         int
	SimTenants       int
	NoSimulator      bool
}

// FlagSet returns the flags of role, bound to a new Config filled with
// defaults. The same function serves parsing and the docs/compose checks, so
// the two cannot drift apart.
func FlagSet(role Role) (*flag.FlagSet, *Config) {
	c := &Config{Role: role}
	fs := flag.NewFlagSet(string(role), flag.ContinueOnError)

	fs.StringVar(&c.Log.Format, "log-format", "text", "log format: text or json")
	fs.StringVar(&c.Log.Level, "log-level", "info", "log level: debug, info, warn or error")

	if role == RoleAPI || role == RoleWorker {
		fs.StringVar(&c.Temporal.Address, "temporal-address", "127.0.0.1:7233", "Temporal frontend host:port")
		fs.StringVar(&c.Temporal.TLSCertFile, "temporal-tls-cert", "", "client certificate file (mTLS)")
		fs.StringVar(&c.Temporal.TLSKeyFile, "temporal-tls-key", "", "client key file (mTLS)")
		fs.StringVar(&c.Temporal.TLSCAFile, "temporal-tls-ca", "", "CA certificate file of the Temporal server")
		fs.StringVar(&c.Temporal.TLSServerName, "temporal-tls-server-name", "", "server name to verify (default: host of --temporal-address)")
		fs.StringVar(&c.Temporal.APIKeyFile, "temporal-api-key-file", "", "file holding a Temporal API key")
		fs.StringVar(&c.Storage.BlobURL, "blob-url", "", "snapshot storage bucket URL (file://, s3://, azblob://, gs://)")
		fs.StringVar(&c.Storage.SecretsURL, "secrets-url", "", "key keeper URL (base64key://, azurekeyvault://, awskms://, gcpkms://, hashivault://)")
	}
	fs.StringVar(&c.Temporal.Namespace, "namespace", DefaultNamespace, "Temporal namespace")
	fs.StringVar(&c.Temporal.TaskQueue, "task-queue", DefaultTaskQueue, "Temporal task queue")

	if role == RoleAPI || role == RoleDev {
		fs.StringVar(&c.API.Addr, "api-addr", "127.0.0.1:8080", "REST API listen address")
		fs.StringVar(&c.API.PublicURL, "public-url", "http://127.0.0.1:8080", "URL browsers use to reach the API (consent redirect)")
		fs.DurationVar(&c.API.ConsentTimeout, "consent-timeout", 72*time.Hour, "how long a connector's sign-in link stays valid")
		fs.StringVar(&c.API.OIDCIssuer, "oidc-issuer", "", "accept OIDC access tokens from this issuer (besides API keys)")
		fs.StringVar(&c.API.OIDCAudience, "oidc-audience", "", "audience the OIDC access tokens must carry")
		fs.DurationVar(&c.API.PurgeGrace, "purge-grace", 7*24*time.Hour, "how long a connector's purge waits before its snapshots are removed; an admin can cancel it meanwhile")
	}
	if role == RoleWorker || role == RoleAPI {
		fs.StringVar(&c.Graph.ClientID, "graph-client-id", "", "backup application (client) id")
		fs.StringVar(&c.Graph.ClientSecretFile, "graph-client-secret-file", "", "file holding the backup application's client secret")
		fs.StringVar(&c.Graph.CertFile, "graph-cert-file", "", "backup application's certificate (PEM)")
		fs.StringVar(&c.Graph.KeyFile, "graph-key-file", "", "backup application's private key (PEM)")
		fs.StringVar(&c.Graph.AuthorityHost, "graph-authority-host", "https://login.microsoftonline.com/", "Entra ID authority host")
		fs.StringVar(&c.Graph.GraphURL, "graph-url", "https://graph.microsoft.com/v1.0", "Microsoft Graph base URL")
		fs.StringVar(&c.Graph.CACertFile, "graph-ca-file", "", "extra CA certificate to trust for sign-in and Graph")
		fs.StringVar(&c.Restore.ClientID, "restore-client-id", "", "restore application (client) id; empty: restores write with the backup application")
		fs.StringVar(&c.Restore.ClientSecretFile, "restore-client-secret-file", "", "file holding the restore application's client secret")
		fs.StringVar(&c.Restore.CertFile, "restore-cert-file", "", "restore application's certificate (PEM)")
		fs.StringVar(&c.Restore.KeyFile, "restore-key-file", "", "restore application's private key (PEM)")
	}
	if role == RoleDev {
		fs.StringVar(&c.Dev.DataDir, "data", ".data", "folder for the Temporal database, snapshots, keys and logs")
		fs.IntVar(&c.Dev.TemporalPort, "temporal-port", 7233, "embedded Temporal gRPC port")
		fs.IntVar(&c.Dev.TemporalHTTPPort, "temporal-http-port", 7243, "embedded Temporal HTTP API port")
		fs.IntVar(&c.Dev.UIPort, "ui-port", 8233, "Temporal web UI port")
		fs.StringVar(&c.Dev.GraphAddr, "sim-graph-addr", "127.0.0.1:8090", "tenant simulator Graph listen address")
		fs.StringVar(&c.Dev.LoginAddr, "sim-login-addr", "127.0.0.1:8091", "tenant simulator sign-in (HTTPS) listen address")
		fs.Int64Var(&c.Dev.SimSeed, "sim-seed", 1, "tenant simulator seed")
		fs.IntVar(&c.Dev.SimUsers, "sim-users", 200, "tenant simulator user count")
		fs.IntVar(&c.Dev.SimTenants, "sim-tenants", 2, "tenants the simulator serves: the first with --sim-users users, the others nearly empty (targets for cross-tenant restores)")
		fs.BoolVar(&c.Dev.NoSimulator, "no-simulator", false, "do not start the tenant simulator")
	}
	return fs, c
}

// Load parses args and the environment for role and validates the result.
func Load(role Role, args []string) (*Config, error) {
	fs, c := FlagSet(role)
	if err := Parse(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Validate checks every setting of the role and reports all problems at once,
// each naming its flag.
func (c *Config) Validate() error {
	var errs []error
	bad := func(flagName, format string, a ...any) {
		errs = append(errs, fmt.Errorf("--%s (%s): %s", flagName, EnvName(flagName), fmt.Sprintf(format, a...)))
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log-format", "must be text or json, got %q", c.Log.Format)
	}
	switch strings.ToLower(c.Log.Level) {
	case "debug", "info", "warn", "error":
	default:
		bad("log-level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	if c.Temporal.Namespace == "" {
		bad("namespace", "must not be empty")
	}
	if c.Temporal.TaskQueue == "" {
		bad("task-queue", "must not be empty")
	}
	if c.Role == RoleAPI || c.Role == RoleWorker {
		if _, _, err := net.SplitHostPort(c.Temporal.Address); err != nil {
			bad("temporal-address", "must be host:port: %v", err)
		}
		if (c.Temporal.TLSCertFile == "") != (c.Temporal.TLSKeyFile == "") {
			bad("temporal-tls-cert", "--temporal-tls-cert and --temporal-tls-key go together")
		}
		for name, path := range map[string]string{
			"temporal-tls-cert": c.Temporal.TLSCertFile, "temporal-tls-key": c.Temporal.TLSKeyFile,
			"temporal-tls-ca": c.Temporal.TLSCAFile, "temporal-api-key-file": c.Temporal.APIKeyFile,
		} {
			if err := readable(path); err != nil {
				bad(name, "%v", err)
			}
		}
		checkURL(bad, "blob-url", c.Storage.BlobURL, "file", "mem", "s3", "azblob", "gs")
		checkURL(bad, "secrets-url", c.Storage.SecretsURL, "base64key", "azurekeyvault", "awskms", "gcpkms", "hashivault")
		if u, err := url.Parse(c.Storage.SecretsURL); err == nil && u.Scheme == "base64key" && u.Host == "" {
			// gocloud silently makes a new random key for an empty base64key://,
			// which would make every snapshot unreadable after a restart.
			bad("secrets-url", "base64key:// needs the key itself; an empty one would be a new random key on every start")
		}
	}
	if c.Role == RoleAPI || c.Role == RoleDev {
		if _, _, err := net.SplitHostPort(c.API.Addr); err != nil {
			bad("api-addr", "must be host:port: %v", err)
		}
	}
	if c.Role == RoleAPI || c.Role == RoleDev {
		checkURL(bad, "public-url", c.API.PublicURL, "http", "https")
		if c.API.ConsentTimeout < time.Minute {
			bad("consent-timeout", "at least 1m")
		}
		if (c.API.OIDCIssuer == "") != (c.API.OIDCAudience == "") {
			bad("oidc-issuer", "--oidc-issuer and --oidc-audience go together")
		}
		if c.API.PurgeGrace < 0 {
			bad("purge-grace", "must not be negative")
		}
	}
	if c.Role == RoleAPI && c.Graph.ClientSecretFile == "" {
		bad("graph-client-secret-file", "required: the API exchanges the administrator's sign-in code")
	}
	if c.Role == RoleWorker || c.Role == RoleAPI {
		if c.Graph.ClientID == "" {
			bad("graph-client-id", "required")
		}
		if (c.Graph.ClientSecretFile == "") == (c.Graph.CertFile == "") {
			bad("graph-client-secret-file", "give exactly one of --graph-client-secret-file or --graph-cert-file")
		}
		if (c.Graph.CertFile == "") != (c.Graph.KeyFile == "") {
			bad("graph-cert-file", "--graph-cert-file and --graph-key-file go together")
		}
		for name, path := range map[string]string{
			"graph-client-secret-file": c.Graph.ClientSecretFile, "graph-cert-file": c.Graph.CertFile,
			"graph-key-file": c.Graph.KeyFile, "graph-ca-file": c.Graph.CACertFile,
		} {
			if err := readable(path); err != nil {
				bad(name, "%v", err)
			}
		}
		if c.Restore.ClientID != "" && c.Role == RoleWorker && (c.Restore.ClientSecretFile == "") == (c.Restore.CertFile == "") {
			bad("restore-client-secret-file", "with --restore-client-id, give exactly one of --restore-client-secret-file or --restore-cert-file")
		}
		if (c.Restore.CertFile == "") != (c.Restore.KeyFile == "") {
			bad("restore-cert-file", "--restore-cert-file and --restore-key-file go together")
		}
		for name, path := range map[string]string{
			"restore-client-secret-file": c.Restore.ClientSecretFile, "restore-cert-file": c.Restore.CertFile, "restore-key-file": c.Restore.KeyFile,
		} {
			if err := readable(path); err != nil {
				bad(name, "%v", err)
			}
		}
		checkURL(bad, "graph-authority-host", c.Graph.AuthorityHost, "https")
		checkURL(bad, "graph-url", c.Graph.GraphURL, "https", "http")
	}
	if c.Role == RoleDev {
		if c.Dev.DataDir == "" {
			bad("data", "must not be empty")
		}
		for name, p := range map[string]int{"temporal-port": c.Dev.TemporalPort, "temporal-http-port": c.Dev.TemporalHTTPPort, "ui-port": c.Dev.UIPort} {
			if p <= 0 || p > 65535 {
				bad(name, "must be a port number, got %d", p)
			}
		}
		if c.Dev.SimUsers < 1 {
			bad("sim-users", "must be at least 1")
		}
		if c.Dev.SimTenants < 1 || c.Dev.SimTenants > 20 {
			bad("sim-tenants", "must be between 1 and 20, got %d", c.Dev.SimTenants)
		}
	}
	return errors.Join(errs...)
}

func checkURL(bad func(string, string, ...any), name, raw string, schemes ...string) {
	if raw == "" {
		bad(name, "required")
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		bad(name, "not a URL: %v", err)
		return
	}
	for _, s := range schemes {
		if u.Scheme == s {
			return
		}
	}
	bad(name, "scheme %q not supported (want one of %s)", u.Scheme, strings.Join(schemes, ", "))
}

func readable(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("cannot read %s: %w", filepath.Base(path), errors.Unwrap(err))
	}
	return f.Close()
}
