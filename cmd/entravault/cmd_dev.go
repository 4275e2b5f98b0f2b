package main

import (
	"context"
	"fmt"
	"os"

	"github.com/entravault/entravault/internal/config"
	"github.com/entravault/entravault/internal/devstack"
	"github.com/entravault/entravault/internal/logging"
)

func cmdDev(ctx context.Context, args []string) error {
	cfg, err := config.Load(config.RoleDev, args)
	if err != nil {
		return err
	}
	logger := logging.New(cfg.Log, os.Stderr)
	stack, err := devstack.Start(ctx, cfg, logger, devstack.Options{})
	if err != nil {
		return err
	}
	u := stack.URLs()
	fmt.Printf(`Entravault dev stack is running (data in %s).
  REST API            %s   (admin API key in %s/%s)
  Temporal UI         %s
  Temporal gRPC       %s
  Temporal HTTP       %s
  Simulated Graph     %s
  Simulated sign-in   %s   (demo accounts in %s/tenant/tenant.json)
Temporal server logs go to %s/logs/temporal.log. Press Ctrl-C to stop.
`, cfg.Dev.DataDir, u.API, cfg.Dev.DataDir, devstack.AdminKeyFile, u.TemporalUI, u.TemporalGRPC, u.TemporalHTTP,
		orNone(u.Graph), orNone(u.SignIn), cfg.Dev.DataDir, cfg.Dev.DataDir)
	<-ctx.Done()
	logger.Info("shutting down")
	stack.Stop(context.Background())
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(not started)"
	}
	return s
}
