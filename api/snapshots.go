package api

import "github.com/labstack/echo/v4"

// registerSnapshotRoutes adds the snapshot browsing endpoints (issue 7).
func registerSnapshotRoutes(g *echo.Group, h *handlers) {}
