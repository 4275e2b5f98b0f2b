package api

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/entravault/entravault/internal/auth"
)

// TestHeavyOperationsAreLimited is the attack: one caller (a viewer is
// enough) fires exports and live diffs at a connector. Past two at once,
// or past the caller's rate, it gets 429 with Retry-After; other callers
// of other connectors are not starved.
func TestHeavyOperationsAreLimited(t *testing.T) {
	h := &handlers{limits: newHeavyLimiter()}
	release := make(chan struct{})
	var started sync.WaitGroup
	blocking := h.heavy(always, func(*snapshotService, echo.Context, string) error {
		started.Done()
		<-release
		return nil
	})
	e := echo.New()
	call := func(fn func(*snapshotService, echo.Context, string) error, caller, connectorID string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		c := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), rec)
		auth.SetPrincipal(c, auth.Principal{Name: caller, Role: auth.RoleViewer})
		if err := fn(&snapshotService{}, c, connectorID); err != nil {
			e.HTTPErrorHandler = errorHandler(nil)
			e.HTTPErrorHandler(err, c)
		}
		return rec
	}
	var done sync.WaitGroup
	for range 2 {
		started.Add(1)
		done.Add(1)
		go func() { defer done.Done(); call(blocking, "mallory", "c-1") }()
	}
	started.Wait()
	rec := call(blocking, "mallory", "c-2")
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("a third concurrent export by one caller: %d, Retry-After %q", rec.Code, rec.Header().Get("Retry-After"))
	}
	if rec := call(blocking, "alice", "c-1"); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("a third concurrent export of one connector: %d", rec.Code)
	}
	close(release)
	done.Wait()

	quick := h.heavy(always, func(*snapshotService, echo.Context, string) error { return nil })
	limited := 0
	for range 20 {
		if rec := call(quick, "mallory", "c-1"); rec.Code == http.StatusTooManyRequests {
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("20 exports in a row by one caller were all admitted")
	}
	if rec := call(quick, "bob", "c-3"); rec.Code != http.StatusOK {
		t.Fatalf("another caller was starved: %d", rec.Code)
	}
}
