package repository

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	_ "gocloud.dev/blob/azureblob"
	"gocloud.dev/blob/memblob"
	"gocloud.dev/secrets"
)

// A backend makes a fresh, empty bucket URL for one test.
type backend struct {
	name   string
	bucket func(t *testing.T) string
}

// mem:// opens a new empty bucket on every open, so the mem backend keeps
// one bucket per test and Init/Open go through it: "reopening" then means a
// second Repository with its own caches over the same bucket.
var (
	memMu      sync.Mutex
	memBuckets = map[string]*store{}
)

func openCfg(ctx context.Context, cfg Config, init bool) (*Repository, error) {
	memMu.Lock()
	st, ok := memBuckets[cfg.BlobURL]
	memMu.Unlock()
	if !ok {
		if init {
			return Init(ctx, cfg)
		}
		return Open(ctx, cfg)
	}
	k, err := secrets.OpenKeeper(ctx, cfg.SecretsURL)
	if err != nil {
		return nil, err
	}
	defer k.Close()
	shared := &store{b: st.b, keepOpen: true}
	if init {
		return initStore(ctx, shared, k, cfg)
	}
	return openStore(ctx, shared, k, cfg)
}

func backends() []backend {
	return []backend{
		{"mem", func(t *testing.T) string {
			name := fmt.Sprintf("mem://?t=%d", time.Now().UnixNano())
			b := memblob.OpenBucket(nil)
			memMu.Lock()
			memBuckets[name] = &store{b: b}
			memMu.Unlock()
			t.Cleanup(func() { b.Close() })
			return name
		}},
		{"file", func(t *testing.T) string {
			cfg, err := LocalURLs(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return cfg.BlobURL
		}},
		{"azblob-azurite", azuriteBucket},
	}
}

// The conformance suite runs the repository's contract against every
// backend: mem://, file:// (fsynced) and azblob:// on Azurite.
func TestConformance(t *testing.T) {
	for _, be := range backends() {
		t.Run(be.name, func(t *testing.T) {
			for _, c := range conformanceCases {
				t.Run(c.name, func(t *testing.T) {
					cfg := Config{BlobURL: be.bucket(t), SecretsURL: TestKeyURL(), PackSize: 256 << 10, GroupSize: 32 << 10}
					c.run(t, cfg)
				})
			}
		})
	}
}

var conformanceCases = []struct {
	name string
	run  func(t *testing.T, cfg Config)
}{
	{"init-open-wrong-key", func(t *testing.T, cfg Config) {
		ctx := context.Background()
		r, err := openCfg(ctx, cfg, true)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		if _, err := openCfg(ctx, cfg, true); !errors.Is(err, ErrExists) {
			t.Fatalf("second Init: %v, want ErrExists", err)
		}
		bad := cfg
		bad.SecretsURL = TestKeyURL()
		if _, err := openCfg(ctx, bad, false); !errors.Is(err, ErrWrongKey) {
			t.Fatalf("Open with another key: %v, want ErrWrongKey", err)
		}
		r, err = openCfg(ctx, cfg, false)
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
	}},
	{"backup-reopen-read-verify", func(t *testing.T, cfg Config) {
		ctx := context.Background()
		r, err := openCfg(ctx, cfg, true)
		if err != nil {
			t.Fatal(err)
		}
		ten, users := tenantUsers(11, 300)
		s1, err := backupUsers(t, r, ten, users, "", t0)
		if err != nil {
			t.Fatal(err)
		}
		changed := mutate(ten, users, 40, 3)
		s2, err := backupUsers(t, r, ten, changed, s1.ID, t0.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		r.Close()
		r, err = openCfg(ctx, cfg, false) // a new process
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		snaps, err := r.Snapshots(ctx, Filter{Connector: "entra", Scope: "users"})
		if err != nil || len(snaps) != 2 || snaps[0].ID != s1.ID || snaps[1].ID != s2.ID {
			t.Fatalf("Snapshots = %+v, %v", snaps, err)
		}
		checkSnapshot(t, r, s1.ID, users)
		checkSnapshot(t, r, s2.ID, changed)
		n := 0
		if err := r.Diff(ctx, s1.ID, s2.ID, func(c Change) error { n++; return nil }); err != nil || n == 0 || n > 40 {
			t.Fatalf("Diff: %d changes, %v", n, err)
		}
		rep := verifyAll(t, r)
		if rep.PacksRead == 0 {
			t.Fatal("verify read nothing")
		}
	}},
	{"checkpoint-resume", func(t *testing.T, cfg Config) {
		ctx := context.Background()
		r, err := openCfg(ctx, cfg, true)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		_, users := tenantUsers(12, 200)
		w, err := r.NewWriter(ctx, WriterOptions{Connector: "entra", Scope: "users", Time: t0, Full: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users[:120] {
			if err := w.Put(ctx, "user", u.ID(), u.JSON()); err != nil {
				t.Fatal(err)
			}
		}
		cp, err := w.Checkpoint(ctx)
		if err != nil {
			t.Fatal(err)
		}
		w.Abort()
		r2, err := openCfg(ctx, cfg, false)
		if err != nil {
			t.Fatal(err)
		}
		defer r2.Close()
		w, err = r2.ResumeWriter(ctx, cp)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range users[100:] {
			if err := w.Put(ctx, "user", u.ID(), u.JSON()); err != nil {
				t.Fatal(err)
			}
		}
		s, err := w.Commit(ctx)
		if err != nil {
			t.Fatal(err)
		}
		checkSnapshot(t, r2, s.ID, users)
		if st, _ := r2.Stats(ctx); st.ObjectBlobs != len(users) {
			t.Fatalf("ObjectBlobs = %d, want %d", st.ObjectBlobs, len(users))
		}
	}},
	{"prune-keeps-newest", func(t *testing.T, cfg Config) {
		ctx := context.Background()
		r, err := openCfg(ctx, cfg, true)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		ten, users := tenantUsers(13, 150)
		var parent SnapshotID
		for day := range 5 {
			users = mutate(ten, users, 50, uint64(day))
			s, err := backupUsers(t, r, ten, users, parent, t0.AddDate(0, 0, day))
			if err != nil {
				t.Fatal(err)
			}
			parent = s.ID
		}
		rep, err := r.Prune(ctx, PruneOptions{Policy: RetentionPolicy{KeepLast: 1}})
		if err != nil || rep.Kept != 1 || len(rep.Forget) != 4 {
			t.Fatalf("Prune = %+v, %v", rep, err)
		}
		r2, err := openCfg(ctx, cfg, false)
		if err != nil {
			t.Fatal(err)
		}
		defer r2.Close()
		checkSnapshot(t, r2, parent, users)
		verifyAll(t, r2)
	}},
}

var (
	azuriteOnce sync.Once
	azuriteAddr string
	azuriteErr  error
)

const (
	// Azurite's documented development account; public, not a secret.
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// azuriteBucket starts Azurite once per test binary on a free loopback port
// and returns a fresh container's azblob:// URL.
func azuriteBucket(t *testing.T) string {
	t.Helper()
	azuriteOnce.Do(func() { azuriteAddr, azuriteErr = startAzurite() })
	if azuriteErr != nil {
		t.Fatalf("azurite: %v", azuriteErr)
	}
	ctx := context.Background()
	cred, err := azblob.NewSharedKeyCredential(azuriteAccount, azuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	client, err := azblob.NewClientWithSharedKeyCredential(fmt.Sprintf("http://%s/%s", azuriteAddr, azuriteAccount), cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	container := fmt.Sprintf("t%d", time.Now().UnixNano())
	if _, err := client.CreateContainer(ctx, container, nil); err != nil {
		t.Fatalf("create container: %v", err)
	}
	return fmt.Sprintf("azblob://%s?domain=%s&protocol=http&localemu=true", container, azuriteAddr)
}

func startAzurite() (string, error) {
	root, err := moduleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(root, ".tools", "node_modules", ".bin", "azurite-blob")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("%s not found: run scripts/azurite.sh install (needs npm)", bin)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	_, port, _ := net.SplitHostPort(addr)
	l.Close()
	dir, err := os.MkdirTemp("", "azurite")
	if err != nil {
		return "", err
	}
	cmd := exec.Command(bin, "--silent", "--skipApiVersionCheck", "--loose", "--blobHost", "127.0.0.1", "--blobPort", port, "--location", dir)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return "", err
	}
	// The process outlives single tests; it is killed when the test binary
	// exits (see TestMain).
	azuriteCmd, azuriteDir = cmd, dir
	os.Setenv("AZURE_STORAGE_ACCOUNT", azuriteAccount)
	os.Setenv("AZURE_STORAGE_KEY", azuriteKey)
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr, nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return "", fmt.Errorf("azurite did not listen on %s within 60s", addr)
}

var (
	azuriteCmd *exec.Cmd
	azuriteDir string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if azuriteCmd != nil {
		azuriteCmd.Process.Kill()
		azuriteCmd.Wait()
		os.RemoveAll(azuriteDir)
	}
	os.Exit(code)
}

func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the test directory")
		}
		dir = parent
	}
}

func init() {
	// ENTRAVAULT_SPILL_MIN=1 runs every test with the writer spilling its
	// changes to run files at each checkpoint.
	if v := os.Getenv("ENTRAVAULT_SPILL_MIN"); v != "" {
		spillMin, _ = strconv.Atoi(v)
	}
}
