package activities

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// Graph is what activities need from Microsoft Graph for one tenant. The
// worker implements it over msgraph-sdk-go, keeping the SDK's retry,
// Retry-After and compression middleware.
type Graph interface {
	// GetRaw returns the exact response body of a GET. url is absolute (a
	// nextLink or deltaLink followed verbatim) or relative to the Graph base
	// URL ("/users?$top=999"). Failures are *GraphError.
	GetRaw(ctx context.Context, url string) ([]byte, error)
	// AppRoles lists the application permissions in the app's access token
	// for this tenant: what the tenant has actually granted.
	AppRoles(ctx context.Context) ([]string, error)
}

// GraphWriter is the write side restore uses; the worker's Graph
// implements it too.
type GraphWriter interface {
	Graph
	// Send sends method to url (relative to the Graph base URL) with body
	// marshalled as JSON (nil: none) and returns the response body.
	// Failures are *GraphError.
	Send(ctx context.Context, method, url string, body any) ([]byte, error)
}

// GraphFactory opens a Graph for a tenant with the deployment's backup
// application credentials, which never pass through workflow inputs.
type GraphFactory interface {
	// ForTenant may return a cached client (and its cached token).
	ForTenant(ctx context.Context, tenantID string) (Graph, error)
	// Renew opens a new client with a new token, so permissions granted
	// since the last token are seen; later ForTenant calls get it too.
	Renew(ctx context.Context, tenantID string) (Graph, error)
}

// GraphError is a failed Graph call, as Graph described it.
type GraphError struct {
	Status   int
	Code     string // error.code, e.g. Request_ResourceNotFound
	Message  string
	Location string // the Location header of a 410 delta reset
	// RetryAfter is the Retry-After of a 429/503 the SDK gave up on; the
	// next attempt must not come sooner.
	RetryAfter time.Duration
}

func (e *GraphError) Error() string {
	return fmt.Sprintf("graph: %d %s: %s", e.Status, e.Code, e.Message)
}

// GraphStatus returns the HTTP status of a Graph failure, or 0.
func GraphStatus(err error) int {
	var ge *GraphError
	if errors.As(err, &ge) {
		return ge.Status
	}
	return 0
}

// IsDeltaExpired tells the two ways Graph says a delta token is no longer
// usable: 400 syncStateNotFound (or resyncRequired) and 410 Gone.
func IsDeltaExpired(err error) bool {
	var ge *GraphError
	if !errors.As(err, &ge) {
		return false
	}
	switch {
	case ge.Status == 410:
		return true
	case ge.Status == 400 && (strings.EqualFold(ge.Code, "syncStateNotFound") || strings.EqualFold(ge.Code, "resyncRequired")):
		return true
	}
	return false
}

// TokenError is a failure to get an access token for the tenant: consent
// missing or revoked, a wrong secret, an unknown tenant. Retrying does not
// help until an administrator acts.
type TokenError struct{ Err error }

func (e *TokenError) Error() string { return "no access token for the tenant: " + e.Err.Error() }
func (e *TokenError) Unwrap() error { return e.Err }

// CallStats counts what Graph calls cost, including the attempts and waits
// the SDK's retry middleware hides. Graph implementations add to the
// CallStats of the call's context (WithCallStats); safe for concurrent use.
type CallStats struct {
	mu        sync.Mutex
	requests  int
	throttled int
	waited    time.Duration
}

// Add records attempts, throttled responses (429, 503, 504) and time spent
// waiting before retries.
func (s *CallStats) Add(requests, throttled int, waited time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests += requests
	s.throttled += throttled
	s.waited += waited
}

// Get returns the totals so far.
func (s *CallStats) Get() (requests, throttled int, waited time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests, s.throttled, s.waited
}

type callStatsKey struct{}

// WithCallStats returns a context whose Graph calls count into s.
func WithCallStats(ctx context.Context, s *CallStats) context.Context {
	return context.WithValue(ctx, callStatsKey{}, s)
}

// CallStatsFrom returns the CallStats of ctx, or nil.
func CallStatsFrom(ctx context.Context) *CallStats {
	s, _ := ctx.Value(callStatsKey{}).(*CallStats)
	return s
}
