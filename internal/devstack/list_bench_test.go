package devstack

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"
)

// BenchmarkListConnectors measures GET /api/v1/connectors with 1,000
// connectors on the embedded server: one visibility query plus memos, no
// call per connector. Target ≤ 200 ms per listing (docs/benchmarks.md).
func BenchmarkListConnectors(b *testing.B) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cfg := testConfig(b, b.TempDir())
	cfg.Dev.UIPort = 0
	port := freePort(b)
	cfg.API.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	s, err := Start(ctx, cfg, slog.New(slog.DiscardHandler), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Stop(context.Background())
	h := &harness{stack: s, api: s.URLs().API, key: s.AdminKey(), ctx: ctx, t: b}
	const n = 1000
	for i := 0; i < n; i++ {
		if code := h.call("POST", "/api/v1/connectors", directoryConnector("contoso.com", fmt.Sprintf("c%04d", i)), nil); code != http.StatusCreated {
			b.Fatalf("create %d: %d", i, code)
		}
	}
	var list struct {
		Connectors []any `json:"connectors"`
	}
	for deadline := time.Now().Add(time.Minute); ; {
		h.call("GET", "/api/v1/connectors", nil, &list)
		if len(list.Connectors) == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	if len(list.Connectors) != n {
		b.Fatalf("listed %d of %d", len(list.Connectors), n)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		list.Connectors = nil
		h.call("GET", "/api/v1/connectors", nil, &list)
	}
	b.ReportMetric(float64(len(list.Connectors)), "connectors")
}
