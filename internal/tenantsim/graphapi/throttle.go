package graphapi

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"time"
)

// ThrottleConfig sets the throttling limits (graph.md §4). Zero values take
// the documented defaults; numbers are "subject to change" on Graph, hence
// configurable.
type ThrottleConfig struct {
	Disabled bool
	// Window of the identity and reports budgets; default 10 s.
	Window time.Duration
	// IdentityRU per Window per app+tenant; default by tenant size:
	// 3,500 (<50 users), 5,000 (50-500), 8,000 (>500).
	IdentityRU int
	// ReportsPerWindow is the sign-in/audit log request budget; default 5.
	ReportsPerWindow int
	// Writes per WriteWindow per app+tenant on identity resources; default
	// 3,000 per 2 min 30 s.
	Writes      int
	WriteWindow time.Duration
	// CAInterval is the minimum spacing of conditional-access requests per
	// tenant (all apps together); default 1 s. Its 429s carry no Retry-After.
	CAInterval time.Duration
}

type classKind uint8

const (
	classIdentity classKind = iota
	classReports
	classCA
)

type throttleClass struct {
	kind  classKind
	cost  int
	write bool
}

var (
	identity          = throttleClass{kind: classIdentity}
	reports           = throttleClass{kind: classReports}
	conditionalAccess = throttleClass{kind: classCA}
)

// bucket is a token bucket refilled continuously at capacity per window.
type bucket struct {
	tokens float64
	last   time.Time
}

type throttler struct {
	cfg ThrottleConfig
	now func() time.Time
	mu  sync.Mutex
	// buckets by "class/appID"; the CA bucket is per tenant ("ca").
	buckets map[string]*bucket
	// notBefore holds the Retry-After deadline we gave each app+class, to
	// count early retries.
	notBefore map[string]time.Time
	// retryNotBefore is the same deadline by client-request-id, to tell a
	// retry from another request (early).
	retryNotBefore map[string]time.Time
}

func newThrottler(cfg ThrottleConfig, users int, now func() time.Time) *throttler {
	if cfg.Window <= 0 {
		cfg.Window = 10 * time.Second
	}
	if cfg.IdentityRU <= 0 {
		switch {
		case users < 50:
			cfg.IdentityRU = 3500
		case users <= 500:
			cfg.IdentityRU = 5000
		default:
			cfg.IdentityRU = 8000
		}
	}
	if cfg.ReportsPerWindow <= 0 {
		cfg.ReportsPerWindow = 5
	}
	if cfg.Writes <= 0 {
		cfg.Writes = 3000
	}
	if cfg.WriteWindow <= 0 {
		cfg.WriteWindow = 150 * time.Second
	}
	if cfg.CAInterval <= 0 {
		cfg.CAInterval = time.Second
	}
	return &throttler{cfg: cfg, now: now, buckets: map[string]*bucket{}, notBefore: map[string]time.Time{}, retryNotBefore: map[string]time.Time{}}
}

// take spends cost from the bucket named key (capacity per window) and
// returns how long until it could have, or 0 on success.
func (t *throttler) take(key string, capacity float64, window time.Duration, cost float64) time.Duration {
	now := t.now()
	b := t.buckets[key]
	if b == nil {
		b = &bucket{tokens: capacity, last: now}
		t.buckets[key] = b
	}
	rate := capacity / window.Seconds()
	b.tokens = math.Min(capacity, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens >= cost {
		b.tokens -= cost
		return 0
	}
	return time.Duration((cost - b.tokens) / rate * float64(time.Second))
}

// ruCost applies the documented adjustments: $select -1, $expand +1,
// $top < 20 -1, never below 1.
func ruCost(c *reqCtx, base int) int {
	v := c.r.URL.Query()
	if _, ok := param(v, "select"); ok {
		base--
	}
	if _, ok := param(v, "expand"); ok {
		base++
	}
	if s, ok := param(v, "top"); ok {
		if n, err := strconv.Atoi(s); err == nil && n < 20 {
			base--
		}
	}
	return max(base, 1)
}

// early reports a retry sent before the Retry-After it was given. A retry
// is the same request again (the SDK keeps its client-request-id); other
// requests in flight when the 429 was sent could not know of it. Without
// the header, any request of the app inside the window counts.
func (t *throttler) early(c *reqCtx, key string) bool {
	now := t.now()
	if id := c.r.Header.Get("client-request-id"); id != "" {
		nb, ok := t.retryNotBefore[id]
		if ok && !now.Before(nb) {
			delete(t.retryNotBefore, id)
		}
		return ok && now.Before(nb)
	}
	nb, ok := t.notBefore[key]
	return ok && now.Before(nb)
}

func throttleKey(c *reqCtx, class throttleClass) string {
	return fmt.Sprintf("%d/%s", class.kind, c.caller.AppID)
}

// remember records the time before which a retry of c is early (the
// Retry-After it was given), for early. The caller holds t.mu.
func (t *throttler) remember(c *reqCtx, key string, notBefore time.Time) {
	t.notBefore[key] = notBefore
	if id := c.r.Header.Get("client-request-id"); id != "" {
		if len(t.retryNotBefore) > 10_000 { // requests never retried
			for k, nb := range t.retryNotBefore {
				if !t.now().Before(nb) {
					delete(t.retryNotBefore, k)
				}
			}
		}
		t.retryNotBefore[id] = t.notBefore[key]
	}
}

// rememberFault records the Retry-After of an injected 429 or 503, so a
// retry sent before it counts as early too.
func (t *throttler) rememberFault(c *reqCtx, class throttleClass, e *graphError) {
	secs, err := strconv.Atoi(e.header["Retry-After"])
	if err != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.remember(c, throttleKey(c, class), t.now().Add(time.Duration(secs)*time.Second))
}

// admit applies the limits to one request; a non-nil error is the 429.
func (t *throttler) admit(c *reqCtx, class throttleClass, stats *counters) *graphError {
	t.mu.Lock()
	defer t.mu.Unlock()
	app := c.caller.AppID
	key := throttleKey(c, class)
	// Early retries are counted even with the limits off: injected faults
	// also send Retry-After.
	if t.early(c, key) {
		stats.earlyRetry(c.route)
	}
	if t.cfg.Disabled {
		return nil
	}
	var wait time.Duration
	info := "ResourceUnitLimitExceeded"
	switch class.kind {
	case classIdentity:
		cost := ruCost(c, class.cost)
		c.w.Header().Set("x-ms-resource-unit", strconv.Itoa(cost))
		wait = t.take(key, float64(t.cfg.IdentityRU), t.cfg.Window, float64(cost))
		if b := t.buckets[key]; wait == 0 && b.tokens < 0.2*float64(t.cfg.IdentityRU) {
			used := 1 - b.tokens/float64(t.cfg.IdentityRU)
			c.w.Header().Set("x-ms-throttle-limit-percentage", strconv.FormatFloat(used, 'f', 1, 64))
		}
	case classReports:
		wait = t.take(key, float64(t.cfg.ReportsPerWindow), t.cfg.Window, 1)
		info = "RequestLimitExceeded"
	case classCA:
		if w := t.take("ca", 1, t.cfg.CAInterval, 1); w > 0 {
			// No Retry-After, as Graph does for conditional access; a
			// retry sooner than its one request a second allows is early.
			t.remember(c, key, t.now().Add(w))
			return errf(429, "TooManyRequests", "Too many requests to conditional access. Please retry again later.")
		}
	}
	// Every POST, PATCH, PUT and DELETE also spends one write.
	scope := "ReadWrite"
	if class.write && wait == 0 {
		if wait = t.take("w/"+app, float64(t.cfg.Writes), t.cfg.WriteWindow, 1); wait > 0 {
			info, scope = "WriteLimitExceeded", "Write"
		}
	}
	if wait == 0 {
		return nil
	}
	// kiota truncates fractional Retry-After values, so round up to whole
	// seconds or clients would come back too early.
	secs := int(math.Ceil(wait.Seconds()))
	t.remember(c, key, t.now().Add(time.Duration(secs)*time.Second))
	e := errf(429, "TooManyRequests", "Please retry again later.")
	e.header = map[string]string{
		"Retry-After":                    strconv.Itoa(secs),
		"x-ms-throttle-scope":            "Tenant_Application/" + scope + "/" + app + "/" + c.caller.TenantID,
		"x-ms-throttle-information":      info,
		"x-ms-throttle-limit-percentage": "1.8",
	}
	return e
}
