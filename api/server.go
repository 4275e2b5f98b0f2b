package api

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"go.temporal.io/sdk/client"

	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/repository"
)

// Deps are what the API needs, injected by cmd/entravault or tests.
type Deps struct {
	Temporal  client.Client
	Namespace string
	TaskQueue string
	// StorageCheck reports whether snapshot storage is reachable.
	StorageCheck func(ctx context.Context) error
	Auth         *auth.Authenticator
	// Repo serves snapshots; nil in a deployment that only manages connectors.
	Repo    *repository.Repository
	Consent ConsentConfig
	Logger  *slog.Logger
	Now     func() time.Time
	// PurgeGrace is how long a purge waits before it runs; admins can
	// cancel it meanwhile.
	PurgeGrace time.Duration
}

// MaxBodyBytes bounds request bodies; a connector config is a few KB.
const MaxBodyBytes = 256 << 10

// New returns the API's HTTP handler.
func New(d Deps) *echo.Echo {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = errorHandler(d.Logger)
	m := newMetrics()
	e.Use(middleware.Recover(), m.middleware, middleware.BodyLimit("256K"))
	h := &handlers{Deps: d, limits: newHeavyLimiter()}
	h.index = newConnectorIndex(h.loadConnectors, d.Now)

	e.GET("/healthz", h.healthz)
	e.GET("/readyz", h.readyz)
	e.GET("/metrics", echo.WrapHandler(m.handler()))

	v1 := e.Group("/api/v1")
	v1.GET("/openapi.json", serveOpenAPI)
	v1.GET("/consent/callback", h.consentCallback)
	v1.GET("/consent/restore-callback", h.restoreConsentCallback)
	authed := v1.Group("")
	if d.Auth != nil {
		authed.Use(d.Auth.Middleware())
	} else {
		authed.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				return echo.NewHTTPError(http.StatusServiceUnavailable, "authentication is not configured")
			}
		})
	}
	authed.GET("/me", h.me)
	authed.POST("/consent/sign-in", h.signIn)
	authed.POST("/consent/directory-search", h.directorySearch)
	authed.POST("/connectors", h.createConnector)
	authed.GET("/connectors", h.listConnectors)
	authed.GET("/connectors/:id", h.getConnector)
	authed.PATCH("/connectors/:id", h.patchConnector)
	authed.DELETE("/connectors/:id", h.deleteConnector)
	authed.POST("/connectors/:id/purge/cancel", h.cancelPurge)
	authed.POST("/connectors/:id/backups", h.runNow)
	authed.GET("/connectors/:id/runs", h.listRuns)
	authed.POST("/connectors/:id/verify", h.verify)
	authed.POST("/connectors/:id/consent", h.renewConsent)
	authed.POST("/connectors/:id/restore-consent", h.requestRestoreConsent)
	registerSnapshotRoutes(authed, h)
	registerRestoreRoutes(authed, h)
	return e
}

type handlers struct {
	Deps
	index  *connectorIndex
	limits *heavyLimiter // exports, searches, live diffs (heavy.go)
	// tenantIDs caches verified domain → tenant id (consent.go).
	tenantIDs sync.Map
}

// healthz says the process is up; it checks nothing else, so an orchestrator
// does not restart the API because Temporal is briefly away.
func (h *handlers) healthz(c echo.Context) error {
	return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
}

type readiness struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

// readyz checks that Temporal and storage answer.
func (h *handlers) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 3*time.Second)
	defer cancel()
	r := readiness{Status: "ready", Checks: map[string]string{}}
	check := func(name string, err error) {
		if err != nil {
			r.Status = "not ready"
			r.Checks[name] = err.Error()
			return
		}
		r.Checks[name] = "ok"
	}
	if h.Temporal == nil {
		check("temporal", errors.New("no client"))
	} else {
		_, err := h.Temporal.CheckHealth(ctx, &client.CheckHealthRequest{})
		check("temporal", err)
	}
	if h.StorageCheck == nil {
		check("storage", errors.New("not configured"))
	} else {
		check("storage", h.StorageCheck(ctx))
	}
	status := http.StatusOK
	if r.Status != "ready" {
		status = http.StatusServiceUnavailable
	}
	return c.JSON(status, r)
}
