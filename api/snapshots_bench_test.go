package api

import (
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/repository/entragen"
)

// benchTenant is two users snapshots, the second with 1% of users changed,
// built once per process: ENTRAVAULT_BENCH_USERS users (default 100,000).
var benchTenant = sync.OnceValue(func() *benchData {
	n := 100000
	if v, err := strconv.Atoi(os.Getenv("ENTRAVAULT_BENCH_USERS")); err == nil && v > 0 {
		n = v
	}
	return buildBench(n)
})

type benchData struct {
	svc     *snapshotService
	s1, s2  repository.SnapshotInfo
	ids     []string
	changed int
	err     error
}

func buildBench(n int) *benchData {
	ctx := context.Background()
	repo, err := repository.Init(ctx, repository.Config{BlobURL: "mem://", SecretsURL: repository.TestKeyURL()})
	if err != nil {
		return &benchData{err: err}
	}
	ten := entragen.NewTenant(42)
	users := make([]entragen.User, n)
	d := &benchData{svc: &snapshotService{repo: repo}, ids: make([]string, n)}
	for i := range users {
		users[i] = ten.User(i)
		d.ids[i] = users[i].ID()
	}
	write := func(parent repository.SnapshotID, at time.Time) (repository.SnapshotInfo, error) {
		w, err := repo.NewWriter(ctx, repository.WriterOptions{Connector: conn, Scope: "users", Parent: parent, Time: at, Full: true})
		if err != nil {
			return repository.SnapshotInfo{}, err
		}
		for _, u := range users {
			if err := w.Put(ctx, "user", u.ID(), u.JSON()); err != nil {
				return repository.SnapshotInfo{}, err
			}
		}
		return w.Commit(ctx)
	}
	if d.s1, d.err = write("", t0); d.err != nil {
		return d
	}
	rng := rand.New(rand.NewPCG(1, 1))
	touched := map[int]bool{}
	for range n / 100 {
		i := rng.IntN(n)
		ten.Mutate(users[i], rng)
		touched[i] = true
	}
	d.changed = len(touched)
	d.s2, d.err = write(d.s1.ID, t0.Add(24*time.Hour))
	return d
}

func loadBench(b *testing.B) *benchData {
	b.Helper()
	d := benchTenant()
	if d.err != nil {
		b.Fatal(d.err)
	}
	return d
}

func serve(svc *snapshotService, method func(*snapshotService, echo.Context, string) error, target string, params ...string) (*httptest.ResponseRecorder, error) {
	e := echo.New()
	rec := httptest.NewRecorder()
	c := e.NewContext(httptest.NewRequest(http.MethodGet, target, nil), rec)
	var names, values []string
	for i := 0; i+1 < len(params); i += 2 {
		names, values = append(names, params[i]), append(values, params[i+1])
	}
	c.SetParamNames(names...)
	c.SetParamValues(values...)
	return rec, method(svc, c, conn)
}

// BenchmarkDiff100kUsers pages through the whole diff of two snapshots at
// 1% churn, 1000 changes a page, as the CLI does: JSON encoding included.
func BenchmarkDiff100kUsers(b *testing.B) {
	d := loadBench(b)
	q := "/?from=" + string(d.s1.ID) + "&to=" + string(d.s2.ID) + "&limit=1000"
	for b.Loop() {
		total := 0
		target := q
		for {
			rec, err := serve(d.svc, (*snapshotService).diff, target)
			if err != nil {
				b.Fatal(err)
			}
			var page Diff
			if err := json.Unmarshal(rec.Body.Bytes(), &page); err != nil {
				b.Fatal(err)
			}
			total += len(page.Changes)
			if page.NextCursor == "" {
				break
			}
			target = q + "&cursor=" + page.NextCursor
		}
		if total != d.changed {
			b.Fatalf("diff found %d changes, churn made %d", total, d.changed)
		}
	}
	b.ReportMetric(float64(d.changed), "changes")
}

// BenchmarkBrowse measures single browsing requests on the 100k-user
// snapshot, below the access check, and reports their p50 and p99.
func BenchmarkBrowse(b *testing.B) {
	d := loadBench(b)
	sid := string(d.s2.ID)
	rng := rand.New(rand.NewPCG(2, 2))
	for _, tc := range []struct {
		name   string
		method func(*snapshotService, echo.Context, string) error
		req    func() (string, []string)
	}{
		{"list", (*snapshotService).listSnapshots, func() (string, []string) { return "/", nil }},
		{"show", (*snapshotService).showSnapshot, func() (string, []string) { return "/", []string{"sid", sid} }},
		{"objects-page", (*snapshotService).listObjects, func() (string, []string) {
			return "/?type=user&limit=100", []string{"sid", sid}
		}},
		{"search-by-id", (*snapshotService).listObjects, func() (string, []string) {
			return "/?type=user&limit=10&q=" + d.ids[rng.IntN(len(d.ids))], []string{"sid", sid}
		}},
		{"object-at", (*snapshotService).getObject, func() (string, []string) {
			return "/?type=user&at=" + sid, []string{"oid", d.ids[rng.IntN(len(d.ids))]}
		}},
		{"history", (*snapshotService).history, func() (string, []string) {
			return "/?type=user", []string{"oid", d.ids[rng.IntN(len(d.ids))]}
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				target, params := tc.req()
				start := time.Now()
				if _, err := serve(d.svc, tc.method, target, params...); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}

// BenchmarkSearchIndexBuild100kUsers is the one-off cost of the first
// search in a snapshot.
func BenchmarkSearchIndexBuild100kUsers(b *testing.B) {
	d := loadBench(b)
	for b.Loop() {
		if _, err := buildSearchIndex(context.Background(), d.svc.repo, d.s2.ID); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkExport100kUsers writes the whole tar.gz export of the
// snapshot.
func BenchmarkExport100kUsers(b *testing.B) {
	d := loadBench(b)
	for b.Loop() {
		if err := writeExport(context.Background(), io.Discard, d.svc.repo, d.s2, ""); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(d.ids)*b.N)/b.Elapsed().Seconds(), "objects/s")
}

// loadServer serves the snapshot endpoints of the benchmark snapshots over
// real HTTP, below the access check (which asks Temporal for the
// connector's memo once per request and is not measured here).
func loadServer(d *benchData) *echo.Echo {
	e := echo.New()
	route := func(m func(*snapshotService, echo.Context, string) error) echo.HandlerFunc {
		return func(c echo.Context) error { return m(d.svc, c, conn) }
	}
	e.GET("/snapshots", route((*snapshotService).listSnapshots))
	e.GET("/snapshots/:sid", route((*snapshotService).showSnapshot))
	e.GET("/snapshots/:sid/objects", route((*snapshotService).listObjects))
	e.GET("/objects/:oid", route((*snapshotService).getObject))
	e.GET("/objects/:oid/history", route((*snapshotService).history))
	e.GET("/diff", route((*snapshotService).diff))
	return e
}

// BenchmarkBrowseAt100rps sends browsing requests (show, a page of
// objects, a search, an object, a history, in turn) at a fixed 100 per
// second for 10 s over HTTP, open loop, and reports latency percentiles.
// With ENTRAVAULT_LOAD_ADDR=host:port it instead serves there for
// ENTRAVAULT_LOAD_SECONDS (default 120) so wrk can be pointed at it.
func BenchmarkBrowseAt100rps(b *testing.B) {
	d := loadBench(b)
	e := loadServer(d)
	if addr := os.Getenv("ENTRAVAULT_LOAD_ADDR"); addr != "" {
		secs, _ := strconv.Atoi(os.Getenv("ENTRAVAULT_LOAD_SECONDS"))
		srv := &http.Server{Addr: addr, Handler: e}
		go func() { _ = srv.ListenAndServe() }()
		b.Logf("serving on %s: sid=%s user=%s", addr, d.s2.ID, d.ids[0])
		time.Sleep(time.Duration(max(secs, 120)) * time.Second)
		_ = srv.Close()
		return
	}
	srv := httptest.NewServer(e)
	defer srv.Close()
	sid := string(d.s2.ID)
	rng := rand.New(rand.NewPCG(3, 3))
	paths := []func() string{
		func() string { return "/snapshots/" + sid },
		func() string { return "/snapshots/" + sid + "/objects?type=user&limit=100" },
		func() string { return "/snapshots/" + sid + "/objects?type=user&limit=20&q=lovelace" },
		func() string { return "/objects/" + d.ids[rng.IntN(len(d.ids))] + "?type=user&at=" + sid },
		func() string { return "/objects/" + d.ids[rng.IntN(len(d.ids))] + "/history?type=user" },
	}
	// Warm the search index: its one-off build is measured separately.
	if resp, err := http.Get(srv.URL + paths[2]()); err == nil {
		resp.Body.Close()
	}
	for b.Loop() {
		var (
			mu  sync.Mutex
			lat []time.Duration
			wg  sync.WaitGroup
		)
		tick := time.NewTicker(10 * time.Millisecond)
		for i := range 1000 {
			<-tick.C
			u := srv.URL + paths[i%len(paths)]()
			wg.Add(1)
			go func() {
				defer wg.Done()
				start := time.Now()
				resp, err := http.Get(u)
				if err != nil {
					b.Error(err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Errorf("%s: %d", u, resp.StatusCode)
				}
				mu.Lock()
				lat = append(lat, time.Since(start))
				mu.Unlock()
			}()
		}
		tick.Stop()
		wg.Wait()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	}
}
