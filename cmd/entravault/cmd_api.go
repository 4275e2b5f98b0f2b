package main

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"time"

	"gocloud.dev/blob"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/config"
	"github.com/entravault/entravault/internal/logging"
	"github.com/entravault/entravault/internal/temporalconn"
	"github.com/entravault/entravault/internal/tenantsim/entra"
)

func cmdAPI(ctx context.Context, args []string) error {
	cfg, err := config.Load(config.RoleAPI, args)
	if err != nil {
		return err
	}
	logger := logging.New(cfg.Log, os.Stderr)
	secret, err := os.ReadFile(cfg.Graph.ClientSecretFile)
	if err != nil {
		return err
	}
	consent := api.ConsentConfig{
		AuthorityHost: cfg.Graph.AuthorityHost, ClientID: cfg.Graph.ClientID, ClientSecret: strings.TrimSpace(string(secret)),
		RedirectURL: strings.TrimSuffix(cfg.API.PublicURL, "/") + "/api/v1/consent/callback", Timeout: cfg.API.ConsentTimeout,
	}
	if cfg.Graph.CACertFile != "" {
		if consent.HTTPClient, err = entra.NewCAClient(cfg.Graph.CACertFile); err != nil {
			return err
		}
	}
	tc, err := temporalconn.Dial(cfg.Temporal, logger)
	if err != nil {
		return err
	}
	defer tc.Close()
	bucket, err := blob.OpenBucket(ctx, cfg.Storage.BlobURL)
	if err != nil {
		return err
	}
	defer bucket.Close()
	authn := &auth.Authenticator{Keys: auth.NewKeyStore(bucket)}
	if cfg.API.OIDCIssuer != "" {
		if authn.OIDC, err = auth.NewOIDCVerifier(ctx, auth.OIDCConfig{Issuer: cfg.API.OIDCIssuer, Audience: cfg.API.OIDCAudience, HTTPClient: consent.HTTPClient}); err != nil {
			return err
		}
	}
	srv := &http.Server{
		Addr: cfg.API.Addr,
		Handler: api.New(api.Deps{
			Temporal: tc, Namespace: cfg.Temporal.Namespace, TaskQueue: cfg.Temporal.TaskQueue,
			StorageCheck: func(ctx context.Context) error { _, err := bucket.IsAccessible(ctx); return err },
			Auth:         authn, Consent: consent, Logger: logger,
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	logger.Info("API listening", "addr", cfg.API.Addr)
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
	return nil
}
