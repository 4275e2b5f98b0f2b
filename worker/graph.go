package worker

import (
	"context"
	"errors"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/graph"
)

// GraphFactory opens Graph clients per tenant with the deployment's backup
// application credentials and caches them (each caches its token).
type GraphFactory struct {
	Base graph.Config // everything but TenantID

	mu      sync.Mutex
	clients map[string]*graphAdapter
}

var _ activities.GraphFactory = (*GraphFactory)(nil)

// ForTenant implements activities.GraphFactory.
func (f *GraphFactory) ForTenant(ctx context.Context, tenantID string) (activities.Graph, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if g, ok := f.clients[tenantID]; ok {
		return g, nil
	}
	return f.open(ctx, tenantID)
}

// Renew implements activities.GraphFactory.
func (f *GraphFactory) Renew(ctx context.Context, tenantID string) (activities.Graph, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open(ctx, tenantID)
}

func (f *GraphFactory) open(ctx context.Context, tenantID string) (*graphAdapter, error) {
	cfg := f.Base
	cfg.TenantID = tenantID
	c, err := graph.NewClient(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if f.clients == nil {
		f.clients = map[string]*graphAdapter{}
	}
	g := &graphAdapter{c: c}
	f.clients[tenantID] = g
	return g, nil
}

// graphAdapter maps SDK and identity errors onto the activities' own
// error vocabulary, so activities need not link the SDK.
type graphAdapter struct{ c *graph.Client }

func (g *graphAdapter) GetRaw(ctx context.Context, url string) ([]byte, error) {
	b, err := g.c.GetRaw(ctx, url)
	return b, mapError(err)
}

func (g *graphAdapter) AppRoles(ctx context.Context) ([]string, error) {
	roles, err := g.c.AppRoles(ctx)
	return roles, mapError(err)
}

func mapError(err error) error {
	if err == nil {
		return nil
	}
	var oe *odataerrors.ODataError
	if errors.As(err, &oe) {
		ge := &activities.GraphError{Status: oe.ResponseStatusCode}
		if e := oe.GetErrorEscaped(); e != nil {
			if c := e.GetCode(); c != nil {
				ge.Code = *c
			}
			if m := e.GetMessage(); m != nil {
				ge.Message = *m
			}
		}
		if oe.ResponseHeaders != nil {
			if loc := oe.ResponseHeaders.Get("Location"); len(loc) > 0 {
				ge.Location = loc[0]
			}
		}
		return ge
	}
	var afe *azidentity.AuthenticationFailedError
	if errors.As(err, &afe) {
		return &activities.TokenError{Err: err}
	}
	return err
}
