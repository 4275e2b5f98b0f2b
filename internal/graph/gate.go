package graph

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// throttleGate makes a client wait out a throttle for all its requests:
// once Graph answers one request 429 (or 503) with Retry-After, no request
// of the client, from any goroutine, is sent before that time. Graph
// counts requests sent inside the window as early retries, and a restore
// or backup runs several requests at once.
type throttleGate struct {
	next http.RoundTripper

	mu        sync.Mutex
	notBefore time.Time
}

func (g *throttleGate) RoundTrip(req *http.Request) (*http.Response, error) {
	g.mu.Lock()
	wait := time.Until(g.notBefore)
	g.mu.Unlock()
	if wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-req.Context().Done():
			t.Stop()
			return nil, req.Context().Err()
		case <-t.C:
		}
	}
	resp, err := g.next.RoundTrip(req)
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d := RetryAfter(resp.Header.Get("Retry-After")); d > 0 {
			g.mu.Lock()
			if until := time.Now().Add(d); until.After(g.notBefore) {
				g.notBefore = until
			}
			g.mu.Unlock()
		}
	}
	return resp, err
}

// RetryAfter parses a Retry-After header: seconds (fractions rounded up) or an HTTP date.
func RetryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil && f >= 0 {
		return time.Duration(math.Ceil(f)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
