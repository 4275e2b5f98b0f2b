package prodtest

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/internal/tenantsim/entra"
	"github.com/entravault/entravault/workflows"
)

// Azurite's documented development account; public, not a secret.
const (
	azuriteAccount = "devstoreaccount1"
	azuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// local is what this machine gives the roles in place of compose's
// containers, volumes and secrets.
type local struct {
	temporal, apiAddr, blobURL, secretsURL string
	graphSecretFile, restoreSecretFile     string
	creds                                  tenantsim.Credentials
}

// localOverrides is everything the api and worker processes get that
// differs from docker/compose.yaml; the rest (command, flags, every other
// ENTRAVAULT_* variable) is read from compose as it is.
func localOverrides(l local) map[string]overrides {
	common := map[string]string{
		"ENTRAVAULT_TEMPORAL_ADDRESS":         l.temporal,                 // compose: temporal:7233
		"ENTRAVAULT_BLOB_URL":                 l.blobURL,                  // compose: file:// on a volume
		"ENTRAVAULT_SECRETS_URL":              l.secretsURL,               // compose: ${ENTRAVAULT_SECRETS_URL:?…}
		"ENTRAVAULT_GRAPH_CLIENT_ID":          l.creds.BackupApp.ClientID, // compose: ${…:?…}
		"ENTRAVAULT_GRAPH_CLIENT_SECRET_FILE": l.graphSecretFile,          // compose: /run/secrets/graph_client_secret
	}
	tenant := map[string]string{
		// The simulated tenant instead of login.microsoftonline.com and
		// graph.microsoft.com, and its CA.
		"ENTRAVAULT_GRAPH_AUTHORITY_HOST": l.creds.AuthorityHost,
		"ENTRAVAULT_GRAPH_URL":            l.creds.GraphURL,
		"ENTRAVAULT_GRAPH_CA_FILE":        l.creds.CACertPath,
		// The restore application (compose restores with the backup one).
		"ENTRAVAULT_RESTORE_CLIENT_ID": l.creds.RestoreApp.ClientID,
		// azblob:// on Azurite's development account.
		"AZURE_STORAGE_ACCOUNT": azuriteAccount,
		"AZURE_STORAGE_KEY":     azuriteKey,
	}
	apiReplace := clone(common)
	apiReplace["ENTRAVAULT_PUBLIC_URL"] = "http://" + l.apiAddr // compose: ${ENTRAVAULT_PUBLIC_URL:?…}
	workerAdd := clone(tenant)
	workerAdd["ENTRAVAULT_RESTORE_CLIENT_SECRET_FILE"] = l.restoreSecretFile
	return map[string]overrides{
		"api": {
			Flags:   map[string]string{"api-addr": l.apiAddr}, // compose: 0.0.0.0:8080 in its container
			Replace: apiReplace,
			Add:     tenant,
		},
		"worker": {Replace: common, Add: workerAdd},
	}
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// TestProductionTopology runs the production stack of docker/compose.yaml
// as separate processes (PostgreSQL, Temporal on it, Azurite, the tenant
// simulator, one api and two workers) and drives it through the REST API:
// two connectors, consent, backups, browse, diff, export, and a restore
// after an incident.
func TestProductionTopology(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	st := startStack(t, ctx)
	a, ps, creds, admin, graphBase, began := st.api, st.ps, st.creds, st.admin, st.graphBase, st.began

	// Two connectors: the directory and its activity logs.
	dir := a.create(map[string]any{"name": "directory", "tenant": creds.TenantDomain, "kind": "directory",
		"scopes": map[string]any{"users": true, "groups": map[string]any{"all": true, "members": true},
			"administrative_units": map[string]any{"all": true}, "roles": true},
		"schedule": map[string]any{"interval": "24h"}, "retention": map[string]any{"days": 7}})
	logs := a.create(map[string]any{"name": "activity", "tenant": creds.TenantDomain, "kind": "activity_logs",
		"scopes": map[string]any{"sign_ins": true, "directory_audits": true}, "initial_log_span": "3d",
		"schedule": map[string]any{"interval": "24h"}, "retention": map[string]any{"days": 30}})
	for _, c := range []created{dir, logs} {
		if c.ConsentURL != "" {
			if code, page := a.consent(c.ConsentURL, admin.UPN); code != http.StatusOK {
				t.Fatalf("consent for %s: %d %s", c.ID, code, page)
			}
		}
	}
	dirScopes := []string{"users", "groups", "administrative_units", "roles"}
	a.waitScopes(dir.ID, dirScopes...)
	a.waitScopes(logs.ID, "sign_ins", "directory_audits")
	t.Logf("first backups of every scope in %s", time.Since(began).Round(time.Second))

	// Listing reads Temporal's visibility store (PostgreSQL here) by the
	// registered search attributes; runs are listed per connector.
	var list struct {
		Connectors []struct {
			ID string `json:"id"`
		} `json:"connectors"`
	}
	a.get("/api/v1/connectors?status=active", &list)
	if len(list.Connectors) != 2 {
		t.Errorf("active connectors listed: %+v", list)
	}
	var runs struct {
		Runs []struct {
			Scope  string `json:"scope"`
			Status string `json:"status"`
		} `json:"runs"`
	}
	a.get("/api/v1/connectors/"+dir.ID+"/runs", &runs)
	if len(runs.Runs) < len(dirScopes) {
		t.Errorf("runs of %s: %+v", dir.ID, runs)
	}

	// Browse: snapshots, one snapshot's counts, its objects, one object.
	cbase := "/api/v1/connectors/" + dir.ID
	var users api.SnapshotList
	a.get(cbase+"/snapshots?scope=users", &users)
	if len(users.Snapshots) != 1 {
		t.Fatalf("users snapshots after the first backup: %+v", users)
	}
	s1 := users.Snapshots[0]
	var shown api.SnapshotView
	a.get(cbase+"/snapshots/"+s1.ID, &shown)
	if shown.Objects == 0 || shown.Counts["user"] == 0 {
		t.Errorf("snapshot %s shows no users: %+v", s1.ID, shown)
	}
	var objs api.ObjectList
	a.get(cbase+"/snapshots/"+s1.ID+"/objects", &objs)
	if len(objs.Objects) == 0 {
		t.Fatalf("snapshot %s lists no objects", s1.ID)
	}
	var obj map[string]any
	a.get(cbase+"/objects/"+url.PathEscape(objs.Objects[0].ID), &obj)
	if len(obj) == 0 {
		t.Errorf("object %s is empty", objs.Objects[0].ID)
	}
	for _, scope := range []string{"sign_ins", "directory_audits"} {
		var list api.SnapshotList
		a.get("/api/v1/connectors/"+logs.ID+"/snapshots?scope="+scope, &list)
		if len(list.Snapshots) == 0 || list.Snapshots[0].Objects == 0 {
			t.Errorf("%s: no records backed up: %+v", scope, list)
		}
	}

	// Restore: consent for the restore application, an incident, a plan,
	// its apply, and a plan afterwards that finds nothing left to do.
	var rc api.RestoreConsentResponse
	if code := a.call("POST", cbase+"/restore-consent", nil, &rc); code != http.StatusOK {
		t.Fatalf("restore consent link: %d %+v", code, rc)
	}
	if code, page := a.consent(rc.ConsentURL, admin.UPN); code != http.StatusOK || !strings.Contains(page, "Restore consent received") {
		t.Fatalf("restore consent callback %d: %s", code, page)
	}
	ps.waitFor("restore ready for every object type", 3*time.Minute, func() error {
		var v struct {
			Status       string `json:"status"`
			Verification struct {
				Restore []struct {
					Type  string `json:"type"`
					Ready bool   `json:"ready"`
				} `json:"restore"`
			} `json:"verification"`
		}
		a.get(cbase, &v)
		ready := 0
		for _, r := range v.Verification.Restore {
			if r.Ready {
				ready++
			}
		}
		if v.Status != "active" || ready != len(restore.SelectableTypes) {
			return fmt.Errorf("status %s, %d of %d types ready", v.Status, ready, len(restore.SelectableTypes))
		}
		return nil
	})
	var incident tenantsim.IncidentReport
	simPost(t, graphBase+"/_sim/incident", map[string]any{"kind": "tamper_users", "percent": 10}, &incident)
	tampered := 0
	for _, ids := range incident.Affected {
		tampered += len(ids)
	}
	if tampered == 0 {
		t.Fatalf("the incident changed nothing: %+v", incident)
	}
	rid := a.startRestore(dir.ID, map[string]any{})
	planned := a.waitRestore(dir.ID, rid, workflows.RestorePlanned)
	writes := 0
	for kind, n := range planned.Planned.ByKind {
		if kind != restore.Skip {
			writes += n
		}
	}
	if writes == 0 {
		t.Fatalf("%d users tampered with, and the plan writes nothing: %+v", tampered, planned.Planned)
	}
	if code := a.call("POST", cbase+"/restores/"+rid+"/apply", nil, nil); code != http.StatusAccepted {
		t.Fatalf("apply: %d", code)
	}
	applied := a.waitRestore(dir.ID, rid, workflows.RestoreSucceeded, workflows.RestorePartiallySucceeded)
	if applied.Status != workflows.RestoreSucceeded {
		var failed api.ActionPage
		a.get(cbase+"/restores/"+rid+"/actions?outcome=failed&limit=50", &failed)
		t.Fatalf("restore ended %s: %+v\nfailed: %+v", applied.Status, applied.Applied, failed.Actions)
	}
	again := a.waitRestore(dir.ID, a.startRestore(dir.ID, map[string]any{"snapshots": snapshotIDs(applied)}), workflows.RestorePlanned)
	for kind, n := range again.Planned.ByKind {
		if kind != restore.Skip && n > 0 {
			t.Errorf("after the restore, a new plan still has %d %s", n, kind)
		}
	}
	t.Logf("restore: plan %v, applied %v, in %s", planned.Planned.ByKind, applied.Applied.ByOutcome, time.Since(began).Round(time.Second))

	// Diff: the tenant changes, a run now backs every scope up again.
	newest := func(scope string) string {
		var list api.SnapshotList
		a.get(cbase+"/snapshots?scope="+scope, &list)
		if len(list.Snapshots) == 0 {
			return ""
		}
		return list.Snapshots[0].ID
	}
	before := map[string]string{}
	for _, scope := range dirScopes {
		before[scope] = newest(scope)
	}
	simPost(t, graphBase+"/_sim/churn?percent=5", nil)
	if code := a.call("POST", cbase+"/backups", nil, nil); code != http.StatusAccepted {
		t.Fatalf("run now: %d", code)
	}
	for _, scope := range dirScopes {
		ps.waitFor("a new "+scope+" snapshot", 3*time.Minute, func() error {
			if newest(scope) == before[scope] {
				return fmt.Errorf("newest %s snapshot is still %s", scope, before[scope])
			}
			return nil
		})
	}
	a.waitScopes(dir.ID, dirScopes...)
	users = api.SnapshotList{}
	a.get(cbase+"/snapshots?scope=users", &users)
	s2 := users.Snapshots[0]
	var diff api.Diff
	a.get(cbase+"/diff?from="+s1.ID+"&to="+s2.ID, &diff)
	if len(diff.Changes) == 0 {
		t.Errorf("churn between %s and %s, yet the diff is empty", s1.ID, s2.ID)
	}

	// Export: a tar.gz of <type>/<id>.json, each a JSON object.
	files := a.export(cbase + "/snapshots/" + s2.ID + "/export")
	if files == 0 {
		t.Errorf("export of %s holds no objects", s2.ID)
	}
	t.Logf("diff (%d changes) and export (%d files) done in %s", len(diff.Changes), files, time.Since(began).Round(time.Second))
	ps.checkAlive()
}

// stack is the running topology, as the test drives it.
type stack struct {
	api       *apiClient // with the first admin key
	ps        *procs
	creds     tenantsim.Credentials
	admin     tenantsim.AccountCredentials // the tenant's Global Administrator
	graphBase string                       // the simulator's Graph root (control API under /_sim)
	began     time.Time                    // binaries built

	// What a test that restarts parts of the stack needs.
	bins              binaries
	apiEnv, workerEnv []string // the roles' environment (storage settings included)
	workDir           string
	temporal          client.Client
}

// stackOptions sizes the topology.
type stackOptions struct {
	users   int      // the simulated tenant's users
	simArgs []string // more `entravault simulate` flags
}

// startStack starts every process of the topology and makes the first
// admin key.
func startStack(t *testing.T, ctx context.Context) *stack {
	return startStackWith(t, ctx, stackOptions{users: 60})
}

// startStackWith is startStack with a tenant of o's size.
func startStackWith(t *testing.T, ctx context.Context, o stackOptions) *stack {
	root := repoRoot(t)
	services := readCompose(t, root)
	bins := buildBinaries(t, ctx, root)
	began := time.Now()
	ps := newProcs(t)

	pg := startPostgres(t, ctx, ps)
	azurite := startAzurite(t, ps, root)
	temporalAddr, tc := startTemporal(t, ctx, ps, bins, pg)
	creds := startSimulator(t, ps, bins, o)
	t.Logf("infrastructure up in %s", time.Since(began).Round(time.Second))

	// The bucket (a fresh container) and the deployment's secrets.
	blobURL := azuriteContainer(t, ctx, azurite)
	secrets := t.TempDir()
	l := local{
		temporal: temporalAddr, apiAddr: fmt.Sprintf("127.0.0.1:%d", freePort(t)), blobURL: blobURL,
		secretsURL:        "base64key://" + randomKey(t),
		graphSecretFile:   writeSecret(t, secrets, "graph_client_secret", creds.BackupApp.ClientSecret),
		restoreSecretFile: writeSecret(t, secrets, "restore_client_secret", creds.RestoreApp.ClientSecret),
		creds:             creds,
	}
	ov := localOverrides(l)
	for _, svc := range []string{"api", "worker"} {
		t.Logf("%s: as compose.yaml, except flags %v, replaced %v, added %v", svc,
			keys(ov[svc].Flags), keys(ov[svc].Replace), keys(ov[svc].Add))
	}
	apiArgs, apiEnv := roleCommand(t, "api", services["api"], ov["api"])
	workerArgs, workerEnv := roleCommand(t, "worker", services["worker"], ov["worker"])
	workDir := ps.dir("entravault")

	// compose: the worker depends on the api, which creates the repository
	// in the empty bucket on its first start.
	ps.start("api", syscall.SIGTERM, apiEnv, workDir, bins.entravault, apiArgs...)
	base := "http://" + l.apiAddr
	ps.waitFor("api ready", 2*time.Minute, func() error { return httpOK(base + "/readyz") })
	for _, name := range []string{"worker-1", "worker-2"} {
		ps.start(name, syscall.SIGTERM, workerEnv, workDir, bins.entravault, workerArgs...)
	}
	// The first admin key, made the documented way: `entravault apikey
	// create` with the api's storage settings.
	key := strings.TrimSpace(runStdout(t, ctx, apiEnv, workDir, bins.entravault, "apikey", "create", "--name", "admin", "--role", "admin"))
	waitPollers(t, ctx, ps, tc, 2)
	t.Logf("stack up in %s", time.Since(began).Round(time.Second))

	signIn, err := entra.NewCAClient(creds.CACertPath)
	if err != nil {
		t.Fatal(err)
	}
	return &stack{
		api:   &apiClient{t: t, ctx: ctx, ps: ps, base: base, key: key, signIn: signIn},
		ps:    ps,
		creds: creds, admin: globalAdmin(t, creds), graphBase: strings.TrimSuffix(creds.GraphURL, "/v1.0"),
		began: began,
		bins:  bins, apiEnv: apiEnv, workerEnv: workerEnv, workDir: workDir, temporal: tc,
	}
}

// startSimulator runs `entravault simulate` and returns its tenant's
// credentials from <data>/simulator/tenant.json.
func startSimulator(t *testing.T, ps *procs, bins binaries, o stackOptions) tenantsim.Credentials {
	t.Helper()
	data := ps.dir("simulator")
	args := append([]string{"simulate", "--data", data,
		"--graph-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--login-addr", fmt.Sprintf("127.0.0.1:%d", freePort(t)),
		"--consent-required", "--premium", "--users", strconv.Itoa(o.users), "--logs-per-day", "10", "--persist=false"}, o.simArgs...)
	ps.start("simulator", syscall.SIGTERM, nil, data, bins.entravault, args...)
	var creds tenantsim.Credentials
	ps.waitFor("simulator serving", 3*time.Minute, func() error {
		raw, err := os.ReadFile(filepath.Join(data, "simulator", tenantsim.CredentialsFile))
		if err != nil {
			return err
		}
		creds = tenantsim.Credentials{}
		if err := json.Unmarshal(raw, &creds); err != nil {
			return err
		}
		return httpOK(strings.TrimSuffix(creds.GraphURL, "/v1.0") + "/_sim/credentials")
	})
	return creds
}

// azuriteContainer makes a fresh container and returns its azblob:// URL.
func azuriteContainer(t *testing.T, ctx context.Context, addr string) string {
	t.Helper()
	cred, err := azblob.NewSharedKeyCredential(azuriteAccount, azuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := azblob.NewClientWithSharedKeyCredential(fmt.Sprintf("http://%s/%s", addr, azuriteAccount), cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	const container = "entravault"
	if _, err := c.CreateContainer(ctx, container, nil); err != nil {
		t.Fatalf("create container: %v", err)
	}
	return fmt.Sprintf("azblob://%s?domain=%s&protocol=http&localemu=true", container, addr)
}

func randomKey(t *testing.T) string {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		t.Fatal(err)
	}
	return base64.URLEncoding.EncodeToString(k)
}

func writeSecret(t *testing.T, dir, name, value string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func globalAdmin(t *testing.T, creds tenantsim.Credentials) tenantsim.AccountCredentials {
	t.Helper()
	for _, a := range creds.Admins {
		if strings.Contains(strings.Join(a.Roles, ","), "Global Administrator") {
			return a
		}
	}
	t.Fatalf("no Global Administrator in %+v", creds.Admins)
	return tenantsim.AccountCredentials{}
}

// waitPollers waits until n workers poll the task queue.
func waitPollers(t *testing.T, ctx context.Context, ps *procs, tc client.Client, n int) {
	t.Helper()
	ps.waitFor(fmt.Sprintf("%d workers polling", n), 2*time.Minute, func() error {
		for _, typ := range []enumspb.TaskQueueType{enumspb.TASK_QUEUE_TYPE_WORKFLOW, enumspb.TASK_QUEUE_TYPE_ACTIVITY} {
			resp, err := tc.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
				Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: "entravault", Kind: enumspb.TASK_QUEUE_KIND_NORMAL},
				TaskQueueType: typ})
			if err != nil {
				return err
			}
			ids := map[string]bool{}
			for _, p := range resp.Pollers {
				ids[p.Identity] = true
			}
			if len(ids) < n {
				return fmt.Errorf("%s pollers: %v", typ, ids)
			}
		}
		return nil
	})
}

// simPost calls the simulator's control API.
func simPost(t *testing.T, u string, body any, into ...any) {
	t.Helper()
	var rd io.Reader = http.NoBody
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	resp, err := http.Post(u, "application/json", rd)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST %s: %d %s", u, resp.StatusCode, raw)
	}
	for _, v := range into {
		if err := json.Unmarshal(raw, v); err != nil {
			t.Fatalf("POST %s: %v: %s", u, err, raw)
		}
	}
}

// apiClient calls the REST API with the admin key.
type apiClient struct {
	t      *testing.T
	ctx    context.Context
	ps     *procs
	base   string
	key    string
	signIn *http.Client
}

type created struct {
	ID         string `json:"id"`
	Status     string `json:"status"`
	ConsentURL string `json:"consent_url"`
}

func (a *apiClient) do(method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(a.ctx, method, a.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+a.key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return http.DefaultClient.Do(req)
}

func (a *apiClient) call(method, path string, body, into any) int {
	a.t.Helper()
	resp, err := a.do(method, path, body)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if into != nil {
		if err := json.Unmarshal(raw, into); err != nil {
			a.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode
}

func (a *apiClient) get(path string, into any) {
	a.t.Helper()
	resp, err := a.do("GET", path, nil)
	if err != nil {
		a.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		a.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, into); err != nil {
		a.t.Fatalf("GET %s: %v: %s", path, err, raw)
	}
}

func (a *apiClient) create(cfg map[string]any) created {
	a.t.Helper()
	var c created
	if code := a.call("POST", "/api/v1/connectors", cfg, &c); code != http.StatusCreated {
		a.t.Fatalf("create %v: %d %+v", cfg["name"], code, c)
	}
	return c
}

// consent completes the sign-in page as scripts do (sim_auto=accept) and
// follows the redirect to the API's callback.
func (a *apiClient) consent(consentURL, upn string) (int, string) {
	a.t.Helper()
	resp, err := a.signIn.Get(consentURL + "&sim_auto=accept&login_hint=" + url.QueryEscape(upn))
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitScopes waits until the connector is active and every scope's last
// backup succeeded.
func (a *apiClient) waitScopes(id string, scopes ...string) {
	a.t.Helper()
	a.ps.waitFor("connector "+id+" backed up "+strings.Join(scopes, ", "), 4*time.Minute, func() error {
		var v struct {
			Status    string `json:"status"`
			LastError string `json:"last_error"`
			Scopes    map[string]struct {
				LastStatus string `json:"last_status"`
			} `json:"scopes"`
		}
		a.get("/api/v1/connectors/"+id, &v)
		if v.Status != "active" {
			return fmt.Errorf("status %s %s", v.Status, v.LastError)
		}
		for _, s := range scopes {
			if v.Scopes[s].LastStatus != "succeeded" {
				return fmt.Errorf("scope %s: %q", s, v.Scopes[s].LastStatus)
			}
		}
		return nil
	})
}

// export reads an export to its end, checks that it is a tar.gz of JSON
// files, and counts them.
func (a *apiClient) export(path string) int {
	a.t.Helper()
	resp, err := a.do("GET", path, nil)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		raw, _ := io.ReadAll(resp.Body)
		a.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, raw)
	}
	gz, err := gzip.NewReader(resp.Body)
	if err != nil {
		a.t.Fatalf("export is not gzip: %v", err)
	}
	tr := tar.NewReader(gz)
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			a.t.Fatalf("export is not a tar: %v", err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		raw, err := io.ReadAll(tr)
		if err != nil {
			a.t.Fatal(err)
		}
		if !strings.HasSuffix(h.Name, ".json") || !strings.Contains(h.Name, "/") || !json.Valid(raw) {
			a.t.Errorf("export entry %s is not <type>/<id>.json with JSON in it", h.Name)
		}
		n++
	}
	return n
}

func (a *apiClient) startRestore(connectorID string, body map[string]any) string {
	a.t.Helper()
	var out created
	if code := a.call("POST", "/api/v1/connectors/"+connectorID+"/restores", body, &out); code != http.StatusCreated {
		a.t.Fatalf("start restore: %d %+v", code, out)
	}
	return out.ID
}

func (a *apiClient) waitRestore(connectorID, rid string, done ...workflows.RestoreStatus) api.RestoreView {
	a.t.Helper()
	var v api.RestoreView
	a.ps.waitFor("restore "+rid+" "+fmt.Sprint(done), 3*time.Minute, func() error {
		v = api.RestoreView{}
		a.get("/api/v1/connectors/"+connectorID+"/restores/"+rid, &v)
		for _, st := range done {
			if v.Status == st {
				return nil
			}
		}
		if v.Status == workflows.RestoreFailed || v.Status == workflows.RestoreCancelled {
			a.t.Fatalf("restore %s ended %s: %+v", rid, v.Status, v)
		}
		return fmt.Errorf("status %s", v.Status)
	})
	return v
}

func snapshotIDs(v api.RestoreView) []string {
	var out []string
	for _, sid := range v.Snapshots {
		out = append(out, sid)
	}
	return out
}
