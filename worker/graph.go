package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/graph"
)

// GraphFactory opens Graph clients per tenant with the deployment's backup
// application credentials and caches them (each caches its token).
type GraphFactory struct {
	Base graph.Config // everything but TenantID
	// PageSize is asked of Graph (Prefer: odata.maxpagesize) where $top
	// cannot be used, i.e. delta queries; 0 means 999, Graph's maximum.
	// Tests lower it to get many pages from a small tenant.
	PageSize int

	mu      sync.Mutex
	clients map[string]*graphAdapter
}

var (
	_ activities.GraphFactory = (*GraphFactory)(nil)
	_ activities.GraphWriter  = (*graphAdapter)(nil)
)

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
	size := f.PageSize
	if size <= 0 {
		size = 999
	}
	g := &graphAdapter{c: c, headers: map[string]string{"Prefer": "odata.maxpagesize=" + strconv.Itoa(size)}}
	f.clients[tenantID] = g
	return g, nil
}

// graphAdapter maps SDK and identity errors onto the activities' own
// error vocabulary, so activities need not link the SDK.
type graphAdapter struct {
	c *graph.Client
	// headers carry Prefer: odata.maxpagesize: delta pages default to 100
	// items, and ten times fewer round trips matter on a full read.
	headers map[string]string
}

func (g *graphAdapter) GetRaw(ctx context.Context, url string) ([]byte, error) {
	if st := activities.CallStatsFrom(ctx); st != nil {
		o := &attempts{}
		b, err := g.c.GetRawWithHeaders(graph.WithObserver(ctx, o), url, g.headers)
		st.Add(o.n, o.throttled, o.waited)
		return b, mapError(err)
	}
	b, err := g.c.GetRawWithHeaders(ctx, url, g.headers)
	return b, mapError(err)
}

// attempts observes the HTTP attempts of one call: the SDK retries a
// throttled attempt after Retry-After, so the gap between a throttled
// response and the next attempt is time spent waiting. One call's attempts
// are sequential.
type attempts struct {
	n, throttled int
	waited       time.Duration
	lastThrottle time.Time
}

func (a *attempts) Attempt(*http.Request) {
	a.n++
	if !a.lastThrottle.IsZero() {
		a.waited += time.Since(a.lastThrottle)
		a.lastThrottle = time.Time{}
	}
}

func (a *attempts) Response(resp *http.Response) {
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		a.throttled++
		a.lastThrottle = time.Now()
	}
}

func (g *graphAdapter) Send(ctx context.Context, method, url string, body any) ([]byte, error) {
	m, ok := httpMethods[method]
	if !ok {
		return nil, fmt.Errorf("graph: unsupported method %s", method)
	}
	var raw []byte
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			return nil, err
		}
	}
	b, err := g.c.SendRaw(ctx, m, url, raw, nil)
	return b, mapError(err)
}

var httpMethods = map[string]abs.HttpMethod{
	http.MethodGet: abs.GET, http.MethodPost: abs.POST, http.MethodPatch: abs.PATCH, http.MethodPut: abs.PUT, http.MethodDelete: abs.DELETE,
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
			if ra := oe.ResponseHeaders.Get("Retry-After"); len(ra) > 0 {
				ge.RetryAfter = graph.RetryAfter(ra[0])
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
