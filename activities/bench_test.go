package activities_test

import (
	"context"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/worker"
)

// heapPeak samples the Go heap until stop is called and returns the peak.
// The simulator shares the process, so the figure includes its tenant.
func heapPeak() (stop func() uint64) {
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(done); wg.Wait(); return peak.Load() }
}

// BenchmarkBackupUsers backs up the users scope (with managers) of a 20k
// user simulated tenant through the real SDK: a full run into a new
// repository, then an incremental run after 1% churn.
func BenchmarkBackupUsers(b *testing.B) {
	h := newHarness(b, tenantsim.Options{Seed: 1, Users: 20_000, Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	h.b.Graph.(*worker.GraphFactory).PageSize = 0 // Graph's largest pages, as in production
	runtime.GC()
	var base runtime.MemStats
	runtime.ReadMemStats(&base)
	outer := b
	b.Run("full", func(b *testing.B) {
		h.t = b
		defer func() { h.t = outer }()
		var objects int
		var peak uint64
		for b.Loop() {
			b.StopTimer()
			h.repo.Close() // a fresh repository each time: every run is full
			h.repo = newMemRepo(b)
			h.b.Repo = h.repo
			runtime.GC()
			stop := heapPeak()
			b.StartTimer()
			res := h.mustRun(h.input(connector.ScopeUsers))
			peak = max(peak, stop())
			objects = res.Counts["user"]
		}
		b.ReportMetric(float64(objects*b.N)/b.Elapsed().Seconds(), "users/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(base.HeapInuse)/(1<<20), "sim-heap-MiB")
	})
	b.Run("incremental-1pct", func(b *testing.B) {
		h.t = b
		defer func() { h.t = outer }()
		h.mustRun(h.input(connector.ScopeUsers)) // parent with a fresh delta link
		var changed, requests int
		for b.Loop() {
			b.StopTimer()
			h.sim.Churn(1)
			b.StartTimer()
			res := h.mustRun(h.input(connector.ScopeUsers))
			changed, requests = res.Changed, res.Requests
		}
		b.ReportMetric(float64(changed), "changed/run")
		b.ReportMetric(float64(requests), "requests/run")
	})
}

// newMemRepo opens an in-memory repository the caller closes.
func newMemRepo(tb testing.TB) *repository.Repository {
	r, err := repository.Init(context.Background(), repository.Config{BlobURL: "mem://", SecretsURL: repository.TestKeyURL()})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}
