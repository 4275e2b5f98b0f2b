package tenantsim

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/entravault/entravault/internal/tenantsim/entra"
	"github.com/entravault/entravault/internal/tenantsim/graphapi"
	"github.com/entravault/entravault/internal/tenantsim/model"
)

// Default listen addresses.
const (
	DefaultGraphAddr = "127.0.0.1:8090"
	DefaultLoginAddr = "127.0.0.1:8091"
)

// CredentialsFile is the name of the demo credentials file in DataDir.
const CredentialsFile = "tenant.json"

// Simulator is a running (or ready to start) simulated tenant.
type Simulator struct {
	opts    Options
	tenant  *model.Tenant
	graph   *graphapi.Server
	login   *entra.Server
	tls     *entra.TLS
	dir     string
	tempDir bool
	creds   Credentials
	own     *ownApps
	log     *slog.Logger
	// home is the first tenant when this is another one (Options.Tenants);
	// others are the first tenant's others.
	home   *Simulator
	others []*Simulator

	mu      sync.Mutex
	servers []*http.Server
	closed  bool
	stop    chan struct{} // closing it stops saveLoop
	saverOK chan struct{} // closed when saveLoop returned

	saveMu   sync.Mutex
	savedGen uint64 // tenant generation the state file holds
}

// saveInterval is how often saveLoop looks for changes: a kill -9 loses at
// most that much.
const saveInterval = 300 * time.Millisecond

// New generates the tenant (tenants, with Options.Tenants) and prepares
// both services; Start listens.
func New(opts Options) (*Simulator, error) {
	s, err := newTenant(opts, nil)
	if err == nil && opts.Tenants > 1 {
		err = s.addOtherTenants(opts)
	}
	return s, err
}

// newTenant prepares one tenant; home is the first tenant for the others.
func newTenant(opts Options, home *Simulator) (*Simulator, error) {
	if opts.GraphAddr == "" {
		opts.GraphAddr = DefaultGraphAddr
	}
	if opts.LoginAddr == "" {
		opts.LoginAddr = DefaultLoginAddr
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Simulator{opts: opts, dir: opts.DataDir, log: opts.Logger, home: home}
	if s.dir == "" {
		d, err := os.MkdirTemp("", "entravault-sim-")
		if err != nil {
			return nil, fmt.Errorf("tenantsim: temp folder: %w", err)
		}
		s.dir, s.tempDir = d, true
	} else if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return nil, fmt.Errorf("tenantsim: data folder: %w", err)
	}
	if err := s.loadState(); err != nil {
		return nil, err
	}
	if s.tenant == nil {
		s.tenant = model.Generate(opts.Seed, model.Sizes{Users: opts.Users, Groups: opts.Groups,
			AdministrativeUnits: opts.AdministrativeUnits, Applications: opts.Applications, LogsPerDay: opts.LogsPerDay},
			opts.Premium, opts.Now)
	}
	if err := s.setupCredentials(); err != nil {
		return nil, err
	}
	tlsFiles := home.tlsFiles() // every tenant is served by the first's listener
	if tlsFiles == nil {
		var err error
		if tlsFiles, err = entra.EnsureTLS(s.dir); err != nil {
			return nil, err
		}
	}
	s.tls = tlsFiles
	var err error
	s.login, err = entra.NewServer(directory{s.tenant, s.own}, entra.Options{DataDir: s.dir, Now: opts.Now, Logger: opts.Logger})
	if err != nil {
		return nil, err
	}
	s.graph = graphapi.New(graphapi.Config{Tenant: s.tenant, Verify: s.verify, DeltaTokenMaxAge: opts.DeltaTokenMaxAge,
		DeltaExpiredGone: opts.DeltaExpiredGone, Throttle: opts.Throttle, ConsistencyDelay: opts.ConsistencyDelay, Now: opts.Now})
	s.creds.CACertPath = tlsFiles.CAPath
	return s, nil
}

func (s *Simulator) verify(raw string) (graphapi.Caller, error) {
	c, err := s.login.VerifyAccessToken(raw)
	if errors.Is(err, entra.ErrTokenExpired) {
		return graphapi.Caller{}, graphapi.ErrTokenExpired
	}
	if err != nil {
		return graphapi.Caller{}, err
	}
	// Graph checks the grants at every request, not only at token issue:
	// a revoked consent stops an application holding a valid token.
	granted := map[string]bool{}
	for _, r := range s.tenant.GrantedRoles(strings.ToLower(c.AppID)) {
		granted[r] = true
	}
	var roles []string
	for _, r := range c.Roles {
		if granted[r] {
			roles = append(roles, r)
		}
	}
	return graphapi.Caller{AppID: c.AppID, TenantID: c.TenantID, Roles: roles}, nil
}

// RevokeConsent removes every permission the tenant granted the app.
func (s *Simulator) RevokeConsent(clientID string) { s.tenant.RevokeConsent(strings.ToLower(clientID)) }

func randomSecret() string {
	var b [30]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// setupCredentials gives the sign-in apps and accounts their secrets,
// reusing those of an earlier run of the same tenant in DataDir so scripts
// and stored connector settings keep working across restarts.
func (s *Simulator) setupCredentials() error {
	var prev Credentials
	if b, err := os.ReadFile(filepath.Join(s.dir, CredentialsFile)); err == nil {
		_ = json.Unmarshal(b, &prev)
	}
	t := s.tenant
	same := prev.TenantID == t.ID.String()
	pick := func(old string) string {
		if same && old != "" {
			return old
		}
		return randomSecret()
	}
	appSecret, certDir := pick, s.dir
	if s.home != nil { // one registration of each application, in every tenant
		s.shareApps(t)
		prev.BackupApp, prev.NoRolesApp, prev.RestoreApp = s.home.creds.BackupApp, s.home.creds.NoRolesApp, s.home.creds.RestoreApp
		appSecret, certDir = func(old string) string { return old }, s.home.dir
	}
	certPath := filepath.Join(certDir, "backup-app.pem")
	cert, err := entra.EnsureAppCertificate(certPath, "Entravault Backup")
	if err != nil {
		return err
	}
	// Like a real deployment, a tenant that must consent registers the
	// backup application read-only and restore's writes on their own
	// application. Pre-granted (test) tenants let the backup application
	// write too, so tests need not juggle two applications.
	roles := append(append([]string(nil), model.BackupReadRoles...), model.RestoreWriteRoles...)
	if s.opts.ConsentRequired {
		roles = append([]string(nil), model.BackupReadRoles...)
	}
	restoreRoles := append([]string(nil), model.RestoreWriteRoles...)
	granted, restoreGranted := roles, restoreRoles
	if s.opts.ConsentRequired {
		granted, restoreGranted = nil, nil
	}
	appID := func(i int32) string { return t.Apps[i].AppID.String() }
	s.creds = Credentials{TenantID: t.ID.String(), TenantDomain: t.Domain, Seed: t.Seed,
		BackupApp:  AppCredentials{ClientID: appID(model.BackupApp), ClientSecret: appSecret(prev.BackupApp.ClientSecret), CertPath: certPath, KeyPath: certPath},
		NoRolesApp: AppCredentials{ClientID: appID(model.NoRolesApp), ClientSecret: appSecret(prev.NoRolesApp.ClientSecret)}}
	t.SetAppCredential(model.BackupApp, model.AppCredential{Secret: s.creds.BackupApp.ClientSecret, CertificateDER: cert.CertDER, ConfiguredRoles: roles}, granted)
	t.SetAppCredential(model.NoRolesApp, model.AppCredential{Secret: s.creds.NoRolesApp.ClientSecret}, nil)
	if len(t.Apps) > int(model.RestoreApp) { // tenants generated with fewer than 3 applications have none
		s.creds.RestoreApp = AppCredentials{ClientID: appID(model.RestoreApp), ClientSecret: appSecret(prev.RestoreApp.ClientSecret)}
		t.SetAppCredential(model.RestoreApp, model.AppCredential{Secret: s.creds.RestoreApp.ClientSecret, ConfiguredRoles: restoreRoles}, restoreGranted)
	}
	own, appRoleOf := newOwnApps(t, pick(prev.CLIApp.ClientSecret))
	s.own = own
	s.creds.APIApp = AppCredentials{ClientID: own.api.ClientID}
	s.creds.CLIApp = AppCredentials{ClientID: own.cli.ClientID, ClientSecret: own.cli.Secret}
	for i, u := range []int32{model.AdminUser, model.SecAdminUser, model.RegularUser} {
		old := ""
		if i < len(prev.Admins) {
			old = prev.Admins[i].Password
		}
		pw := pick(old)
		t.SetAccount(u, pw)
		a := t.Accounts[lowerUPN(t.UPN(u))]
		s.creds.Admins = append(s.creds.Admins, AccountCredentials{UPN: t.UPN(u), Password: pw, Roles: append([]string{}, a.Roles...),
			AppRoles: []string{appRoleOf[lowerUPN(t.UPN(u))]}})
	}
	return nil
}

// Start listens: Graph over plain HTTP, sign-in over HTTPS, for every
// tenant. It writes tenant.json once the addresses are known. With a state
// file it saves the tenant first, then again shortly after every change.
func (s *Simulator) Start() error {
	// Before any delta token of this run's epoch is handed out, the epoch
	// must be on disk (model.Tenant.Durable).
	for _, t := range s.Tenants() {
		if err := t.Save(); err != nil {
			return err
		}
	}
	gl, err := net.Listen("tcp", s.opts.GraphAddr)
	if err != nil {
		return fmt.Errorf("tenantsim: graph listener: %w", err)
	}
	ll, err := net.Listen("tcp", s.opts.LoginAddr)
	if err != nil {
		gl.Close()
		return fmt.Errorf("tenantsim: login listener: %w", err)
	}
	s.creds.Tenants = nil
	for _, t := range s.Tenants() {
		t.creds.GraphURL = "http://" + gl.Addr().String() + "/v1.0"
		t.creds.AuthorityHost = "https://" + ll.Addr().String() + "/"
		t.creds.APIIssuer = t.creds.AuthorityHost + t.creds.TenantID + "/v2.0"
		t.creds.CACertPath = s.creds.CACertPath
		if t != s {
			s.creds.Tenants = append(s.creds.Tenants, t.creds)
		}
	}
	gs := &http.Server{Handler: s.graphFront(), ReadHeaderTimeout: 10 * time.Second}
	ls := &http.Server{Handler: s.loginFront(), ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	s.servers = append(s.servers, gs, ls)
	s.mu.Unlock()
	go func() { _ = gs.Serve(gl) }()
	go func() { _ = ls.Serve(tls.NewListener(ll, s.tls.Config)) }()
	for _, t := range s.Tenants() {
		t.startSaver()
		if err := t.writeCredentials(); err != nil {
			return err
		}
	}
	s.log.Info("tenant simulator started", "graph", s.creds.GraphURL, "authority", s.creds.AuthorityHost,
		"tenant", s.creds.TenantID, "tenants", len(s.Tenants()), "credentials", filepath.Join(s.dir, CredentialsFile))
	return nil
}

// startSaver saves the tenant shortly after each change, with a state file.
func (s *Simulator) startSaver() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.opts.StateFile != "" && s.stop == nil {
		s.stop, s.saverOK = make(chan struct{}), make(chan struct{})
		go s.saveLoop(s.stop, s.saverOK)
	}
}

func (s *Simulator) writeCredentials() error {
	b, err := json.MarshalIndent(s.creds, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(s.dir, CredentialsFile)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("tenantsim: write credentials: %w", err)
	}
	return os.Rename(tmp, path) // readers never see a half-written file
}

// loadState loads opts.StateFile when it exists and holds a tenant of the
// same seed; otherwise the tenant is generated.
func (s *Simulator) loadState() error {
	if s.opts.StateFile == "" {
		return nil
	}
	f, err := os.Open(s.opts.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("tenantsim: open state file: %w", err)
	}
	defer f.Close()
	t, err := model.Load(f, s.opts.Now)
	if err != nil {
		return fmt.Errorf("tenantsim: %s: %w", s.opts.StateFile, err)
	}
	if t.Seed != s.opts.Seed {
		s.log.Warn("state file is for another seed; generating a new tenant", "file", s.opts.StateFile)
		return nil
	}
	s.tenant = t
	return nil
}

// saveLoop saves the tenant shortly after it changes until stop closes.
func (s *Simulator) saveLoop(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	tick := time.NewTicker(saveInterval)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if err := s.save(true); err != nil {
				s.log.Error("cannot save the simulated tenant", "err", err)
			}
		}
	}
}

// Save writes the tenant to opts.StateFile (no-op without one) so that
// the file holds either the previous or the new state, even after a crash.
func (s *Simulator) Save() error { return s.save(false) }

func (s *Simulator) save(ifChanged bool) error {
	if s.opts.StateFile == "" {
		return nil
	}
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	gen := s.tenant.Generation() // read first: what is saved is at least this recent
	if ifChanged && gen == s.savedGen {
		return nil
	}
	// Encode under the read lock, write without it: writers wait only for
	// the encoding, not for the disk.
	var buf bytes.Buffer
	s.tenant.RLock()
	err := s.tenant.Save(&buf)
	s.tenant.RUnlock()
	if err == nil {
		err = writeFileSynced(s.opts.StateFile, buf.Bytes())
	}
	if err != nil {
		return fmt.Errorf("tenantsim: write state file: %w", err)
	}
	s.savedGen = gen
	return nil
}

// writeFileSynced replaces path with data durably: the data is on disk
// before the rename, and the rename before it returns.
func writeFileSynced(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close stops both listeners and the savers, saves the state files if
// configured and removes a temporary data folder.
func (s *Simulator) Close() error {
	var errs []error
	for _, o := range s.others {
		errs = append(errs, o.Close())
	}
	s.mu.Lock()
	servers, already, stop, saverOK := s.servers, s.closed, s.stop, s.saverOK
	s.servers, s.closed = nil, true
	s.mu.Unlock()
	if already {
		return errors.Join(errs...)
	}
	for _, srv := range servers {
		errs = append(errs, srv.Close())
	}
	if stop != nil {
		close(stop)
		<-saverOK
	}
	errs = append(errs, s.Save())
	if s.tempDir {
		errs = append(errs, os.RemoveAll(s.dir))
	}
	return errors.Join(errs...)
}

// GraphURL is the Graph base URL, e.g. http://127.0.0.1:8090/v1.0.
func (s *Simulator) GraphURL() string { return s.creds.GraphURL }

// AuthorityHost is the sign-in authority host, e.g. https://127.0.0.1:8091/.
func (s *Simulator) AuthorityHost() string { return s.creds.AuthorityHost }

// Credentials returns the demo credentials.
func (s *Simulator) Credentials() Credentials { return s.creds }

// HTTPClient returns a client trusting the simulator's CA.
func (s *Simulator) HTTPClient() *http.Client { return s.tls.Client() }

// Tenant exposes the model, for tests that need ground truth directly.
func (s *Simulator) Tenant() *model.Tenant { return s.tenant }

// Graph exposes the Graph server (counters, faults, delta-token expiry).
func (s *Simulator) Graph() *graphapi.Server { return s.graph }

// DataDir is the folder holding tenant.json, the CA and keys.
func (s *Simulator) DataDir() string { return s.dir }
