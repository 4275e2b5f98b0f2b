// Package logging builds the process's slog logger from config.
package logging

import (
	"io"
	"log/slog"
	"strings"

	"github.com/entravault/entravault/internal/config"
)

// New returns a text or JSON slog logger writing to w at the configured level.
func New(c config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(strings.ToUpper(c.Level))) // validated by config
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
