package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/api/workflowservice/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/internal/tenantsim/model"
	"github.com/entravault/entravault/workflows"
)

// lockedBuffer collects the stack's logs for the secret scan.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type harness struct {
	t     testing.TB
	stack *Stack
	api   string
	key   string
	creds tenantsim.Credentials
	logs  *lockedBuffer
	ctx   context.Context
}

func newHarness(t *testing.T, ctx context.Context, premium bool) *harness {
	return newHarnessWith(t, ctx, tenantsim.Options{Seed: 7, Users: 60, Groups: 10, AdministrativeUnits: 3, Applications: 5, Premium: premium, LogsPerDay: 5})
}

func newHarnessWith(t *testing.T, ctx context.Context, simOpts tenantsim.Options) *harness {
	cfg := testConfig(t, t.TempDir())
	cfg.Dev.NoSimulator = false
	cfg.Dev.GraphAddr, cfg.Dev.LoginAddr = "127.0.0.1:0", "127.0.0.1:0"
	port := freePort(t)
	cfg.API.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	cfg.API.PublicURL = "http://" + cfg.API.Addr
	cfg.Dev.UIPort = 0 // no UI needed here
	logs := &lockedBuffer{}
	s, err := Start(ctx, cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Options{
		Simulator: &simOpts,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Stop(context.Background()) })
	return &harness{t: t, stack: s, api: s.URLs().API, key: s.AdminKey(), creds: s.Simulator().Credentials(), logs: logs, ctx: ctx}
}

func (h *harness) call(method, path string, body any, into any) int {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(h.ctx, method, h.api+path, rd)
	req.Header.Set("Authorization", "Bearer "+h.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if into != nil {
		if err := json.Unmarshal(raw, into); err != nil {
			h.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode
}

type created struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	ConsentURL string `json:"consent_url"`
}

func (h *harness) create(cfg map[string]any) created {
	h.t.Helper()
	var c created
	if code := h.call("POST", "/api/v1/connectors", cfg, &c); code != http.StatusCreated {
		h.t.Fatalf("create: %d %+v", code, c)
	}
	return c
}

// signIn completes the sign-in page the way scripts do (sim_auto), and
// follows the redirect to the API's callback. It returns the callback's
// status and page.
func (h *harness) signIn(consentURL, action, upn string) (int, string) {
	h.t.Helper()
	u := consentURL + "&sim_auto=" + action + "&login_hint=" + url.QueryEscape(upn)
	resp, err := h.stack.Simulator().HTTPClient().Get(u)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

type connectorView struct {
	Status    string `json:"status"`
	LastError string `json:"last_error"`
	Config    struct {
		Retention map[string]int `json:"retention"`
	} `json:"config"`
	Verification struct {
		OK                 bool     `json:"ok"`
		MissingPermissions []string `json:"missing_permissions"`
	} `json:"verification"`
	Scopes map[string]struct {
		LastStatus   string `json:"last_status"`
		LastSnapshot string `json:"last_snapshot"`
	} `json:"scopes"`
}

func (h *harness) waitFor(id string, what string, ok func(connectorView) bool) connectorView {
	h.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var v connectorView
	for time.Now().Before(deadline) {
		v = connectorView{}
		h.call("GET", "/api/v1/connectors/"+id, nil, &v)
		if ok(v) {
			return v
		}
		time.Sleep(200 * time.Millisecond)
	}
	h.t.Fatalf("connector %s never reached %s; last %+v", id, what, v)
	return v
}

func directoryConnector(tenant, name string) map[string]any {
	return map[string]any{"name": name, "tenant": tenant, "kind": "directory",
		"scopes": map[string]any{"users": true}, "schedule": map[string]any{"interval": "1h"}, "retention": map[string]any{"days": 7}}
}

func (h *harness) admin(role string) tenantsim.AccountCredentials {
	for _, a := range h.creds.Admins {
		if (role == "" && len(a.Roles) == 0) || (role != "" && strings.Contains(strings.Join(a.Roles, ","), role)) {
			return a
		}
	}
	h.t.Fatalf("no account with role %q in %+v", role, h.creds.Admins)
	return tenantsim.AccountCredentials{}
}

// TestConnectorLifecycle goes through the product as an operator does, on
// the real Temporal server, worker and tenant simulator: create, sign in
// and accept on the simulator's page, verified, first snapshot, PATCH
// retention, run now, runs listed; then checks no secret reached Temporal
// history or the logs.
func TestConnectorLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	h := newHarness(t, ctx, true)
	tenant := h.stack.Simulator().Tenant()
	ga := h.admin("Global Administrator")

	// Missing permission: the app is registered with too few roles, so the
	// admin's consent grants too little and verification says which.
	full := append(append([]string(nil), model.BackupReadRoles...), model.RestoreWriteRoles...)
	tenant.SetAppCredential(model.BackupApp, model.AppCredential{Secret: h.creds.BackupApp.ClientSecret, ConfiguredRoles: []string{"Organization.Read.All", "RoleManagement.Read.Directory"}}, nil)
	weak := h.create(directoryConnector(h.creds.TenantDomain, "weak"))
	if code, page := h.signIn(weak.ConsentURL, "accept", ga.UPN); code != http.StatusOK {
		t.Fatalf("callback %d: %s", code, page)
	}
	v := h.waitFor(weak.ID, "verification_failed", func(v connectorView) bool { return v.Status == "verification_failed" })
	if !strings.Contains(strings.Join(v.Verification.MissingPermissions, ","), "User.Read.All") {
		t.Errorf("missing permissions not reported: %+v", v)
	}
	tenant.SetAppCredential(model.BackupApp, model.AppCredential{Secret: h.creds.BackupApp.ClientSecret, ConfiguredRoles: full}, nil)

	// The happy path.
	c := h.create(directoryConnector(h.creds.TenantDomain, "Contoso directory"))
	if c.Status != "awaiting_consent" || !strings.Contains(c.ConsentURL, "prompt=consent") {
		t.Fatalf("create answered %+v", c)
	}
	code, page := h.signIn(c.ConsentURL, "accept", ga.UPN)
	if code != http.StatusOK || !strings.Contains(page, "Consent received") {
		t.Fatalf("callback %d: %s", code, page)
	}
	v = h.waitFor(c.ID, "a first users snapshot", func(v connectorView) bool {
		return v.Status == "active" && v.Scopes["users"].LastStatus == "succeeded"
	})
	if !v.Verification.OK {
		t.Errorf("verification: %+v", v.Verification)
	}
	snaps, err := h.stack.Repository().Snapshots(ctx, repository.Filter{Connector: c.ID, Scope: "users"})
	if err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots: %v %+v", err, snaps)
	}
	live := 0
	for i := 0; i < tenant.Len(model.KindUser); i++ {
		if tenant.IsLive(model.MakeRef(model.KindUser, int32(i))) {
			live++
		}
	}
	if got := snaps[0].Counts["user"]; got != live {
		t.Errorf("snapshot holds %d users, tenant has %d", got, live)
	}

	// Replaying the callback (same state) is refused.
	code, _ = h.signIn(c.ConsentURL, "accept", ga.UPN)
	if code != http.StatusBadRequest {
		t.Errorf("replayed consent answered %d", code)
	}

	// PATCH retention through the workflow's validated Update.
	var bad map[string]any
	if code := h.call("PATCH", "/api/v1/connectors/"+c.ID, map[string]any{"schedule": map[string]any{"interval": "1s"}}, &bad); code != http.StatusBadRequest {
		t.Errorf("invalid patch answered %d %v", code, bad)
	}
	if code := h.call("PATCH", "/api/v1/connectors/"+c.ID, map[string]any{"retention": map[string]any{"keep_last": 3}}, &v); code != http.StatusOK {
		t.Fatalf("patch: %d", code)
	}
	v = h.waitFor(c.ID, "new retention", func(v connectorView) bool { return v.Config.Retention["keep_last"] == 3 })

	// Run now, then the runs list shows both runs.
	var rn struct {
		RunIDs map[string]string `json:"run_ids"`
	}
	if code := h.call("POST", "/api/v1/connectors/"+c.ID+"/backups", map[string]any{"scope": "users"}, &rn); code != http.StatusAccepted || rn.RunIDs["users"] == "" {
		t.Fatalf("run now: %d %+v", code, rn)
	}
	var runs struct {
		Runs []struct {
			RunID  string `json:"run_id"`
			Status string `json:"status"`
			Result *struct {
				Incremental bool `json:"incremental"`
			} `json:"result"`
		} `json:"runs"`
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		h.call("GET", "/api/v1/connectors/"+c.ID+"/runs", nil, &runs)
		if len(runs.Runs) >= 2 && runs.Runs[0].RunID == rn.RunIDs["users"] && runs.Runs[0].Status == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s never succeeded: %+v", rn.RunIDs["users"], runs)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if r := runs.Runs[0].Result; r == nil || !r.Incremental {
		t.Errorf("second run should be an incremental delta read: %+v", runs.Runs[0])
	}

	// A second connector of the same tenant: consent is on record, so the
	// sign-in only identifies the administrator.
	c2 := h.create(directoryConnector(h.creds.TenantID, "same tenant"))
	if strings.Contains(c2.ConsentURL, "prompt=consent") {
		t.Errorf("consent asked again: %s", c2.ConsentURL)
	}

	// Listing and filters.
	var list struct {
		Connectors []struct {
			ID     string `json:"id"`
			Status string `json:"status"`
		} `json:"connectors"`
	}
	h.call("GET", "/api/v1/connectors?status=active", nil, &list)
	if len(list.Connectors) != 1 || list.Connectors[0].ID != c.ID {
		t.Errorf("active connectors: %+v", list)
	}

	h.scanForSecrets(ga.Password)
	h.recordHistory(c.ID)

	// A live read and a restore plan leave directory data of their own.
	rid := h.startRestore(c.ID, map[string]any{})
	h.waitRestore(c.ID, rid, workflows.RestorePlanned)
	ofConnector := func() []string {
		snaps, err := h.stack.Repository().Snapshots(ctx, repository.Filter{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, s := range snaps {
			if strings.HasPrefix(s.Connector, c.ID) {
				out = append(out, s.Connector+"/"+s.Scope)
			}
		}
		return out
	}
	if left := ofConnector(); len(left) < 3 {
		t.Fatalf("before the purge, the bucket holds only %v", left)
	}

	// DELETE ?purge=true stops the connector and, after the grace
	// (purgeGraceInTests), removes everything of it: backups, live reads,
	// restore plans; the bucket's listing shows none.
	if code := h.call("DELETE", "/api/v1/connectors/"+c.ID+"?purge=true", nil, nil); code != http.StatusAccepted {
		t.Fatalf("delete: %d", code)
	}
	for deadline := time.Now().Add(time.Minute); ; {
		left := ofConnector()
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshots left after purge: %v", left)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code := h.call("GET", "/api/v1/connectors/"+c.ID+"/runs", nil, nil); code != http.StatusOK {
		t.Errorf("a deleted connector's runs stay readable: %d", code)
	}
}

// recordHistory saves the connector's history for the workflows package's
// replay test when ENTRAVAULT_RECORD_HISTORIES names a folder: run it after
// a deliberate workflow change, and commit the new file beside the old.
func (h *harness) recordHistory(connectorID string) {
	dir := os.Getenv("ENTRAVAULT_RECORD_HISTORIES")
	if dir == "" {
		return
	}
	it := h.stack.Client().GetWorkflowHistory(h.ctx, workflows.ConnectorWorkflowID(connectorID), "", false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	var hist historypb.History
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			h.t.Fatal(err)
		}
		hist.Events = append(hist.Events, ev)
	}
	b, err := protojson.Marshal(&hist)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "connector-lifecycle.json"), b, 0o644); err != nil {
		h.t.Fatal(err)
	}
}

// scanForSecrets reads every workflow history of the namespace and the
// logs: neither may hold the app's secret, an admin password or a code.
func (h *harness) scanForSecrets(password string) {
	t := h.t
	secrets := map[string]string{"client secret": h.creds.BackupApp.ClientSecret, "admin password": password}
	cl := h.stack.Client()
	resp, err := cl.ListWorkflow(h.ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetExecutions()) < 3 {
		t.Fatalf("expected connector and backup workflows, found %d", len(resp.GetExecutions()))
	}
	for _, e := range resp.GetExecutions() {
		it := cl.GetWorkflowHistory(h.ctx, e.GetExecution().GetWorkflowId(), e.GetExecution().GetRunId(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
		var all bytes.Buffer
		for it.HasNext() {
			ev, err := it.Next()
			if err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(ev)
			all.Write(b)
		}
		for what, s := range secrets {
			if s != "" && strings.Contains(all.String(), s) {
				t.Errorf("%s found in the history of %s", what, e.GetExecution().GetWorkflowId())
			}
		}
		if strings.Contains(all.String(), "code=") {
			t.Errorf("an authorization code may be in the history of %s", e.GetExecution().GetWorkflowId())
		}
	}
	logs := h.logs.String()
	for what, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("%s found in the logs", what)
		}
	}
}

// TestConsentFailures: cancel, a non-admin account, and a sign-in-log
// connector on a tenant without P1/P2.
func TestConsentFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	h := newHarness(t, ctx, false)

	cancelled := h.create(directoryConnector(h.creds.TenantDomain, "cancelled"))
	if code, page := h.signIn(cancelled.ConsentURL, "cancel", h.admin("Global Administrator").UPN); code != http.StatusOK || !strings.Contains(page, "access_denied") {
		t.Errorf("cancel callback %d: %s", code, page)
	}
	h.waitFor(cancelled.ID, "consent_failed", func(v connectorView) bool {
		return v.Status == "consent_failed" && strings.Contains(v.LastError, "access_denied")
	})

	user := h.create(directoryConnector(h.creds.TenantDomain, "non-admin"))
	h.signIn(user.ConsentURL, "accept", h.admin("").UPN)
	h.waitFor(user.ID, "consent_failed", func(v connectorView) bool {
		return v.Status == "consent_failed" && strings.Contains(v.LastError, "consent_required")
	})

	logs := h.create(map[string]any{"name": "sign-ins", "tenant": h.creds.TenantDomain, "kind": "activity_logs",
		"scopes": map[string]any{"sign_ins": true}, "initial_log_span": "3d", "schedule": map[string]any{"interval": "1h"}, "retention": map[string]any{"days": 30}})
	h.signIn(logs.ConsentURL, "accept", h.admin("Global Administrator").UPN)
	v := h.waitFor(logs.ID, "verification_failed", func(v connectorView) bool { return v.Status == "verification_failed" })
	if !strings.Contains(v.LastError, "P1") {
		t.Errorf("licence failure not explained: %q", v.LastError)
	}

	// Bad input on the API: unknown field, wrong type, oversized body.
	for name, body := range map[string]string{
		"unknown field": `{"name":"x","tenant":"contoso.com","kind":"directory","scopes":{"users":true},"bogus":1}`,
		"wrong type":    `{"name":5}`,
		"too large":     `{"name":"` + strings.Repeat("x", 300<<10) + `"}`,
		"not json":      `name=x`,
	} {
		req, _ := http.NewRequestWithContext(ctx, "POST", h.api+"/api/v1/connectors", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+h.key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if resp.StatusCode < 400 || resp.StatusCode >= 500 || e.Error.Code == "" {
			t.Errorf("%s: %d %+v", name, resp.StatusCode, e)
		}
	}
	var list struct {
		Connectors []any `json:"connectors"`
	}
	h.call("GET", "/api/v1/connectors", nil, &list)
	if len(list.Connectors) != 3 {
		t.Errorf("bad requests created connectors: %d listed", len(list.Connectors))
	}
}
