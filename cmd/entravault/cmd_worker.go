package main

import (
	"context"
	"os"

	"github.com/entravault/entravault/internal/config"
	"github.com/entravault/entravault/internal/logging"
	"github.com/entravault/entravault/internal/wiring"
)

func cmdWorker(ctx context.Context, args []string) error {
	cfg, err := config.Load(config.RoleWorker, args)
	if err != nil {
		return err
	}
	return wiring.RunWorker(ctx, cfg, logging.New(cfg.Log, os.Stderr))
}
