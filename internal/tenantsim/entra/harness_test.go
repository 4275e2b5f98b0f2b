package entra

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	testTenant    = "11111111-2222-3333-4444-555555555555"
	testDomain    = "contoso.onmicrosoft.com"
	backupAppID   = "aaaaaaaa-0000-0000-0000-000000000001"
	backupSecret  = "backup-secret~value"
	noRolesAppID  = "aaaaaaaa-0000-0000-0000-000000000002"
	noRolesSecret = "noroles-secret"
	strictAppID   = "aaaaaaaa-0000-0000-0000-000000000003" // registered redirect URIs
	adminUPN      = "admin@contoso.onmicrosoft.com"
	adminPassword = "Admin-Pass-1"
	adminOID      = "00000000-0000-0000-0000-00000000a001"
	userUPN       = "user@contoso.onmicrosoft.com"
	userPassword  = "User-Pass-1"
	userOID       = "00000000-0000-0000-0000-00000000b001"
	appRedirect   = "https://app.example/callback"
)

var backupRoles = []string{"User.Read.All", "Group.Read.All", "AuditLog.Read.All"}

type consentRecord struct {
	clientID string
	roles    []string
	by       string
	at       time.Time
}

// fakeDir is an in-memory Directory.
type fakeDir struct {
	mu       sync.Mutex
	accounts map[string]Account
	apps     map[string]App
	granted  map[string][]string
	consents []consentRecord
}

func (d *fakeDir) TenantID() string          { return testTenant }
func (d *fakeDir) VerifiedDomains() []string { return []string{testDomain} }
func (d *fakeDir) Account(upn string) (Account, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a, ok := d.accounts[strings.ToLower(upn)]
	return a, ok
}
func (d *fakeDir) App(id string) (App, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	a, ok := d.apps[id]
	return a, ok
}
func (d *fakeDir) GrantedRoles(id string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.granted[id])
}
func (d *fakeDir) RecordConsent(id string, roles []string, by string, at time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.granted[id] = slices.Clone(roles)
	d.consents = append(d.consents, consentRecord{id, slices.Clone(roles), by, at})
}
func (d *fakeDir) grant(id string, roles ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.granted[id] = roles
}
func (d *fakeDir) consentLog() []consentRecord {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.consents)
}

// testClock is a settable clock shared by the server and the test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}
func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type harness struct {
	t       testing.TB
	dir     *fakeDir
	srv     *Server
	ts      *httptest.Server
	tls     *TLS
	clock   *testClock
	appCert *AppCertificate
	dataDir string
}

var (
	appCertOnce sync.Once
	appCert     *AppCertificate
	appCertErr  error
)

// sharedAppCert avoids generating an RSA key per test.
func sharedAppCert(t testing.TB) *AppCertificate {
	appCertOnce.Do(func() { appCert, appCertErr = NewAppCertificate("entravault-backup-test") })
	if appCertErr != nil {
		t.Fatal(appCertErr)
	}
	return appCert
}

func newHarness(t testing.TB) *harness {
	t.Helper()
	cert := sharedAppCert(t)
	dir := &fakeDir{
		accounts: map[string]Account{
			adminUPN: {ObjectID: adminOID, UserPrincipalName: adminUPN, DisplayName: "Ada Admin", Password: adminPassword, GlobalAdmin: true},
			userUPN:  {ObjectID: userOID, UserPrincipalName: userUPN, DisplayName: "Uma User", Password: userPassword},
		},
		apps: map[string]App{
			backupAppID:  {ClientID: backupAppID, DisplayName: "Entravault Backup", Secret: backupSecret, CertificateDER: cert.CertDER, ConfiguredRoles: backupRoles},
			noRolesAppID: {ClientID: noRolesAppID, DisplayName: "No Roles", Secret: noRolesSecret},
			strictAppID:  {ClientID: strictAppID, DisplayName: "Strict", Secret: "strict", ConfiguredRoles: []string{"User.Read.All"}, RedirectURIs: []string{appRedirect, "http://localhost:1234/cb"}},
		},
		granted: map[string][]string{},
	}
	clock := &testClock{t: time.Now().Truncate(time.Second)}
	dataDir := t.TempDir()
	srv, err := NewServer(dir, Options{DataDir: dataDir, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tlsFiles, err := EnsureTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(srv.Handler())
	ts.TLS = tlsFiles.Config
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return &harness{t: t, dir: dir, srv: srv, ts: ts, tls: tlsFiles, clock: clock, appCert: cert, dataDir: dataDir}
}

// tokenURL is the v2 token endpoint for the tenant path segment.
func (h *harness) tokenURL(tenant string) string {
	return h.ts.URL + "/" + tenant + "/oauth2/v2.0/token"
}

// postToken posts a form to the token endpoint and decodes the JSON body.
func (h *harness) postToken(tenant string, form url.Values) (int, map[string]any) {
	h.t.Helper()
	resp, err := h.tls.Client().PostForm(h.tokenURL(tenant), form)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		h.t.Fatalf("token response is not JSON: %v", err)
	}
	return resp.StatusCode, body
}

// browser is an HTTP client with cookies that stops at every redirect, so
// the test sees where the sign-in service sends the user.
func (h *harness) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := h.tls.Client()
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return c
}

type page struct {
	status   int
	body     string
	location *url.URL
}

func (h *harness) do(c *http.Client, req *http.Request) page {
	h.t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, body: string(b)}
	if loc := resp.Header.Get("Location"); loc != "" {
		u, err := url.Parse(loc)
		if err != nil {
			h.t.Fatalf("bad Location %q: %v", loc, err)
		}
		p.location = u
	}
	return p
}

func (h *harness) get(c *http.Client, rawURL string) page {
	h.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, rawURL, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.do(c, req)
}

var (
	formAction = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	flowField  = regexp.MustCompile(`name="flow" value="([^"]+)"`)
)

// submit posts the page's form with fields.
func (h *harness) submit(c *http.Client, p page, fields url.Values) page {
	h.t.Helper()
	action := formAction.FindStringSubmatch(p.body)
	flowID := flowField.FindStringSubmatch(p.body)
	if action == nil || flowID == nil {
		h.t.Fatalf("page has no sign-in form (status %d):\n%s", p.status, p.body)
	}
	fields.Set("flow", flowID[1])
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, h.ts.URL+action[1], strings.NewReader(fields.Encode()))
	if err != nil {
		h.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return h.do(c, req)
}
