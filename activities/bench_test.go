package activities_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/worker"
)

// heapPeak samples the Go heap until stop is called and returns the peak.
// With live, each sample follows a GC, so it measures live data rather than
// garbage not yet collected (and slows the run). The simulator shares the
// process, so the figure includes its tenant. With profile set, a heap
// profile is written there whenever the live heap (as the last GC found
// it) grows 5% past the last one, so the file ends up describing the peak
// of live data. stop's liveMax is that peak.
func heapPeak(live bool, profile string) (stop func() (heap, liveMax uint64)) {
	var peak, peakLive atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
		var profiled uint64
		for {
			if live {
				runtime.GC()
			}
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			metrics.Read(sample)
			l := sample[0].Value.Uint64()
			if l > peakLive.Load() {
				peakLive.Store(l)
			}
			if profile != "" && l > profiled+profiled/20 {
				profiled = l
				writeHeapProfile(profile)
			}
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	return func() (uint64, uint64) { close(done); wg.Wait(); return peak.Load(), peakLive.Load() }
}

func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.Lookup("heap").WriteTo(f, 0)
}

// BenchmarkBackupUsers backs up the users scope (with managers) of a
// simulated tenant through the real SDK: a full run into a new file
// repository, then an incremental run after 1% churn. peak-heap-MiB is the
// Go heap in use at its highest during the full run, above what the
// simulator's tenant held before it (both share the process).
func BenchmarkBackupUsers(b *testing.B) {
	for _, users := range []int{20_000, 100_000} {
		b.Run(fmt.Sprintf("%dk", users/1000), func(b *testing.B) { benchUsers(b, users) })
	}
}

func benchUsers(b *testing.B, users int) {
	h := newHarness(b, tenantsim.Options{Seed: 1, Users: users, Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	h.b.Graph.(*worker.GraphFactory).PageSize = 0 // Graph's largest pages, as in production
	outer := b
	b.Run("full", func(b *testing.B) {
		h.t = b
		defer func() { h.t = outer }()
		var objects int
		var peak uint64
		var bytes int64
		for b.Loop() {
			var res activities.BackupResult
			peak = max(peak, h.freshHeapPeak(b, false, func() { res = h.mustRun(h.input(connector.ScopeUsers)) }))
			objects, bytes = res.Counts["user"], res.Bytes
		}
		b.ReportMetric(float64(objects*b.N)/b.Elapsed().Seconds(), "users/s")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
		b.ReportMetric(float64(bytes)/(1<<20), "json-MiB")
	})
	b.Run("full-live-heap", func(b *testing.B) {
		h.t = b
		defer func() { h.t = outer }()
		var peak uint64
		for b.Loop() {
			peak = max(peak, h.freshHeapPeak(b, true, func() { h.mustRun(h.input(connector.ScopeUsers)) }))
		}
		b.ReportMetric(float64(peak)/(1<<20), "peak-live-heap-MiB")
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

// freshHeapPeak times run (a full backup) into a fresh repository and
// returns the peak Go heap above what was in use before it (heapPeak).
func (h *harness) freshHeapPeak(b *testing.B, live bool, run func()) uint64 {
	b.StopTimer()
	h.freshRepo(b) // a fresh repository each time: every run is full
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	stop := heapPeak(live, "")
	b.StartTimer()
	run()
	heap, _ := stop()
	return heap - ms.HeapInuse
}

// freshRepo replaces the harness's repository with a new, empty one.
func (h *harness) freshRepo(tb testing.TB) {
	h.repo.Close()
	h.repo = newFileRepo(tb)
	h.b.Repo = h.repo
}

// runConcurrently backs up scopes at once, as ConnectorWorkflow starts
// them, and returns their results in order.
func (h *harness) runConcurrently(scopes ...connector.Scope) []activities.BackupResult {
	inputs := make([]activities.BackupInput, len(scopes))
	for i, sc := range scopes {
		inputs[i] = h.input(sc)
	}
	results := make([]activities.BackupResult, len(scopes))
	errs := make([]error, len(scopes))
	var wg sync.WaitGroup
	for i := range scopes {
		wg.Go(func() { results[i], errs[i] = h.run(inputs[i]) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			h.t.Fatal(scopes[i], err)
		}
	}
	return results
}

// newFileRepo opens a file:// repository in a temporary folder; the
// caller closes it.
func newFileRepo(tb testing.TB) *repository.Repository {
	r, err := repository.Init(context.Background(), repository.Config{BlobURL: "file://" + tb.TempDir(), SecretsURL: repository.TestKeyURL()})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// newMemRepo opens an in-memory repository the caller closes.
func newMemRepo(tb testing.TB) *repository.Repository {
	r, err := repository.Init(context.Background(), repository.Config{BlobURL: "mem://", SecretsURL: repository.TestKeyURL()})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// BenchmarkBackupTenant is issue 6's benchmark: a full backup of 100k
// users + 20k groups with members + 1k administrative units, then an
// incremental at 1% churn. ENTRAVAULT_BENCH_SCALE=0.2 runs a fifth of it.
func BenchmarkBackupTenant(b *testing.B) {
	scale := 1.0
	if s := os.Getenv("ENTRAVAULT_BENCH_SCALE"); s != "" {
		fmt.Sscan(s, &scale)
	}
	users, groups, aus := int(100_000*scale), int(20_000*scale), int(1_000*scale)
	h := newHarness(b, tenantsim.Options{Seed: 1, Users: users, Groups: groups, AdministrativeUnits: aus, Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	h.b.Graph.(*worker.GraphFactory).PageSize = 0
	scopes := []connector.Scope{connector.ScopeUsers, connector.ScopeGroups, connector.ScopeAdministrativeUnits}
	runAll := func() (objects, requests int, bytes int64) {
		for _, res := range h.runConcurrently(scopes...) {
			for _, n := range res.Counts {
				objects += n
			}
			requests += res.Requests
			bytes += res.Bytes
		}
		return
	}
	outer := b
	b.Run("full", func(b *testing.B) {
		h.t = b
		defer func() { h.t = outer }()
		var objects, requests int
		var bytes int64
		var peak uint64
		for b.Loop() {
			peak = max(peak, h.freshHeapPeak(b, false, func() { objects, requests, bytes = runAll() }))
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/backup")
		b.ReportMetric(float64(objects*b.N)/b.Elapsed().Seconds(), "objects/s")
		b.ReportMetric(float64(requests), "requests")
		b.ReportMetric(float64(bytes)/(1<<20), "json-MiB")
		b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MiB")
	})
	b.Run("incremental-1pct", func(b *testing.B) {
		h.t = b
		defer func() { h.t = outer }()
		runAll() // parents with fresh delta links
		var requests int
		for b.Loop() {
			b.StopTimer()
			h.sim.Churn(1)
			b.StartTimer()
			_, requests, _ = runAll()
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/backup")
		b.ReportMetric(float64(requests), "requests")
	})
}

// BenchmarkActivityLogPacing reads sign-ins against the reports budget
// scaled ten times down in time (5 requests per 1 s instead of per 10 s,
// paced at one per 200 ms instead of 2 s) and reports the share of the
// budget used between the first and the last request, and 429s met.
func BenchmarkActivityLogPacing(b *testing.B) {
	h := newHarness(b, tenantsim.Options{Seed: 8, Users: 500, Premium: true, LogsPerDay: 1300,
		Throttle: tenantsim.ThrottleConfig{Window: time.Second, ReportsPerWindow: 5}})
	h.b.ReportsInterval = 200 * time.Millisecond
	h.b.Graph.(*worker.GraphFactory).PageSize = 0
	stamps := &countingGraphs{GraphFactory: h.b.Graph}
	h.b.Graph = stamps
	var share float64
	var throttled, requests int
	for b.Loop() {
		b.StopTimer()
		h.repo.Close()
		h.repo = newMemRepo(b)
		h.b.Repo = h.repo
		stamps.starts = nil
		in := h.input(connector.ScopeSignIns)
		in.LogSince = time.Now().Add(-31 * 24 * time.Hour)
		b.StartTimer()
		res := h.mustRun(in)
		n := len(stamps.starts)
		span := stamps.starts[n-1].Sub(stamps.starts[0]).Seconds()
		share = float64(n-1) / span / 5
		throttled, requests = res.Throttled, res.Requests
	}
	b.ReportMetric(100*share, "%-of-budget")
	b.ReportMetric(float64(throttled), "429s")
	b.ReportMetric(float64(requests), "requests")
}
