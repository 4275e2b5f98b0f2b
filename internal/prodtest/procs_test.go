package prodtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// repoRoot is the module's root, two levels above this package.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	return root
}

// freePort asks the kernel for a free loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// freeLowPort is a free loopback port below 32768: Temporal's SQL schema
// stores membership ports as smallint, and the kernel's ephemeral ports
// (net.Listen on :0) are above that.
func freeLowPort(t *testing.T) int {
	t.Helper()
	for range 200 {
		port := 20000 + mrand.IntN(32767-20000)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue
		}
		l.Close()
		return port
	}
	t.Fatal("no free port below 32768")
	return 0
}

// proc is one OS process of the topology, in its own process group, its
// output in a log file.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	stopSig syscall.Signal
	done    chan struct{}
	err     error
	stopped bool
}

// procs starts and stops the topology's processes; on failure it prints
// the end of every log.
type procs struct {
	t      *testing.T
	root   string // every process's folders and logs; removed after they stop
	logDir string
	mu     sync.Mutex
	list   []*proc
}

func newProcs(t *testing.T) *procs {
	root, err := os.MkdirTemp("", "prodtest-")
	if err != nil {
		t.Fatal(err)
	}
	// Readable by PostgreSQL's user, which runs inside it.
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	p := &procs{t: t, root: root, logDir: filepath.Join(root, "logs")}
	if err := os.Mkdir(p.logDir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			p.dumpLogs(80)
		}
		p.stopAll()
		if err := os.RemoveAll(root); err != nil {
			t.Logf("remove %s: %v", root, err)
		}
	})
	return p
}

// dir makes a folder for a process; it outlives the process, unlike
// t.TempDir, whose cleanup would run while the process still writes.
func (p *procs) dir(name string) string {
	p.t.Helper()
	d := filepath.Join(p.root, name)
	if err := os.Mkdir(d, 0o755); err != nil {
		p.t.Fatal(err)
	}
	return d
}

// start runs bin with args and env (added to a minimal base environment)
// as its own process group. stopSig is what asks it to stop.
func (p *procs) start(name string, stopSig syscall.Signal, env []string, dir string, bin string, args ...string) *proc {
	p.t.Helper()
	logPath := filepath.Join(p.logDir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		p.t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		f.Close()
		p.t.Fatalf("start %s: %v", name, err)
	}
	pr := &proc{name: name, cmd: cmd, logPath: logPath, stopSig: stopSig, done: make(chan struct{})}
	go func() {
		pr.err = cmd.Wait()
		f.Close()
		close(pr.done)
	}()
	p.mu.Lock()
	p.list = append(p.list, pr)
	p.mu.Unlock()
	p.t.Logf("started %s (pid %d): %s %s", name, cmd.Process.Pid, filepath.Base(bin), strings.Join(args, " "))
	return pr
}

// baseEnv is what every process inherits: enough to run, nothing of the
// test's own ENTRAVAULT_* or AZURE_* settings.
func baseEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "ENTRAVAULT_") || strings.HasPrefix(k, "AZURE_") || strings.HasPrefix(k, "TEMPORAL_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// exited reports whether the process ended, and how.
func (pr *proc) exited() (bool, error) {
	select {
	case <-pr.done:
		return true, pr.err
	default:
		return false, nil
	}
}

// stop signals the process group, waits up to grace, then kills it.
func (pr *proc) stop(grace time.Duration) {
	if pr.stopped {
		return
	}
	pr.stopped = true
	if ok, _ := pr.exited(); ok {
		// The leader is gone; its group may not be.
		_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
		return
	}
	_ = syscall.Kill(-pr.cmd.Process.Pid, pr.stopSig)
	select {
	case <-pr.done:
	case <-time.After(grace):
	}
	_ = syscall.Kill(-pr.cmd.Process.Pid, syscall.SIGKILL)
	<-pr.done
}

// stopAll stops the processes in reverse start order (the roles first,
// PostgreSQL last).
func (p *procs) stopAll() {
	p.mu.Lock()
	list := append([]*proc(nil), p.list...)
	p.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		start := time.Now()
		list[i].stop(15 * time.Second)
		if d := time.Since(start); d > 2*time.Second {
			p.t.Logf("%s took %s to stop", list[i].name, d.Round(100*time.Millisecond))
		}
	}
}

// dumpLogs prints the last n lines of every process's log.
func (p *procs) dumpLogs(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.list {
		lines := tail(pr.logPath, n)
		p.t.Logf("---- %s: last %d lines of %s ----\n%s", pr.name, len(lines), pr.logPath, strings.Join(lines, "\n"))
	}
}

func tail(path string, n int) []string {
	f, err := os.Open(path)
	if err != nil {
		return []string{err.Error()}
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}

// checkAlive fails the test if any process has ended.
func (p *procs) checkAlive() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pr := range p.list {
		if ok, err := pr.exited(); ok {
			p.t.Fatalf("%s exited: %v (log %s)", pr.name, err, pr.logPath)
		}
	}
}

// waitFor polls cond until it holds, a process dies, or timeout passes.
func (p *procs) waitFor(what string, timeout time.Duration, cond func() error) {
	p.t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		p.checkAlive()
		if last = cond(); last == nil {
			return
		}
		if time.Now().After(deadline) {
			p.t.Fatalf("%s: not within %s: %v", what, timeout, last)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// run runs a short command to its end, failing the test with its output.
func run(t *testing.T, ctx context.Context, env []string, dir, bin string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out)
}

// runStdout runs a short command to its end and returns its standard
// output alone.
func runStdout(t *testing.T, ctx context.Context, env []string, dir, bin string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(baseEnv(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(bin), strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// binaries are the programs the topology is made of, built from this
// module at its pinned versions.
type binaries struct {
	entravault, temporalServer, temporalSQLTool string
}

// buildBinaries builds entravault and the Temporal server and SQL tool of
// the pinned go.temporal.io/server. The server's mains import CLI packages
// the product does not, whose checksums go.sum does not hold: they are
// built with a copy of go.mod and go.sum (-modfile), so the module's own
// files stay as they are and every version stays the one go.mod pins.
func buildBinaries(t *testing.T, ctx context.Context, root string) binaries {
	t.Helper()
	dir := filepath.Join(root, ".tools", "prodtest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	b := binaries{
		entravault:      filepath.Join(dir, "entravault"),
		temporalServer:  filepath.Join(dir, "temporal-server"),
		temporalSQLTool: filepath.Join(dir, "temporal-sql-tool"),
	}
	start := time.Now()
	run(t, ctx, nil, root, "go", "build", "-o", b.entravault, "./cmd/entravault")
	mod := t.TempDir()
	for _, f := range [][2]string{{"go.mod", "prodtest.mod"}, {"go.sum", "prodtest.sum"}} {
		raw, err := os.ReadFile(filepath.Join(root, f[0]))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(mod, f[1]), raw, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	modfile := "-modfile=" + filepath.Join(mod, "prodtest.mod")
	run(t, ctx, nil, root, "go", "build", "-mod=mod", modfile, "-o", b.temporalServer, "go.temporal.io/server/cmd/server")
	run(t, ctx, nil, root, "go", "build", "-mod=mod", modfile, "-o", b.temporalSQLTool, "go.temporal.io/server/cmd/tools/sql")
	t.Logf("binaries built in %s", time.Since(start).Round(time.Second))
	return b
}

// postgresBinDir finds Debian's PostgreSQL (scripts/postgres.sh installs
// it; `make test` runs that first).
func postgresBinDir(t *testing.T) string {
	t.Helper()
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d
		}
	}
	t.Fatal("PostgreSQL not found under /usr/lib/postgresql: run `make tools` (scripts/postgres.sh install)")
	return ""
}

// postgres is the throwaway cluster.
type postgres struct {
	port           int
	user, password string
}

// startPostgres initialises a cluster in a temp folder and runs it on a
// free loopback port. PostgreSQL refuses to run as root: as root, the
// folder belongs to the postgres user and both commands run as it.
func startPostgres(t *testing.T, ctx context.Context, ps *procs) postgres {
	t.Helper()
	bin := postgresBinDir(t)
	base := ps.dir("postgresql")
	var wrap []string // runuser -u postgres -- when root
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root needs the postgres user (Debian's package creates it): %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(base, uid, gid); err != nil {
			t.Fatal(err)
		}
		wrap = []string{"runuser", "-u", "postgres", "--"}
	}
	command := func(args ...string) (string, []string) {
		all := append(append([]string(nil), wrap...), args...)
		if all[0] != "runuser" {
			return all[0], all[1:]
		}
		path, err := exec.LookPath("runuser")
		if err != nil {
			t.Fatal(err)
		}
		return path, all[1:]
	}
	pg := postgres{port: freePort(t), user: "temporal", password: "temporal"}
	data := filepath.Join(base, "data")
	pwfile := filepath.Join(base, "pwfile")
	if err := os.WriteFile(pwfile, []byte(pg.password+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	name, args := command(filepath.Join(bin, "initdb"), "-D", data, "-U", pg.user, "--pwfile", pwfile,
		"--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-instructions")
	run(t, ctx, nil, base, name, args...)
	name, args = command(filepath.Join(bin, "postgres"), "-D", data, "-p", strconv.Itoa(pg.port), "-k", base,
		"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
		"-c", "full_page_writes=off", "-c", "max_connections=200")
	ps.start("postgresql", syscall.SIGINT, nil, base, name, args...) // SIGINT: fast shutdown
	ps.waitFor("PostgreSQL accepting connections", time.Minute, func() error {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", pg.port), time.Second)
		if err != nil {
			return err
		}
		c.Close()
		out, err := exec.Command(filepath.Join(bin, "pg_isready"), "-h", "127.0.0.1", "-p", strconv.Itoa(pg.port)).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%v: %s", err, out)
		}
		return nil
	})
	return pg
}

// startAzurite runs Azurite's blob service (scripts/azurite.sh installs it)
// on a free port and returns its address.
func startAzurite(t *testing.T, ps *procs, root string) string {
	t.Helper()
	bin := filepath.Join(root, ".tools", "node_modules", ".bin", "azurite-blob")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s not found: run `make tools` (scripts/azurite.sh install)", bin)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	_, port, _ := net.SplitHostPort(addr)
	data := ps.dir("azurite")
	// Azurite keeps running for a long while after SIGTERM; its data is
	// throwaway.
	ps.start("azurite", syscall.SIGKILL, nil, data, bin, "--silent", "--skipApiVersionCheck", "--loose",
		"--blobHost", "127.0.0.1", "--blobPort", port, "--location", data)
	ps.waitFor("Azurite listening", time.Minute, func() error {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	return addr
}

// httpOK checks that url answers 200.
func httpOK(url string) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}
