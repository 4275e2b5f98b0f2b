package activities

import (
	"context"
	"strings"
	"sync"
	"time"
)

// conditionalAccess is where Graph allows one request per second per
// tenant, with 429s that carry no Retry-After: restore paces itself.
const conditionalAccess = "/identity/conditionalAccess"

// caInterval is Graph's spacing of conditional-access requests.
const caInterval = time.Second

// caGate lets one conditional-access request of a tenant through at a
// time, a full interval after the previous one's answer. Graph counts
// requests as they arrive: sends spaced by the interval alone would let
// network and scheduling jitter bring two into one second.
type caGate struct {
	turn chan struct{}
	last time.Time // guarded by turn
}

// do runs send in the tenant's conditional-access turn.
func (g *caGate) do(ctx context.Context, send func() ([]byte, error)) ([]byte, error) {
	select {
	case g.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-g.turn }()
	if d := time.Until(g.last.Add(caInterval)); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	defer func() { g.last = time.Now() }()
	return send()
}

// caGates hold one gate per tenant for every backup and restore of this
// worker process: Graph's limit is the tenant's, whichever app asks.
type caGates struct {
	mu sync.Mutex
	m  map[string]*caGate
}

var conditionalAccessTurns caGates

func (c *caGates) get(tenantID string) *caGate {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*caGate{}
	}
	g, ok := c.m[tenantID]
	if !ok {
		g = &caGate{turn: make(chan struct{}, 1)}
		c.m[tenantID] = g
	}
	return g
}

// inTurn runs send, in the tenant's conditional-access turn when url (a
// path or a nextLink) is a conditional-access one.
func inTurn(ctx context.Context, tenantID, url string, send func() ([]byte, error)) ([]byte, error) {
	if !strings.Contains(url, conditionalAccess) {
		return send()
	}
	return conditionalAccessTurns.get(tenantID).do(ctx, send)
}

// send sends one request of the apply.
func (r *applyRun) send(ctx context.Context, method, url string, body any) ([]byte, error) {
	return inTurn(ctx, r.in.TenantID, url, func() ([]byte, error) { return r.g.Send(ctx, method, url, body) })
}
