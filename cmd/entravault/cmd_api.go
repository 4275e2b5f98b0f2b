package main

import (
	"context"
	"net"
	"os"

	"github.com/entravault/entravault/internal/config"
	"github.com/entravault/entravault/internal/logging"
	"github.com/entravault/entravault/internal/wiring"
)

func cmdAPI(ctx context.Context, args []string) error {
	cfg, err := config.Load(config.RoleAPI, args)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", cfg.API.Addr)
	if err != nil {
		return err
	}
	return wiring.RunAPI(ctx, cfg, ln, logging.New(cfg.Log, os.Stderr))
}
