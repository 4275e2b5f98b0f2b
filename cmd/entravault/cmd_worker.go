package main

import (
	"context"
	"os"
	"strings"

	"github.com/entravault/entravault/internal/config"
	"github.com/entravault/entravault/internal/graph"
	"github.com/entravault/entravault/internal/logging"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/temporalconn"
	"github.com/entravault/entravault/worker"
)

func cmdWorker(ctx context.Context, args []string) error {
	cfg, err := config.Load(config.RoleWorker, args)
	if err != nil {
		return err
	}
	logger := logging.New(cfg.Log, os.Stderr)
	base := graph.Config{
		ClientID: cfg.Graph.ClientID, CertPath: cfg.Graph.CertFile, KeyPath: cfg.Graph.KeyFile,
		AuthorityHost: cfg.Graph.AuthorityHost, GraphURL: cfg.Graph.GraphURL, CACertPath: cfg.Graph.CACertFile,
	}
	if cfg.Graph.ClientSecretFile != "" {
		secret, err := os.ReadFile(cfg.Graph.ClientSecretFile)
		if err != nil {
			return err
		}
		base.ClientSecret = strings.TrimSpace(string(secret))
	}
	repo, err := repository.Open(ctx, repository.Config{BlobURL: cfg.Storage.BlobURL, SecretsURL: cfg.Storage.SecretsURL})
	if err != nil {
		return err
	}
	defer repo.Close()
	tc, err := temporalconn.Dial(cfg.Temporal, logger)
	if err != nil {
		return err
	}
	defer tc.Close()
	w := worker.New(tc, worker.Options{TaskQueue: cfg.Temporal.TaskQueue, Logger: logger,
		Register: []func(r worker.Registry){worker.Product(worker.Deps{Graph: &worker.GraphFactory{Base: base}, Repo: repo})}})
	if err := w.Start(); err != nil {
		return err
	}
	logger.Info("worker polling", "task_queue", cfg.Temporal.TaskQueue, "namespace", cfg.Temporal.Namespace)
	<-ctx.Done()
	w.Stop()
	return nil
}
