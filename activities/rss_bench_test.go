package activities_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"

	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/worker"
)

// rssSimEnv, set to "users[,groups,administrative units]", makes the test
// binary a tenant simulator for the RSS benchmarks: it prints the tenant's
// credentials as one JSON line on stdout and serves until stdin closes.
const rssSimEnv = "ENTRAVAULT_RSS_SIM"

func TestMain(m *testing.M) {
	if sizes := os.Getenv(rssSimEnv); sizes != "" {
		os.Exit(runRSSSimulator(sizes))
	}
	os.Exit(m.Run())
}

func runRSSSimulator(sizes string) int {
	var n [3]int
	for i, f := range strings.SplitN(sizes, ",", 3) {
		v, err := strconv.Atoi(f)
		if err != nil {
			fmt.Fprintln(os.Stderr, "rss simulator:", err)
			return 2
		}
		n[i] = v
	}
	sim, err := tenantsim.New(tenantsim.Options{Seed: 1, Users: n[0], Groups: n[1], AdministrativeUnits: n[2],
		GraphAddr: "127.0.0.1:0", LoginAddr: "127.0.0.1:0", Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	if err == nil {
		err = sim.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rss simulator:", err)
		return 1
	}
	defer sim.Close()
	if err := json.NewEncoder(os.Stdout).Encode(sim.Credentials()); err != nil {
		return 1
	}
	_, _ = io.Copy(io.Discard, os.Stdin) // until the benchmark is done (or dies)
	return 0
}

// startRSSSimulator runs a simulated tenant in a child process, so that its
// memory stays out of the benchmark's RSS. sizes is rssSimEnv's value.
func startRSSSimulator(b *testing.B, sizes string) tenantsim.Credentials {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), rssSimEnv+"="+sizes)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stdin.Close(); _ = cmd.Wait() })
	var cr tenantsim.Credentials
	if err := json.NewDecoder(bufio.NewReader(stdout)).Decode(&cr); err != nil {
		b.Fatalf("rss simulator: %v", err)
	}
	return cr
}

// BenchmarkBackupUsersRSS is issue 6's memory bound: the peak RSS (VmHWM)
// of a full users-scope backup (with managers) into a new file repository,
// the simulator running in a child process so only the backup is measured.
// peak-rss-MiB includes the test binary's own baseline (base-rss-MiB, taken
// just before the run); peak-heap-MiB is the Go heap in use at its highest
// (garbage included). ENTRAVAULT_RSS_HEAPPROFILE=file writes a heap profile
// each time the heap reaches a new peak (the last one is the peak's).
func BenchmarkBackupUsersRSS(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc/self/status")
	}
	for _, users := range []int{100_000, 500_000} {
		b.Run(fmt.Sprintf("%dk", users/1000), func(b *testing.B) {
			benchRSS(b, fmt.Sprint(users), false, connector.ScopeUsers)
		})
	}
	// An incremental run (nothing changed) holds the parent snapshot's
	// object map besides the index.
	b.Run("500k-incremental", func(b *testing.B) { benchRSS(b, "500000", true, connector.ScopeUsers) })
}

// BenchmarkBackupTenantRSS is the same measure for a whole 500k-user
// tenant (100k groups with members, 5k administrative units) whose three
// scopes are backed up at once by one process, as ConnectorWorkflow starts
// them on one worker.
func BenchmarkBackupTenantRSS(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc/self/status")
	}
	b.Run("all-scopes", func(b *testing.B) {
		benchRSS(b, "500000,100000,5000", false, connector.ScopeUsers, connector.ScopeGroups, connector.ScopeAdministrativeUnits)
	})
	b.Run("groups-only", func(b *testing.B) { benchRSS(b, "500000,100000,5000", false, connector.ScopeGroups) })
	b.Run("all-scopes-incremental", func(b *testing.B) {
		benchRSS(b, "500000,100000,5000", true, connector.ScopeUsers, connector.ScopeGroups, connector.ScopeAdministrativeUnits)
	})
}

// benchRSS measures full runs into a fresh repository, or with
// incremental the run after one (the tenant unchanged).
func benchRSS(b *testing.B, sizes string, incremental bool, scopes ...connector.Scope) {
	cr := startRSSSimulator(b, sizes)
	h := harnessFor(b, cr, newFileRepo(b))
	b.Cleanup(func() { h.repo.Close() })          // its index lives outside the heap until then
	h.b.Graph.(*worker.GraphFactory).PageSize = 0 // Graph's largest pages, as in production
	var objects int
	var peakRSS, baseRSS, peakHeap, peakLive uint64
	for b.Loop() {
		b.StopTimer()
		h.freshRepo(b) // a fresh repository each time: every run is full
		if incremental {
			h.runConcurrently(scopes...)
		}
		debug.FreeOSMemory()
		if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
			b.Fatalf("reset peak RSS: %v", err)
		}
		baseRSS = procStatus(b, "VmHWM")
		stop := heapPeak(false, os.Getenv("ENTRAVAULT_RSS_HEAPPROFILE"))
		b.StartTimer()
		objects = 0
		for _, res := range h.runConcurrently(scopes...) {
			for _, n := range res.Counts {
				objects += n
			}
		}
		b.StopTimer()
		heap, live := stop()
		peakHeap, peakLive = max(peakHeap, heap), max(peakLive, live)
		peakRSS = max(peakRSS, procStatus(b, "VmHWM"))
		b.StartTimer()
	}
	b.ReportMetric(float64(objects*b.N)/b.Elapsed().Seconds(), "objects/s")
	b.ReportMetric(float64(peakRSS)/(1<<20), "peak-rss-MiB")
	b.ReportMetric(float64(baseRSS)/(1<<20), "base-rss-MiB")
	b.ReportMetric(float64(peakHeap)/(1<<20), "peak-heap-MiB")
	b.ReportMetric(float64(peakLive)/(1<<20), "peak-live-MiB")
}

// procStatus reads a kB field of /proc/self/status, in bytes.
func procStatus(b *testing.B, field string) uint64 {
	s, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(s), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				b.Fatal(err)
			}
			return kb << 10
		}
	}
	b.Fatalf("no %s in /proc/self/status", field)
	return 0
}
