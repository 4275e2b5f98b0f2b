// Command benchtool measures the repository against restic on the same
// synthetic tenant: N users, one snapshot a day for D days with a share of
// users changing each day. scripts/bench-repo.sh builds and runs it; the
// results go to docs/benchmarks.md.
//
// For restic, each day's tenant is exported as one JSON file per user (what
// a file-based backup of Graph exports would see) and `restic backup` runs
// on the folder; only changed files are rewritten between days.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/repository/entragen"
)

type result struct {
	Tool         string  `json:"tool"`
	Users        int     `json:"users"`
	Days         int     `json:"days"`
	FullSeconds  float64 `json:"full_seconds"`
	IncrSeconds  float64 `json:"incremental_seconds_avg"`
	FullBytes    int64   `json:"full_bytes"`
	TotalBytes   int64   `json:"total_bytes"`
	Ratio        float64 `json:"ratio"`
	RawFullBytes int64   `json:"raw_full_bytes"`
}

func main() {
	users := flag.Int("users", 100000, "users in the tenant")
	days := flag.Int("days", 30, "daily snapshots")
	churn := flag.Float64("churn", 0.01, "share of users changed per day")
	work := flag.String("work", "", "scratch folder (required)")
	restic := flag.String("restic", "", "restic binary; empty skips restic")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run here")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	if *work == "" {
		fmt.Fprintln(os.Stderr, "benchtool: --work is required")
		os.Exit(2)
	}
	if err := run(context.Background(), *users, *days, *churn, *work, *restic); err != nil {
		fmt.Fprintln(os.Stderr, "benchtool:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(ctx context.Context, n, days int, churn float64, work, resticBin string) error {
	// Only the JSON bytes are kept (a pointer-free heap, so the garbage
	// collector does not skew the timings); a changed user is decoded,
	// mutated and encoded again.
	ten := entragen.NewTenant(42)
	ids := make([]string, n)
	raws := make([][]byte, n)
	var rawBytes int64
	for i := range raws {
		u := ten.User(i)
		ids[i], raws[i] = u.ID(), u.JSON()
		rawBytes += int64(len(raws[i]))
	}
	repo, err := repository.OpenLocal(ctx, filepath.Join(work, "entravault"))
	if err != nil {
		return err
	}
	defer repo.Close()
	export := filepath.Join(work, "export")
	resticRepo := filepath.Join(work, "restic")
	if resticBin != "" {
		os.Setenv("RESTIC_PASSWORD", "benchmark-only") // a throwaway repository
		if out, err := exec.Command(resticBin, "init", "--repo", resticRepo, "--repository-version", "2").CombinedOutput(); err != nil {
			return fmt.Errorf("restic init: %v: %s", err, out)
		}
	}
	ev := result{Tool: "entravault", Users: n, Days: days, RawFullBytes: rawBytes}
	rs := result{Tool: "restic", Users: n, Days: days, RawFullBytes: rawBytes}
	rng := rand.New(rand.NewPCG(1, 1))
	var parent repository.SnapshotID
	changed := make([]int, 0, n)
	for i := range n {
		changed = append(changed, i)
	}
	for day := range days {
		if day > 0 {
			changed = changed[:0]
			for range int(float64(n) * churn) {
				i := rng.IntN(n)
				var u entragen.User
				if err := json.Unmarshal(raws[i], &u); err != nil {
					return err
				}
				ten.Mutate(u, rng)
				raws[i] = u.JSON()
				changed = append(changed, i)
			}
		}
		// Entravault: a full enumeration (no delta link), every user Put.
		start := time.Now()
		w, err := repo.NewWriter(ctx, repository.WriterOptions{Connector: "entra", Scope: "users", Parent: parent,
			Time: time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC).AddDate(0, 0, day), Full: true})
		if err != nil {
			return err
		}
		for i, raw := range raws {
			if err := w.Put(ctx, "user", ids[i], raw); err != nil {
				return err
			}
		}
		info, err := w.Commit(ctx)
		if err != nil {
			return err
		}
		parent = info.ID
		secs := time.Since(start).Seconds()
		st, err := repo.Stats(ctx)
		if err != nil {
			return err
		}
		if day == 0 {
			ev.FullSeconds, ev.FullBytes = secs, st.PackBytes
		} else {
			ev.IncrSeconds += secs / float64(days-1)
		}
		ev.TotalBytes = dirSize(filepath.Join(work, "entravault", "blobs"))
		if day == 0 {
			ev.FullBytes = ev.TotalBytes
		}

		if resticBin != "" {
			for _, i := range changed {
				id := ids[i]
				p := filepath.Join(export, "users", id[:2], id+".json")
				if day == 0 {
					os.MkdirAll(filepath.Dir(p), 0o755)
				}
				if err := os.WriteFile(p, raws[i], 0o644); err != nil {
					return err
				}
			}
			start := time.Now()
			cmd := exec.Command(resticBin, "backup", "--repo", resticRepo, "--quiet", "--host", "bench", ".")
			cmd.Dir = export
			if out, err := cmd.CombinedOutput(); err != nil {
				return fmt.Errorf("restic backup: %v: %s", err, out)
			}
			secs := time.Since(start).Seconds()
			size := dirSize(resticRepo)
			if day == 0 {
				rs.FullSeconds, rs.FullBytes = secs, size
			} else {
				rs.IncrSeconds += secs / float64(days-1)
			}
			rs.TotalBytes = size
		}
		fmt.Fprintf(os.Stderr, "day %d: entravault %.1fs %d B; restic %d B\n", day, secs, ev.TotalBytes, rs.TotalBytes)
	}
	ev.Ratio = float64(ev.TotalBytes) / float64(ev.FullBytes)
	out := []result{ev}
	if resticBin != "" {
		rs.Ratio = float64(rs.TotalBytes) / float64(rs.FullBytes)
		out = append(out, rs)
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
