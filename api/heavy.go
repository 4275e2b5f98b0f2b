package api

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"golang.org/x/time/rate"

	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/repository"
)

// Heavy operations read a whole snapshot or the whole tenant: a live diff
// (a full Graph read on the worker), an export, a search index build.
// Each caller and each connector may run a few at once, and each caller
// starts them at a bounded rate; past either, 429 with Retry-After.
const (
	heavyPerCaller    = 2
	heavyPerConnector = 2
	heavyEvery        = 10 * time.Second // a caller's sustained rate
	heavyBurst        = 6
)

type heavyLimiter struct {
	mu      sync.Mutex
	running map[string]int
	rates   map[string]*rate.Limiter
}

func newHeavyLimiter() *heavyLimiter {
	return &heavyLimiter{running: map[string]int{}, rates: map[string]*rate.Limiter{}}
}

// acquire admits one heavy operation of caller on connector, or says how
// long to wait.
func (l *heavyLimiter) acquire(caller, connectorID string) (release func(), retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	ck, nk := "caller:"+caller, "connector:"+connectorID
	if l.running[ck] >= heavyPerCaller || l.running[nk] >= heavyPerConnector {
		return nil, heavyEvery
	}
	lim := l.rates[ck]
	if lim == nil {
		lim = rate.NewLimiter(rate.Every(heavyEvery), heavyBurst)
		l.rates[ck] = lim
	}
	r := lim.Reserve()
	if d := r.Delay(); d > 0 {
		r.Cancel()
		return nil, d
	}
	l.running[ck]++
	l.running[nk]++
	return func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.running[ck]--
		l.running[nk]--
	}, 0
}

// heavy wraps a snapshot handler that is heavy when isHeavy says so.
func (h *handlers) heavy(isHeavy func(echo.Context) bool, fn func(*snapshotService, echo.Context, string) error) func(*snapshotService, echo.Context, string) error {
	return func(s *snapshotService, c echo.Context, connectorID string) error {
		if !isHeavy(c) {
			return fn(s, c, connectorID)
		}
		release, wait := h.limits.acquire(callerKey(principal(c)), connectorID)
		if release == nil {
			secs := int(wait.Round(time.Second) / time.Second)
			c.Response().Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
			return apiError(http.StatusTooManyRequests, "too_many_requests",
				fmt.Sprintf("too many exports, searches or live comparisons at once; retry in %d s", max(secs, 1)), nil)
		}
		defer release()
		return fn(s, c, connectorID)
	}
}

// callerKey is the caller's immutable id (names can be shared or reused).
func callerKey(p auth.Principal) string {
	if len(p.IDs) > 0 {
		return p.IDs[0]
	}
	return "name:" + p.Name
}

func always(echo.Context) bool          { return true }
func comparingLive(c echo.Context) bool { return c.QueryParam("to") == "live" }

// buildingSearchIndex: a search is heavy only while its snapshot's index
// is not built; then each query is a scan of memory.
func (h *handlers) buildingSearchIndex(c echo.Context) bool {
	return c.QueryParam("q") != "" && h.Repo != nil && !searchIndexes.has(h.Repo, repository.SnapshotID(c.Param("sid")))
}
