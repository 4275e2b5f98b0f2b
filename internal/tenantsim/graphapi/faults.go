package graphapi

import (
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"
)

// Faults configures fault injection on authenticated Graph requests.
// Rates are probabilities in [0,1].
type Faults struct {
	Rate429, Rate503, Rate504 float64
	Latency                   time.Duration
	TruncateRate              float64 // cut a 2xx body in half
	InvalidJSONRate           float64 // replace a 2xx body with invalid JSON
	ResetRate                 float64 // close the connection without a response
	// RetryAfterSeconds on injected 429/503; default 1.
	RetryAfterSeconds int
	Seed              uint64
	// ConsistencyDelay mimics Entra's replication lag: for that long after
	// an object is created (while it is set), link requests naming it
	// ($ref, @odata.bind, manager, role assignment principal) answer 400
	// "… do not exist", as if it did not exist yet.
	ConsistencyDelay time.Duration
}

type faultState struct {
	mu  sync.Mutex
	f   Faults
	rng *rand.Rand
}

func (fs *faultState) set(f Faults) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.f = f
	fs.rng = rand.New(rand.NewPCG(f.Seed, 0xfa17))
}

func (fs *faultState) consistencyDelay() time.Duration {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	return fs.f.ConsistencyDelay
}

func (fs *faultState) roll(p float64) bool {
	return p > 0 && fs.rng != nil && fs.rng.Float64() < p
}

// inject may fail the request before it is handled.
func (fs *faultState) inject(c *reqCtx, stats *counters) *graphError {
	fs.mu.Lock()
	f := fs.f
	var e *graphError
	ra := strconv.Itoa(max(f.RetryAfterSeconds, 1))
	switch {
	case fs.roll(f.ResetRate):
		fs.mu.Unlock()
		stats.fault(c.route)
		if hj, ok := c.w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
				panic(http.ErrAbortHandler)
			}
		}
		panic(http.ErrAbortHandler)
	case fs.roll(f.Rate429):
		e = errf(429, "TooManyRequests", "Please retry again later.")
		e.header = map[string]string{"Retry-After": ra}
	case fs.roll(f.Rate503):
		e = errf(503, "serviceNotAvailable", "The service is temporarily unavailable. Please retry.")
		e.header = map[string]string{"Retry-After": ra}
	case fs.roll(f.Rate504):
		e = errf(504, "UnknownError", "Gateway timeout.")
	}
	fs.mu.Unlock()
	if e != nil {
		stats.fault(c.route)
	}
	if f.Latency > 0 {
		time.Sleep(f.Latency)
	}
	return e
}

// write sends a 2xx body, possibly corrupted.
func (fs *faultState) write(c *reqCtx, status int, body []byte) {
	fs.mu.Lock()
	switch {
	case fs.roll(fs.f.TruncateRate):
		body = body[:len(body)/2]
	case fs.roll(fs.f.InvalidJSONRate):
		body = []byte(`{"value":[{"id":` + "\x00" + `}`)
	}
	fs.mu.Unlock()
	c.w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	c.w.WriteHeader(status)
	_, _ = c.w.Write(body)
}

// counters count requests per route.
type counters struct {
	mu sync.Mutex
	m  map[string]*RouteCount
}

// RouteCount counts the requests of one route. Writes are the POST, PATCH,
// PUT and DELETE requests that reached the handler (authenticated, not
// throttled nor failed by a fault), whatever their outcome.
type RouteCount struct {
	Requests    int `json:"requests"`
	Writes      int `json:"writes"`
	Throttled   int `json:"throttled"`
	EarlyRetry  int `json:"earlyRetries"`
	FaultsCount int `json:"faults"`
}

// Snapshot is the counter state returned by the control API.
type Snapshot struct {
	Total      RouteCount             `json:"total"`
	Routes     map[string]*RouteCount `json:"routes"`
	RouteNames []string               `json:"-"`
}

func newCounters() *counters { return &counters{m: map[string]*RouteCount{}} }

func (cs *counters) get(route string) *RouteCount {
	r := cs.m[route]
	if r == nil {
		r = &RouteCount{}
		cs.m[route] = r
	}
	return r
}

func (cs *counters) request(route string)   { cs.mu.Lock(); cs.get(route).Requests++; cs.mu.Unlock() }
func (cs *counters) write(route string)     { cs.mu.Lock(); cs.get(route).Writes++; cs.mu.Unlock() }
func (cs *counters) throttled(route string) { cs.mu.Lock(); cs.get(route).Throttled++; cs.mu.Unlock() }
func (cs *counters) earlyRetry(route string) {
	cs.mu.Lock()
	cs.get(route).EarlyRetry++
	cs.mu.Unlock()
}
func (cs *counters) fault(route string) { cs.mu.Lock(); cs.get(route).FaultsCount++; cs.mu.Unlock() }

func (cs *counters) snapshot() Snapshot {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	s := Snapshot{Routes: map[string]*RouteCount{}}
	for k, v := range cs.m {
		c := *v
		s.Routes[k] = &c
		s.Total.Requests += c.Requests
		s.Total.Writes += c.Writes
		s.Total.Throttled += c.Throttled
		s.Total.EarlyRetry += c.EarlyRetry
		s.Total.FaultsCount += c.FaultsCount
		s.RouteNames = append(s.RouteNames, k)
	}
	sort.Strings(s.RouteNames)
	return s
}
