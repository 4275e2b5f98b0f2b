package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestMetricsLabelsStayBounded is the attack: random methods and paths
// must not add series to /metrics.
func TestMetricsLabelsStayBounded(t *testing.T) {
	e := New(Deps{})
	series := func() int {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
		n := 0
		for _, line := range strings.Split(rec.Body.String(), "\n") {
			if strings.HasPrefix(line, "entravault_api_requests_total{") {
				n++
			}
		}
		return n
	}
	send := func(i int) {
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(fmt.Sprintf("X%06d", i), fmt.Sprintf("/random/%d/c-%016x", i, i), nil))
		rec = httptest.NewRecorder()
		e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, fmt.Sprintf("/api/v1/nope-%d", i), nil))
	}
	send(0)
	series() // its own GET /metrics is one series
	base := series()
	for i := 1; i < 500; i++ {
		send(i)
	}
	if n := series(); n != base {
		t.Fatalf("500 random requests grew /metrics from %d to %d request series", base, n)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if body := rec.Body.String(); strings.Contains(body, "X000") || strings.Contains(body, "/random/") {
		t.Fatal("a client's method or path reached a label")
	}
}
