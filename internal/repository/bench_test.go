package repository

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/entravault/entravault/internal/repository/entragen"
)

// Benchmarks use realistic ~4–5 KB Entra user JSON. Run them with
// `make bench` or scripts/bench-repo.sh; numbers go to docs/benchmarks.md.

func benchUsers(b *testing.B, n int) [][]byte {
	b.Helper()
	ten := entragen.NewTenant(42)
	out := make([][]byte, n)
	for i := range out {
		out[i] = ten.User(i).JSON()
	}
	return out
}

func benchRepo(b *testing.B) *Repository {
	b.Helper()
	url := os.Getenv("ENTRAVAULT_BENCH_BLOB_URL") // e.g. file:///tmp/x?no_tmp_dir=1&metadata=skip&create_dir=1
	if url == "" {
		url = "mem://"
	}
	r, err := Init(context.Background(), Config{BlobURL: url, SecretsURL: TestKeyURL()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	return r
}

func ingest(b *testing.B, r *Repository, parent SnapshotID, at time.Time, ids []string, raws [][]byte) SnapshotInfo {
	ctx := context.Background()
	w, err := r.NewWriter(ctx, WriterOptions{Connector: "entra", Scope: "users", Parent: parent, Time: at})
	if err != nil {
		b.Fatal(err)
	}
	for i, raw := range raws {
		if err := w.Put(ctx, "user", ids[i], raw); err != nil {
			b.Fatal(err)
		}
	}
	info, err := w.Commit(ctx)
	if err != nil {
		b.Fatal(err)
	}
	return info
}

// cpuSeconds is this process's user+system CPU time. The dev machine is
// shared (load often above 10 on 2 cores), so objects per CPU-second is
// reported beside wall-clock throughput.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func ids(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = strconv.Itoa(i)
	}
	return out
}

// BenchmarkIngestNew: one op = a full first backup of 20k new users.
func BenchmarkIngestNew(b *testing.B) {
	const n = 20000
	raws := benchUsers(b, n)
	keys := ids(n)
	var bytes int64
	for _, r := range raws {
		bytes += int64(len(r))
	}
	b.SetBytes(bytes)
	var cpu float64
	for b.Loop() {
		b.StopTimer()
		r := benchRepo(b)
		b.StartTimer()
		c := cpuSeconds()
		ingest(b, r, "", t0, keys, raws)
		cpu += cpuSeconds() - c
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
	b.ReportMetric(float64(n*b.N)/cpu, "objects/cpu-s")
}

// BenchmarkIngestUnchanged: one op = an incremental backup of 20k users of
// which none changed (no delta query available: every object is Put).
func BenchmarkIngestUnchanged(b *testing.B) {
	const n = 20000
	raws := benchUsers(b, n)
	keys := ids(n)
	r := benchRepo(b)
	base := ingest(b, r, "", t0, keys, raws)
	c := cpuSeconds()
	for b.Loop() {
		ingest(b, r, base.ID, t0.Add(time.Hour), keys, raws)
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
	b.ReportMetric(float64(n*b.N)/(cpuSeconds()-c), "objects/cpu-s")
}

// BenchmarkChurn30Days measures repository size after 30 daily snapshots
// at 1% daily churn against one full snapshot. Users default to 10k; set
// ENTRAVAULT_BENCH_USERS=100000 for the documented figure.
func BenchmarkChurn30Days(b *testing.B) {
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("ENTRAVAULT_BENCH_USERS")); err == nil && v > 0 {
		n = v
	}
	ten := entragen.NewTenant(42)
	users := make([]entragen.User, n)
	raws := make([][]byte, n)
	keys := make([]string, n)
	for i := range users {
		users[i] = ten.User(i)
		raws[i] = users[i].JSON()
		keys[i] = users[i].ID()
	}
	for b.Loop() {
		r := benchRepo(b)
		ctx := context.Background()
		s := ingest(b, r, "", t0, keys, raws)
		st, _ := r.Stats(ctx)
		full := st.PackBytes
		rng := rand.New(rand.NewPCG(1, 1))
		start := time.Now()
		for day := 1; day < 30; day++ {
			for range n / 100 {
				i := rng.IntN(n)
				ten.Mutate(users[i], rng)
				raws[i] = users[i].JSON()
			}
			s = ingest(b, r, s.ID, t0.AddDate(0, 0, day), keys, raws)
		}
		elapsed := time.Since(start)
		st, _ = r.Stats(ctx)
		b.ReportMetric(float64(full)/1e6, "MB-full")
		b.ReportMetric(float64(st.PackBytes)/1e6, "MB-30days")
		b.ReportMetric(float64(st.PackBytes)/float64(full), "ratio")
		b.ReportMetric(elapsed.Seconds()/29, "s/incremental")
	}
}
