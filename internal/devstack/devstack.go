// Package devstack is `entravault dev`: a real Temporal server with its web
// UI, the worker, the REST API, local snapshot storage and the simulated
// tenant, all in one process and one data folder. A restart on the same
// folder keeps every workflow, snapshot and key.
package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/config"
	"github.com/entravault/entravault/internal/devserver"
	"github.com/entravault/entravault/internal/graph"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/temporalconn"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/internal/wiring"
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
	storage  *wiring.Storage
	client   client.Client
	worker   sdkworker.Worker
	stopAPI  context.CancelFunc
	apiDone  chan struct{}
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
// already started. The worker and the API are built by package wiring,
// exactly as the worker and api roles build them.
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
	local, err := repository.LocalURLs(dir)
	if err != nil {
		return nil, fmt.Errorf("snapshot repository: %w", err)
	}
	if s.storage, err = wiring.OpenStorage(ctx, local); err != nil {
		return nil, err
	}
	var graphCfg, restoreCfg *graph.Config
	if !cfg.Dev.NoSimulator {
		if graphCfg, restoreCfg, err = s.startSimulator(opts); err != nil {
			return nil, err
		}
	}
	tc := cfg.Temporal
	tc.Address = s.temporal.HostPort()
	if s.client, err = temporalconn.Dial(tc, logger); err != nil {
		return nil, err
	}
	s.worker = wiring.NewWorker(s.client, cfg.Temporal, graphCfg, restoreCfg, s.storage.Repo, logger, opts.Register...)
	if err := s.worker.Start(); err != nil {
		return nil, fmt.Errorf("start worker: %w", err)
	}
	keys := auth.NewKeyStore(s.storage.Bucket, auth.WithRecordKey(s.storage.Repo.DeriveKey(auth.RecordKeyPurpose)))
	if s.adminKey, err = ensureAdminKey(ctx, keys, filepath.Join(dir, AdminKeyFile)); err != nil {
		return nil, err
	}
	return s, s.startAPI(ctx, graphCfg)
}

// startSimulator starts the simulated tenant, its state kept in the data
// folder, and returns the backup and restore applications' registrations.
func (s *Stack) startSimulator(opts Options) (backup, restore *graph.Config, err error) {
	cfg := s.cfg
	simOpts := tenantsim.Options{Seed: cfg.Dev.SimSeed, Users: cfg.Dev.SimUsers, Premium: true, LogsPerDay: 50,
		Tenants: cfg.Dev.SimTenants, OtherTenantUsers: 20}
	if opts.Simulator != nil {
		simOpts = *opts.Simulator
	}
	simOpts.DataDir = filepath.Join(cfg.Dev.DataDir, "tenant")
	// Consents, churn and delta state survive a restart or a kill.
	simOpts.StateFile = filepath.Join(simOpts.DataDir, "state.json")
	simOpts.GraphAddr, simOpts.LoginAddr = cfg.Dev.GraphAddr, cfg.Dev.LoginAddr
	// Like a real tenant: nothing is granted until an admin consents.
	simOpts.ConsentRequired = true
	simOpts.Logger = s.log.With("component", "tenantsim")
	if s.sim, err = tenantsim.New(simOpts); err != nil {
		return nil, nil, fmt.Errorf("tenant simulator: %w", err)
	}
	if err := s.sim.Start(); err != nil {
		return nil, nil, fmt.Errorf("tenant simulator: %w", err)
	}
	creds := s.sim.Credentials()
	// The worker gets the applications' credentials from deployment
	// config, as a production worker does; never from workflow input.
	backup = &graph.Config{
		ClientID: creds.BackupApp.ClientID, ClientSecret: creds.BackupApp.ClientSecret,
		AuthorityHost: creds.AuthorityHost, GraphURL: creds.GraphURL, CACertPath: creds.CACertPath,
	}
	if creds.RestoreApp.ClientID == "" {
		return backup, nil, nil
	}
	r := *backup
	r.ClientID, r.ClientSecret = creds.RestoreApp.ClientID, creds.RestoreApp.ClientSecret
	return backup, &r, nil
}

// startAPI serves the REST API in the background until Stop.
func (s *Stack) startAPI(ctx context.Context, graphCfg *graph.Config) error {
	parts := wiring.APIParts{Config: s.cfg, Temporal: s.client, Storage: s.storage, Logger: s.log}
	if graphCfg != nil {
		parts.Graph = *graphCfg
		parts.HTTPClient = s.sim.HTTPClient()
		// By default the simulated tenant's accounts sign in to the API
		// with the app roles tenant.json lists, as Entra ID does in
		// production.
		creds := s.sim.Credentials()
		parts.OIDCIssuer, parts.OIDCAudience = creds.APIIssuer, creds.APIApp.ClientID
		parts.RestoreClientID = creds.RestoreApp.ClientID
		// The console signs the demo accounts in as the CLI app does.
		parts.Console.ClientID = creds.CLIApp.ClientID
		parts.Console.Scope = "openid profile api://" + creds.APIApp.ClientID + "/" + tenantsim.APIScope
	}
	parts.Console.TemporalUIURL = s.temporal.UIURL()
	h, err := wiring.NewAPI(ctx, parts)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.API.Addr)
	if err != nil {
		return fmt.Errorf("API listener on %s: %w", s.cfg.API.Addr, err)
	}
	s.apiURL = "http://" + ln.Addr().String()
	sctx, cancel := context.WithCancel(context.Background())
	s.stopAPI, s.apiDone = cancel, make(chan struct{})
	go func() {
		defer close(s.apiDone)
		if err := wiring.Serve(sctx, ln, h, s.log); err != nil {
			s.log.Error("API server stopped", "error", err)
		}
	}()
	return nil
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
func (s *Stack) Repository() *repository.Repository { return s.storage.Repo }

// AdminKey is the dev admin API key.
func (s *Stack) AdminKey() string { return s.adminKey }

// Stop shuts down in reverse order: API and worker first, so no new work
// starts, Temporal server last.
func (s *Stack) Stop(ctx context.Context) {
	if s.stopAPI != nil {
		s.stopAPI()
		<-s.apiDone
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
	if s.storage != nil {
		_ = s.storage.Close()
	}
	if s.temporal != nil {
		if err := s.temporal.Stop(); err != nil {
			s.log.Warn("Temporal server stop", "error", err)
		}
	}
}
