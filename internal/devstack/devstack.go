// Package devstack is `entravault dev`: a real Temporal server with its web
// UI, the worker, the REST API, local snapshot storage and the simulated
// tenant, all in one process and one data folder. A restart on the same
// folder keeps every workflow, snapshot and key.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"gocloud.dev/blob"
	"gocloud.dev/blob/fileblob"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/config"
	"github.com/entravault/entravault/internal/devserver"
	"github.com/entravault/entravault/internal/graph"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/temporalconn"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/worker"
	"github.com/entravault/entravault/workflows"
)

// Options are extra hooks for tests.
type Options struct {
	// Register adds workflows or activities to the worker.
	Register []func(sdkworker.Registry)
	// Simulator overrides the simulated tenant's options (sizes, seed).
	Simulator *tenantsim.Options
}

// Stack is the running dev stack.
type Stack struct {
	cfg      *config.Config
	log      *slog.Logger
	temporal *devserver.Server
	sim      *tenantsim.Simulator
	repo     *repository.Repository
	client   client.Client
	worker   sdkworker.Worker
	bucket   *blob.Bucket
	http     *http.Server
	apiURL   string
	adminKey string
}

// URLs is what `entravault dev` prints.
type URLs struct {
	API, TemporalGRPC, TemporalHTTP, TemporalUI, Graph, SignIn string
}

// AdminKeyFile holds the dev stack's admin API key (0600), created on the
// first start.
const AdminKeyFile = "admin-api-key"

// Start brings the stack up in dependency order; on error it stops whatever
// already started.
func Start(ctx context.Context, cfg *config.Config, logger *slog.Logger, opts Options) (_ *Stack, err error) {
	s := &Stack{cfg: cfg, log: logger}
	defer func() {
		if err != nil {
			s.Stop(context.Background())
		}
	}()
	dir := cfg.Dev.DataDir
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}

	s.temporal, err = devserver.Start(devserver.Options{
		DatabaseFile:     filepath.Join(dir, "temporal.db"),
		GRPCPort:         cfg.Dev.TemporalPort,
		HTTPPort:         cfg.Dev.TemporalHTTPPort,
		UIPort:           cfg.Dev.UIPort,
		Namespace:        cfg.Temporal.Namespace,
		SearchAttributes: workflows.SearchAttributes(),
		LogFile:          filepath.Join(dir, "logs", "temporal.log"),
	})
	if err != nil {
		return nil, err
	}

	if s.repo, err = repository.OpenLocal(ctx, dir); err != nil {
		return nil, fmt.Errorf("snapshot repository: %w", err)
	}
	s.bucket, err = fileblob.OpenBucket(filepath.Join(dir, "blobs"), &fileblob.Options{CreateDir: true, NoTempDir: true, Metadata: fileblob.MetadataDontWrite})
	if err != nil {
		return nil, fmt.Errorf("snapshot storage: %w", err)
	}

	var graphFactory activities.GraphFactory
	consent := api.ConsentConfig{RedirectURL: strings.TrimSuffix(cfg.API.PublicURL, "/") + "/api/v1/consent/callback", Timeout: cfg.API.ConsentTimeout}
	if !cfg.Dev.NoSimulator {
		simOpts := tenantsim.Options{Seed: cfg.Dev.SimSeed, Users: cfg.Dev.SimUsers, Premium: true, LogsPerDay: 50}
		if opts.Simulator != nil {
			simOpts = *opts.Simulator
		}
		simOpts.DataDir = filepath.Join(dir, "tenant")
		simOpts.GraphAddr, simOpts.LoginAddr = cfg.Dev.GraphAddr, cfg.Dev.LoginAddr
		// Like a real tenant: nothing is granted until an admin consents.
		simOpts.ConsentRequired = true
		simOpts.Logger = logger.With("component", "tenantsim")
		if s.sim, err = tenantsim.New(simOpts); err != nil {
			return nil, fmt.Errorf("tenant simulator: %w", err)
		}
		if err := s.sim.Start(); err != nil {
			return nil, fmt.Errorf("tenant simulator: %w", err)
		}
		creds := s.sim.Credentials()
		// The worker gets the backup app's credentials from deployment
		// config, as a production worker does; never from workflow input.
		graphFactory = &worker.GraphFactory{Base: graph.Config{
			ClientID: creds.BackupApp.ClientID, ClientSecret: creds.BackupApp.ClientSecret,
			AuthorityHost: creds.AuthorityHost, GraphURL: creds.GraphURL, CACertPath: creds.CACertPath,
		}}
		consent.AuthorityHost, consent.ClientID, consent.ClientSecret = creds.AuthorityHost, creds.BackupApp.ClientID, creds.BackupApp.ClientSecret
		consent.HTTPClient = s.sim.HTTPClient()
	}

	tc := cfg.Temporal
	tc.Address = s.temporal.HostPort()
	if s.client, err = temporalconn.Dial(tc, logger); err != nil {
		return nil, err
	}

	register := opts.Register
	if graphFactory != nil {
		register = append([]func(sdkworker.Registry){worker.Product(worker.Deps{Graph: graphFactory, Repo: s.repo})}, register...)
	}
	s.worker = worker.New(s.client, worker.Options{TaskQueue: cfg.Temporal.TaskQueue, Logger: logger, Register: register})
	if err := s.worker.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}

	keys := auth.NewKeyStore(s.bucket)
	if s.adminKey, err = ensureAdminKey(ctx, keys, filepath.Join(dir, AdminKeyFile)); err != nil {
		return nil, err
	}
	authn := &auth.Authenticator{Keys: keys}
	oc := auth.OIDCConfig{Issuer: cfg.API.OIDCIssuer, Audience: cfg.API.OIDCAudience}
	if s.sim != nil {
		oc.HTTPClient = s.sim.HTTPClient() // the simulator's sign-in may be the issuer
		if oc.Issuer == "" {
			// By default the simulated tenant's accounts sign in to the API
			// with the app roles tenant.json lists, as Entra ID does in
			// production.
			creds := s.sim.Credentials()
			oc.Issuer, oc.Audience = creds.APIIssuer, creds.APIApp.ClientID
		}
	}
	if oc.Issuer != "" {
		if authn.OIDC, err = auth.NewOIDCVerifier(ctx, oc); err != nil {
			return nil, fmt.Errorf("OIDC issuer: %w", err)
		}
	}
	handler := api.New(api.Deps{
		Temporal:  s.client,
		Namespace: cfg.Temporal.Namespace,
		TaskQueue: cfg.Temporal.TaskQueue,
		StorageCheck: func(ctx context.Context) error {
			_, err := s.bucket.IsAccessible(ctx)
			return err
		},
		Auth:    authn,
		Repo:    s.repo,
		Consent: consent,
		Logger:  logger,
	})
	ln, err := net.Listen("tcp", cfg.API.Addr)
	if err != nil {
		return nil, fmt.Errorf("API listener on %s: %w", cfg.API.Addr, err)
	}
	s.apiURL = "http://" + ln.Addr().String()
	s.http = &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("API server stopped", "error", err)
		}
	}()
	return s, nil
}

// ensureAdminKey creates the dev admin API key once and keeps its token in
// a 0600 file, so `make run` always prints a working key.
func ensureAdminKey(ctx context.Context, keys *auth.KeyStore, path string) (string, error) {
	if b, err := os.ReadFile(path); err == nil {
		tok := strings.TrimSpace(string(b))
		if _, err := keys.Authenticate(ctx, tok); err == nil {
			return tok, nil
		}
	}
	tok, _, err := keys.Create(ctx, fmt.Sprintf("dev-admin-%d", time.Now().Unix()), auth.RoleAdmin)
	if err != nil {
		return "", fmt.Errorf("create the dev admin API key: %w", err)
	}
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", err
	}
	return tok, nil
}

// URLs of the running services.
func (s *Stack) URLs() URLs {
	u := URLs{
		API:          s.apiURL,
		TemporalGRPC: s.temporal.HostPort(),
		TemporalHTTP: s.temporal.HTTPURL(),
		TemporalUI:   s.temporal.UIURL(),
	}
	if s.sim != nil {
		u.Graph, u.SignIn = s.sim.GraphURL(), s.sim.AuthorityHost()
	}
	return u
}

// Client is the stack's Temporal client.
func (s *Stack) Client() client.Client { return s.client }

// Simulator is the simulated tenant, nil with --no-simulator.
func (s *Stack) Simulator() *tenantsim.Simulator { return s.sim }

// Repository is the snapshot repository.
func (s *Stack) Repository() *repository.Repository { return s.repo }

// AdminKey is the dev admin API key.
func (s *Stack) AdminKey() string { return s.adminKey }

// Stop shuts down in reverse order: API and worker first, so no new work
// starts, Temporal server last.
func (s *Stack) Stop(ctx context.Context) {
	if s.http != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = s.http.Shutdown(sctx)
		cancel()
	}
	if s.worker != nil {
		s.worker.Stop()
	}
	if s.client != nil {
		s.client.Close()
	}
	if s.sim != nil {
		_ = s.sim.Close()
	}
	if s.repo != nil {
		_ = s.repo.Close()
	}
	if s.bucket != nil {
		_ = s.bucket.Close()
	}
	if s.temporal != nil {
		if err := s.temporal.Stop(); err != nil {
			s.log.Warn("Temporal server stop", "error", err)
		}
	}
}
