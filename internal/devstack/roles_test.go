package devstack

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/config"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/internal/wiring"
)

// TestRestartKeepsTenantAndAPIRoleServesSnapshots is what a new user did:
// back up, stop the dev stack, start it again on the same folder, back up
// again. The simulated tenant must come back with its consent, churn and
// delta state, so the second backup succeeds incrementally. Then the api
// role, started exactly as `entravault api` starts it, serves the
// snapshots from the same storage.
func TestRestartKeepsTenantAndAPIRoleServesSnapshots(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	simOpts := tenantsim.Options{Seed: 11, Users: 40, Groups: 6, AdministrativeUnits: 3, Applications: 5, LogsPerDay: 5}
	h := newHarnessWith(t, ctx, simOpts)
	c := h.create(directoryConnector(h.creds.TenantDomain, "restarted"))
	h.signIn(c.ConsentURL, "accept", h.admin("Global Administrator").UPN)
	h.waitFor(c.ID, "a first users snapshot", func(v connectorView) bool {
		return v.Status == "active" && v.Scopes["users"].LastStatus == "succeeded"
	})
	tenantID := h.creds.TenantID
	churned := h.stack.Simulator().Churn(10)

	// Like `make run`, the second start listens where the first did:
	// stored delta links name the Graph address.
	cfg := *h.stack.cfg
	cfg.Dev.GraphAddr, cfg.Dev.LoginAddr = hostOf(t, h.creds.GraphURL), hostOf(t, h.creds.AuthorityHost)
	h.stack.Stop(context.Background())
	s, err := Start(ctx, &cfg, slog.New(slog.NewTextHandler(h.logs, nil)), Options{Simulator: &simOpts})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	h.stack, h.api, h.creds = s, s.URLs().API, s.Simulator().Credentials()
	if h.creds.TenantID != tenantID {
		t.Fatalf("the tenant came back as %s, was %s", h.creds.TenantID, tenantID)
	}
	if got := s.Simulator().Tenant().GrantedRoles(h.creds.BackupApp.ClientID); len(got) == 0 {
		t.Fatal("the admin consent was lost in the restart")
	}
	if code := h.call("POST", "/api/v1/connectors/"+c.ID+"/backups", map[string]any{"scope": "users"}, nil); code != http.StatusAccepted {
		t.Fatalf("run now: %d", code)
	}
	var runs struct {
		Runs []struct {
			Status string         `json:"status"`
			Error  string         `json:"error"`
			Result map[string]any `json:"result"`
		} `json:"runs"`
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		h.call("GET", "/api/v1/connectors/"+c.ID+"/runs?scope=users", nil, &runs)
		if len(runs.Runs) >= 2 && runs.Runs[0].Status != "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the second backup never ended: %+v\n%s", runs, h.logs.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := runs.Runs[0]; r.Status != "succeeded" {
		t.Fatalf("the backup after the restart: %s %s (churn was %+v)", r.Status, r.Error, churned)
	}
	if inc, _ := runs.Runs[0].Result["incremental"].(bool); !inc {
		t.Fatalf("the backup after the restart was not incremental: the delta state was lost: %+v", runs.Runs[0].Result)
	}

	apiURL := startAPIRole(t, ctx, s)
	hh := *h
	hh.api = apiURL
	var list api.SnapshotList
	hh.getJSON("/api/v1/connectors/"+c.ID+"/snapshots?scope=users", &list)
	if len(list.Snapshots) != 2 {
		t.Fatalf("the api role lists %d users snapshots, want 2", len(list.Snapshots))
	}
	var objs struct {
		Objects []map[string]any `json:"objects"`
	}
	hh.getJSON("/api/v1/connectors/"+c.ID+"/snapshots/"+list.Snapshots[0].ID+"/objects?type=user", &objs)
	if len(objs.Objects) == 0 {
		t.Fatal("the api role shows no users in the newest snapshot")
	}
}

// startAPIRole runs wiring.RunAPI, the body of `entravault api`, with flags
// pointing at the dev stack's Temporal server, storage and tenant.
func startAPIRole(t *testing.T, ctx context.Context, s *Stack) string {
	t.Helper()
	local, err := repository.LocalURLs(s.cfg.Dev.DataDir)
	if err != nil {
		t.Fatal(err)
	}
	creds := s.Simulator().Credentials()
	secret := filepath.Join(t.TempDir(), "graph-secret")
	if err := os.WriteFile(secret, []byte(creds.BackupApp.ClientSecret), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(config.RoleAPI, []string{
		"--temporal-address", s.URLs().TemporalGRPC, "--blob-url", local.BlobURL, "--secrets-url", local.SecretsURL,
		"--graph-client-id", creds.BackupApp.ClientID, "--graph-client-secret-file", secret,
		"--graph-authority-host", creds.AuthorityHost, "--graph-url", creds.GraphURL, "--graph-ca-file", creds.CACertPath,
		"--api-addr", "127.0.0.1:0",
	})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.API.Addr)
	if err != nil {
		t.Fatal(err)
	}
	actx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- wiring.RunAPI(actx, cfg, ln, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	t.Cleanup(func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("api role: %v", err)
		}
	})
	return "http://" + ln.Addr().String()
}

func hostOf(t *testing.T, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u.Host
}
