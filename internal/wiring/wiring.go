// Package wiring builds the parts every role of entravault is made of:
// snapshot storage, the backup application's Graph credentials, the consent
// exchange, authentication, the API's HTTP server and the worker. `dev`,
// `api` and `worker` all build them here, so the roles cannot drift apart
// (the api role once served no snapshots because only dev opened the
// repository).
package wiring

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"gocloud.dev/blob"
	"golang.org/x/net/netutil"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/console"
	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/config"
	"github.com/entravault/entravault/internal/graph"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/temporalconn"
	"github.com/entravault/entravault/internal/tenantsim/entra"
	"github.com/entravault/entravault/worker"
)

// Storage is the snapshot repository and its bucket, opened once per
// process. The bucket also holds the API key records.
type Storage struct {
	Repo   *repository.Repository
	Bucket *blob.Bucket
}

// OpenStorage opens the repository at cfg, creating it on an empty bucket,
// and the same bucket for API keys.
func OpenStorage(ctx context.Context, cfg repository.Config) (*Storage, error) {
	repo, err := repository.OpenOrInit(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("snapshot repository: %w", err)
	}
	bucket, err := blob.OpenBucket(ctx, cfg.BlobURL)
	if err != nil {
		repo.Close()
		return nil, fmt.Errorf("snapshot storage: %w", err)
	}
	return &Storage{Repo: repo, Bucket: bucket}, nil
}

// StorageConfig is the repository named by the role's flags.
func StorageConfig(s config.Storage) repository.Config {
	return repository.Config{BlobURL: s.BlobURL, SecretsURL: s.SecretsURL}
}

// Check reports whether the bucket is reachable (readiness).
func (s *Storage) Check(ctx context.Context) error {
	_, err := s.Bucket.IsAccessible(ctx)
	return err
}

// Close releases the repository and the bucket.
func (s *Storage) Close() error {
	return errors.Join(s.Repo.Close(), s.Bucket.Close())
}

// GraphConfig is the backup application's registration from the role's
// flags; the secret is read from its file here, never passed in argv.
func GraphConfig(g config.Graph) (graph.Config, error) {
	c := graph.Config{
		ClientID: g.ClientID, CertPath: g.CertFile, KeyPath: g.KeyFile,
		AuthorityHost: g.AuthorityHost, GraphURL: g.GraphURL, CACertPath: g.CACertFile,
	}
	if g.ClientSecretFile != "" {
		secret, err := os.ReadFile(g.ClientSecretFile)
		if err != nil {
			return c, fmt.Errorf("graph client secret: %w", err)
		}
		c.ClientSecret = strings.TrimSpace(string(secret))
	}
	return c, nil
}

// RestoreGraphConfig is the restore application's registration: the backup
// application's endpoints with the restore application's credentials; nil
// when none is configured (restores then write with the backup one).
func RestoreGraphConfig(r config.RestoreApp, backup graph.Config) (*graph.Config, error) {
	if r.ClientID == "" {
		return nil, nil
	}
	c := backup
	c.ClientID, c.ClientSecret, c.CertPath, c.KeyPath = r.ClientID, "", r.CertFile, r.KeyFile
	if r.ClientSecretFile != "" {
		secret, err := os.ReadFile(r.ClientSecretFile)
		if err != nil {
			return nil, fmt.Errorf("restore client secret: %w", err)
		}
		c.ClientSecret = strings.TrimSpace(string(secret))
	}
	return &c, nil
}

// HTTPClient trusts the extra CA of g (the simulator's in dev), or is the
// default client.
func HTTPClient(g graph.Config) (*http.Client, error) {
	if g.CACertPath == "" {
		return nil, nil
	}
	return entra.NewCAClient(g.CACertPath)
}

// APIParts are what the API handler is built from.
type APIParts struct {
	Config   *config.Config
	Temporal client.Client
	Storage  *Storage
	// Graph is the backup application; the API uses it only to redeem the
	// administrator's sign-in code.
	Graph graph.Config
	// RestoreClientID is the restore application, for its consent link
	// ("" = restores use the backup application).
	RestoreClientID string
	HTTPClient      *http.Client // trusts the sign-in authority (and OIDC issuer)
	// OIDCIssuer and OIDCAudience override the flags (dev: the simulator).
	OIDCIssuer, OIDCAudience string
	Logger                   *slog.Logger
	// Console is how the web console signs people in and links runs.
	Console ConsoleParts
}

// ConsoleParts configure the web console served beside the API: its OIDC
// public client (empty: API-key sign-in only) and the Temporal web UI.
type ConsoleParts struct {
	ClientID, Scope string
	TemporalUIURL   string
}

// NewAPI builds the REST API's handler.
func NewAPI(ctx context.Context, p APIParts) (http.Handler, error) {
	cfg := p.Config
	consent := api.ConsentConfig{
		AuthorityHost: p.Graph.AuthorityHost, ClientID: p.Graph.ClientID, ClientSecret: p.Graph.ClientSecret,
		RedirectURL: strings.TrimSuffix(cfg.API.PublicURL, "/") + "/api/v1/consent/callback", Timeout: cfg.API.ConsentTimeout,
		HTTPClient: p.HTTPClient, RestoreClientID: p.RestoreClientID,
	}
	// Key records are MACed with a key only the repository's keeper can
	// give: write access to the bucket alone cannot mint a key.
	keys := auth.NewKeyStore(p.Storage.Bucket, auth.WithRecordKey(p.Storage.Repo.DeriveKey(auth.RecordKeyPurpose)))
	authn := &auth.Authenticator{Keys: keys}
	issuer, audience := cfg.API.OIDCIssuer, cfg.API.OIDCAudience
	if issuer == "" {
		issuer, audience = p.OIDCIssuer, p.OIDCAudience
	}
	if issuer != "" {
		var err error
		if authn.OIDC, err = auth.NewOIDCVerifier(ctx, auth.OIDCConfig{Issuer: issuer, Audience: audience, HTTPClient: p.HTTPClient}); err != nil {
			return nil, fmt.Errorf("OIDC issuer: %w", err)
		}
	}
	h := api.New(api.Deps{
		Temporal: p.Temporal, Namespace: cfg.Temporal.Namespace, TaskQueue: cfg.Temporal.TaskQueue,
		StorageCheck: p.Storage.Check, Auth: authn, Repo: p.Storage.Repo, Consent: consent, Logger: p.Logger,
		PurgeGrace: cfg.API.PurgeGrace,
	})
	return mountConsole(h, p, issuer)
}

// mountConsole serves the web console under / beside the API.
func mountConsole(h http.Handler, p APIParts, issuer string) (http.Handler, error) {
	cc := console.Config{API: h, SessionKey: p.Storage.Repo.DeriveKey("console/session"), PublicURL: p.Config.API.PublicURL,
		TemporalUIURL: p.Console.TemporalUIURL, Namespace: p.Config.Temporal.Namespace, Logger: p.Logger}
	if issuer != "" && p.Console.ClientID != "" {
		cc.OIDC = &console.OIDC{Issuer: issuer, ClientID: p.Console.ClientID, Scope: p.Console.Scope, HTTPClient: p.HTTPClient}
	}
	c, err := console.New(cc)
	if err != nil {
		return nil, err
	}
	return console.Mount(h, c), nil
}

// ServerLimits bound what one client can hold of the API server: slow or
// idle clients are cut off, and at most MaxConns connections are served at
// once (more wait in the listen backlog). Zero values take the defaults.
type ServerLimits struct {
	ReadHeaderTimeout time.Duration // default 10 s
	ReadTimeout       time.Duration // whole request, body included; default 30 s (bodies are at most 256 KiB)
	WriteTimeout      time.Duration // default 60 s; streaming handlers extend it as they write
	IdleTimeout       time.Duration // keep-alive connections; default 90 s
	MaxConns          int           // default 512
}

func (l ServerLimits) withDefaults() ServerLimits {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&l.ReadHeaderTimeout, 10*time.Second)
	def(&l.ReadTimeout, 30*time.Second)
	def(&l.WriteTimeout, time.Minute)
	def(&l.IdleTimeout, 90*time.Second)
	if l.MaxConns <= 0 {
		l.MaxConns = 512
	}
	return l
}

// Serve runs the API's HTTP server on ln until ctx ends, then shuts it down
// gracefully.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger) error {
	return ServeWithLimits(ctx, ln, h, logger, ServerLimits{})
}

// ServeWithLimits is Serve with explicit limits (tests shrink them).
func ServeWithLimits(ctx context.Context, ln net.Listener, h http.Handler, logger *slog.Logger, limits ServerLimits) error {
	l := limits.withDefaults()
	srv := &http.Server{Handler: h, ReadHeaderTimeout: l.ReadHeaderTimeout, ReadTimeout: l.ReadTimeout,
		WriteTimeout: l.WriteTimeout, IdleTimeout: l.IdleTimeout, MaxHeaderBytes: 64 << 10}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(netutil.LimitListener(ln, l.MaxConns)) }()
	logger.Info("API listening", "addr", ln.Addr().String(), "max_conns", l.MaxConns)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	<-errc
	return nil
}

// NewWorker builds the product's worker; extra registers test workflows.
// graphCfg nil registers only extra (a dev stack without a tenant);
// restoreCfg nil makes restores write with the backup application.
func NewWorker(tc client.Client, cfg config.Temporal, graphCfg, restoreCfg *graph.Config, repo *repository.Repository,
	logger *slog.Logger, extra ...func(sdkworker.Registry)) sdkworker.Worker {
	var register []func(sdkworker.Registry)
	if graphCfg != nil {
		deps := worker.Deps{Graph: &worker.GraphFactory{Base: *graphCfg}, Repo: repo}
		if restoreCfg != nil {
			deps.RestoreGraph = &worker.GraphFactory{Base: *restoreCfg}
		}
		register = append(register, worker.Product(deps))
	}
	return worker.New(tc, worker.Options{TaskQueue: cfg.TaskQueue, Logger: logger, Register: append(register, extra...)})
}

// RunAPI is the api role: it serves the REST API on ln against the
// Temporal cluster and storage of cfg until ctx ends.
func RunAPI(ctx context.Context, cfg *config.Config, ln net.Listener, logger *slog.Logger) error {
	graphCfg, err := GraphConfig(cfg.Graph)
	if err != nil {
		return err
	}
	httpClient, err := HTTPClient(graphCfg)
	if err != nil {
		return err
	}
	tc, err := temporalconn.DialWait(ctx, cfg.Temporal, logger)
	if err != nil {
		return err
	}
	defer tc.Close()
	storage, err := OpenStorage(ctx, StorageConfig(cfg.Storage))
	if err != nil {
		return err
	}
	defer storage.Close()
	h, err := NewAPI(ctx, APIParts{Config: cfg, Temporal: tc, Storage: storage, Graph: graphCfg, RestoreClientID: cfg.Restore.ClientID,
		HTTPClient: httpClient, Logger: logger, Console: ConsoleParts{ClientID: os.Getenv("ENTRAVAULT_CONSOLE_CLIENT_ID"),
			Scope: os.Getenv("ENTRAVAULT_CONSOLE_SCOPE"), TemporalUIURL: os.Getenv("ENTRAVAULT_TEMPORAL_UI_URL")}})
	if err != nil {
		return err
	}
	return Serve(ctx, ln, h, logger)
}

// RunWorker is the worker role: it polls the task queue of cfg until ctx
// ends.
func RunWorker(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	graphCfg, err := GraphConfig(cfg.Graph)
	if err != nil {
		return err
	}
	storage, err := OpenStorage(ctx, StorageConfig(cfg.Storage))
	if err != nil {
		return err
	}
	defer storage.Close()
	tc, err := temporalconn.DialWait(ctx, cfg.Temporal, logger)
	if err != nil {
		return err
	}
	defer tc.Close()
	restoreCfg, err := RestoreGraphConfig(cfg.Restore, graphCfg)
	if err != nil {
		return err
	}
	w := NewWorker(tc, cfg.Temporal, &graphCfg, restoreCfg, storage.Repo, logger)
	if err := w.Start(); err != nil {
		return err
	}
	logger.Info("worker polling", "task_queue", cfg.Temporal.TaskQueue, "namespace", cfg.Temporal.Namespace)
	<-ctx.Done()
	w.Stop()
	return nil
}
