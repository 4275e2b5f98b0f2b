package entra

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

const (
	// flowLifetime bounds how long a sign-in page may stay open.
	flowLifetime = 15 * time.Minute
	// codeLifetime: Entra authorization codes are valid for 10 minutes.
	codeLifetime = 10 * time.Minute
)

// flowKind says which endpoint started a sign-in and so where it ends.
type flowKind int

const (
	flowAuthorize      flowKind = iota // oauth2/v2.0/authorize: ends with a code
	flowAdminConsentV1                 // adminconsent: admin_consent=True&tenant&state
	flowAdminConsentV2                 // v2.0/adminconsent: as v1 plus scope
)

// flow is a sign-in in progress. It lives server-side, keyed by a random id
// carried in a hidden form field, so nothing but the final code ever goes
// into a URL.
type flow struct {
	id          string
	kind        flowKind
	tenantSeg   string // {tenant} as the client addressed it, for form actions
	tid         string
	clientID    string
	appName     string
	redirectURI string
	state       string
	scope       string
	nonce       string
	prompt      string
	challenge   string
	method      string
	loginHint   string
	expires     time.Time
	// account is set once the user signed in; reviewing once the consent
	// page was shown to an admin (the only state where Accept is valid).
	account   *Account
	reviewing bool
}

// authCode is an issued authorization code.
type authCode struct {
	clientID        string
	redirectURI     string
	scope           string
	nonce           string
	codeChallenge   string
	challengeMethod string
	account         Account // without password
	expires         time.Time
	redeemed        bool
}

// handleAuthorize starts the authorization code flow.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, ok := s.newFlow(w, r, flowAuthorize, q)
	if !ok {
		return
	}
	if rt := q.Get("response_type"); rt != "code" {
		s.redirect(w, r, f.redirectURI, url.Values{
			"error":             {"unsupported_response_type"},
			"error_description": {fmt.Sprintf("AADSTS70005: response_type '%s' is not supported; use 'code'.", rt)},
			"state":             {f.state},
		})
		return
	}
	if strings.TrimSpace(f.scope) == "" {
		s.redirect(w, r, f.redirectURI, url.Values{
			"error":             {"invalid_request"},
			"error_description": {"AADSTS900144: The request body must contain the following parameter: 'scope'."},
			"state":             {f.state},
		})
		return
	}
	if f.prompt == "none" {
		// There is no browser session to reuse, so silent sign-in always
		// needs interaction.
		s.redirect(w, r, f.redirectURI, url.Values{
			"error":             {"login_required"},
			"error_description": {"AADSTS50058: A silent sign-in request was sent but no user is signed in."},
			"state":             {f.state},
		})
		return
	}
	s.begin(w, r, f, q.Get("sim_auto"))
}

// handleAdminConsentV1 serves /{tenant}/adminconsent.
func (s *Server) handleAdminConsentV1(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if f, ok := s.newFlow(w, r, flowAdminConsentV1, q); ok {
		s.begin(w, r, f, q.Get("sim_auto"))
	}
}

// handleAdminConsentV2 serves /{tenant}/v2.0/adminconsent, which needs a
// scope and a specific tenant (never "common").
func (s *Server) handleAdminConsentV2(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if strings.EqualFold(r.PathValue("tenant"), "common") {
		s.errorPage(w, http.StatusBadRequest, 50194, "Application is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for admin consent. Use a tenant-specific endpoint or 'organizations'.")
		return
	}
	f, ok := s.newFlow(w, r, flowAdminConsentV2, q)
	if !ok {
		return
	}
	if strings.TrimSpace(f.scope) == "" {
		s.redirect(w, r, f.redirectURI, url.Values{
			"error":             {"invalid_request"},
			"error_description": {"AADSTS900144: The request body must contain the following parameter: 'scope'."},
			"state":             {f.state},
		})
		return
	}
	s.begin(w, r, f, q.Get("sim_auto"))
}

// newFlow validates what must be valid before anything may be redirected
// (tenant, client, redirect URI) and registers a pending flow. On failure it
// has written an error page.
func (s *Server) newFlow(w http.ResponseWriter, r *http.Request, kind flowKind, q url.Values) (*flow, bool) {
	seg := r.PathValue("tenant")
	tid, ok := s.resolveTenant(seg)
	if !ok {
		e := errTenantNotFound(seg)
		s.errorPage(w, http.StatusBadRequest, e.aadsts, e.desc)
		return nil, false
	}
	clientID := q.Get("client_id")
	if clientID == "" {
		s.errorPage(w, http.StatusBadRequest, 900144, "The request body must contain the following parameter: 'client_id'.")
		return nil, false
	}
	app, ok := s.dir.App(clientID)
	if !ok {
		e := errUnknownClient(clientID, seg)
		s.errorPage(w, http.StatusBadRequest, e.aadsts, e.desc)
		return nil, false
	}
	redirectURI := q.Get("redirect_uri")
	if redirectURI == "" && len(app.RedirectURIs) > 0 {
		redirectURI = app.RedirectURIs[0]
	}
	if redirectURI == "" {
		s.errorPage(w, http.StatusBadRequest, 900144, "The request body must contain the following parameter: 'redirect_uri'.")
		return nil, false
	}
	if !redirectAllowed(app, redirectURI) {
		s.errorPage(w, http.StatusBadRequest, 50011, fmt.Sprintf("The redirect URI '%s' specified in the request does not match the redirect URIs configured for the application '%s'.", redirectURI, app.ClientID))
		return nil, false
	}
	f := &flow{
		id:          randomID(32),
		kind:        kind,
		tenantSeg:   seg,
		tid:         tid,
		clientID:    app.ClientID,
		appName:     app.DisplayName,
		redirectURI: redirectURI,
		state:       q.Get("state"),
		scope:       q.Get("scope"),
		nonce:       q.Get("nonce"),
		prompt:      strings.ToLower(q.Get("prompt")),
		challenge:   q.Get("code_challenge"),
		method:      q.Get("code_challenge_method"),
		loginHint:   q.Get("login_hint"),
		expires:     s.now().Add(flowLifetime),
	}
	if f.appName == "" {
		f.appName = app.ClientID
	}
	s.mu.Lock()
	s.sweepLocked()
	s.flows[f.id] = f
	s.mu.Unlock()
	return f, true
}

// begin shows the sign-in page, or with sim_auto=accept|cancel and a
// login_hint completes the whole flow at once for scripts.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, f *flow, auto string) {
	auto = strings.ToLower(auto)
	if auto == "" {
		s.renderSignIn(w, f, f.loginHint, "")
		return
	}
	defer s.dropFlow(f.id)
	if auto != "accept" && auto != "cancel" {
		s.errorPage(w, http.StatusBadRequest, 900144, "sim_auto must be 'accept' or 'cancel'.")
		return
	}
	if f.loginHint == "" {
		s.errorPage(w, http.StatusBadRequest, 900144, "sim_auto needs the parameter 'login_hint' (the UPN of an account of the tenant).")
		return
	}
	acct, ok := s.dir.Account(f.loginHint)
	if !ok {
		s.errorPage(w, http.StatusBadRequest, 50034, fmt.Sprintf("The user account %s does not exist in the %s directory. To sign into this application, the account must be added to the directory.", f.loginHint, f.tid))
		return
	}
	s.claimSignIn(f, acct) // a fresh flow no one else knows yet
	s.afterSignIn(w, r, f, auto)
}

// claimSignIn records who signed in to f; false if someone already did.
// f.account never changes afterwards, so it is read without the lock.
func (s *Server) claimSignIn(f *flow, acct Account) bool {
	acct.Password = "" // the flow keeps who signed in, not how
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.account != nil {
		return false
	}
	f.account = &acct
	return true
}

// handleLogin checks the user name and password posted by the sign-in page.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	_ = r.ParseForm()
	f, ok := s.liveFlow(w, r.PostForm.Get("flow"))
	if !ok {
		return
	}
	login := strings.TrimSpace(r.PostForm.Get("login"))
	acct, found := s.dir.Account(login)
	if !found {
		s.renderSignIn(w, f, login, fmt.Sprintf("AADSTS50034: The user account %s does not exist in the %s directory.", login, f.tid))
		return
	}
	// Constant-time compare: the simulator stands in for a real login page.
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("passwd")), []byte(acct.Password)) != 1 {
		s.renderSignIn(w, f, login, "AADSTS50126: Error validating credentials due to invalid username or password.")
		return
	}
	if !s.claimSignIn(f, acct) {
		s.errorPage(w, http.StatusBadRequest, 50089, "Flow token is no longer valid: this sign-in was already completed.")
		return
	}
	s.afterSignIn(w, r, f, "")
}

// handleConsent receives Accept or Cancel from the review page.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	_ = r.ParseForm()
	f, ok := s.liveFlow(w, r.PostForm.Get("flow"))
	if !ok {
		return
	}
	// Claim the flow: exactly one answer per review page, even when the
	// form is posted twice at once.
	s.mu.Lock()
	reviewing := f.reviewing
	f.reviewing = false
	if reviewing {
		delete(s.flows, f.id)
	}
	s.mu.Unlock()
	if !reviewing {
		s.errorPage(w, http.StatusBadRequest, 50089, "Flow token is not valid: sign in before answering the permission request.")
		return
	}
	switch r.PostForm.Get("action") {
	case "accept":
		s.accept(w, r, f)
	case "cancel":
		s.cancel(w, r, f)
	default:
		s.errorPage(w, http.StatusBadRequest, 900144, "The request body must contain the following parameter: 'action'.")
	}
}

// afterSignIn decides what follows a successful sign-in: the review page,
// the admin-approval error, or straight back to the app with a code when
// consent is already on record and was not forced with prompt=consent.
func (s *Server) afterSignIn(w http.ResponseWriter, r *http.Request, f *flow, auto string) {
	acct := *f.account
	app, ok := s.dir.App(f.clientID)
	if !ok { // deleted while the page was open
		s.dropFlow(f.id)
		e := errUnknownClient(f.clientID, f.tenantSeg)
		s.errorPage(w, http.StatusBadRequest, e.aadsts, e.desc)
		return
	}
	needReview := f.kind != flowAuthorize || f.prompt == "consent" || f.prompt == "admin_consent" ||
		!consentOnRecord(app.ConfiguredRoles, s.dir.GrantedRoles(app.ClientID))
	if !needReview {
		s.dropFlow(f.id)
		s.succeed(w, r, f)
		return
	}
	if !acct.GlobalAdmin {
		// Application permissions need an administrator; Entra answers a
		// user with "Need admin approval" (AADSTS90094).
		s.dropFlow(f.id)
		back := withQuery(f.redirectURI, url.Values{
			"error":             {"consent_required"},
			"error_description": {"AADSTS90094: The grant requires admin permission."},
			"state":             {f.state},
		})
		if auto != "" {
			http.Redirect(w, r, back, http.StatusFound)
			return
		}
		s.renderAdminApproval(w, f, back)
		return
	}
	switch auto {
	case "accept":
		s.accept(w, r, f)
		return
	case "cancel":
		s.cancel(w, r, f)
		return
	}
	s.mu.Lock()
	f.reviewing = true
	s.mu.Unlock()
	s.renderConsent(w, f, app.ConfiguredRoles)
}

// accept records tenant-wide consent to every configured role and returns
// to the app.
func (s *Server) accept(w http.ResponseWriter, r *http.Request, f *flow) {
	app, ok := s.dir.App(f.clientID)
	if !ok {
		e := errUnknownClient(f.clientID, f.tenantSeg)
		s.errorPage(w, http.StatusBadRequest, e.aadsts, e.desc)
		return
	}
	s.dir.RecordConsent(app.ClientID, slices.Clone(app.ConfiguredRoles), f.account.ObjectID, s.now())
	s.log.Info("entra: admin consent granted", "client_id", app.ClientID, "by", f.account.ObjectID, "roles", len(app.ConfiguredRoles))
	s.succeed(w, r, f)
}

// succeed redirects back to the app after sign-in (and consent if any).
func (s *Server) succeed(w http.ResponseWriter, r *http.Request, f *flow) {
	switch f.kind {
	case flowAuthorize:
		code := randomID(48)
		s.mu.Lock()
		s.sweepLocked()
		s.codes[code] = &authCode{
			clientID:        f.clientID,
			redirectURI:     f.redirectURI,
			scope:           f.scope,
			nonce:           f.nonce,
			codeChallenge:   f.challenge,
			challengeMethod: f.method,
			account:         *f.account,
			expires:         s.now().Add(codeLifetime),
		}
		s.mu.Unlock()
		s.redirect(w, r, f.redirectURI, url.Values{"code": {code}, "state": {f.state}})
	case flowAdminConsentV1:
		s.redirect(w, r, f.redirectURI, url.Values{"admin_consent": {"True"}, "tenant": {f.tid}, "state": {f.state}})
	case flowAdminConsentV2:
		s.redirect(w, r, f.redirectURI, url.Values{"admin_consent": {"True"}, "tenant": {f.tid}, "scope": {f.scope}, "state": {f.state}})
	}
}

// cancel returns to the app with the denial each endpoint documents.
func (s *Server) cancel(w http.ResponseWriter, r *http.Request, f *flow) {
	v := url.Values{"state": {f.state}}
	switch f.kind {
	case flowAuthorize:
		v.Set("error", "access_denied")
		v.Set("error_subcode", "cancel")
		v.Set("error_description", "AADSTS65004: User declined to consent to access the app.")
	case flowAdminConsentV1:
		v.Set("error", "permission_denied")
		v.Set("error_description", "The admin canceled the request")
	case flowAdminConsentV2:
		v.Set("error", "access_denied")
		v.Set("error_description", "AADSTS65004: The resource owner or authorization server denied the request.")
	}
	s.redirect(w, r, f.redirectURI, v)
}

// liveFlow finds a pending flow by id; on failure it writes the error page.
func (s *Server) liveFlow(w http.ResponseWriter, id string) (*flow, bool) {
	s.mu.Lock()
	f, ok := s.flows[id]
	if ok && !s.now().Before(f.expires) {
		delete(s.flows, id)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		s.errorPage(w, http.StatusBadRequest, 50089, "Authentication failed due to flow token expired. Start the sign-in again from the application.")
	}
	return f, ok
}

func (s *Server) dropFlow(id string) {
	s.mu.Lock()
	delete(s.flows, id)
	s.mu.Unlock()
}

// sweepLocked drops expired flows and codes. Inserts call it, at most once a
// minute (a sweep walks both maps), so the maps stay bounded without a
// background goroutine.
func (s *Server) sweepLocked() {
	now := s.now()
	if now.Sub(s.lastSweep) < time.Minute && now.After(s.lastSweep) {
		return
	}
	s.lastSweep = now
	for id, f := range s.flows {
		if !now.Before(f.expires) {
			delete(s.flows, id)
		}
	}
	for c, ac := range s.codes {
		if !now.Before(ac.expires) {
			delete(s.codes, c)
		}
	}
}

// consentOnRecord reports whether every configured role is granted.
func consentOnRecord(configured, granted []string) bool {
	for _, c := range configured {
		if !slices.ContainsFunc(granted, func(g string) bool { return strings.EqualFold(g, c) }) {
			return false
		}
	}
	return true
}

// redirectAllowed checks a redirect URI against the registration: an exact
// match (loopback http ports may differ, as Entra allows), or with no
// registered URIs any https URL or loopback http URL.
func redirectAllowed(app App, raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || !u.IsAbs() || u.Fragment != "" || u.Host == "" {
		return false
	}
	if len(app.RedirectURIs) == 0 {
		return u.Scheme == "https" || (u.Scheme == "http" && isLoopback(u.Hostname()))
	}
	for _, reg := range app.RedirectURIs {
		if reg == raw {
			return true
		}
		ru, err := url.Parse(reg)
		if err == nil && u.Scheme == "http" && ru.Scheme == "http" && isLoopback(u.Hostname()) &&
			strings.EqualFold(ru.Hostname(), u.Hostname()) && ru.Path == u.Path && ru.RawQuery == u.RawQuery {
			return true
		}
	}
	return false
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// redirect sends the browser back to the app with extra query parameters.
func (s *Server) redirect(w http.ResponseWriter, r *http.Request, target string, v url.Values) {
	w.Header().Set("Cache-Control", "no-store, no-cache")
	http.Redirect(w, r, withQuery(target, v), http.StatusFound)
}

// withQuery adds v to target's query, keeping parameters already there.
// Empty values (such as a missing state) are left out.
func withQuery(target string, v url.Values) string {
	u, err := url.Parse(target)
	if err != nil {
		return target // validated by redirectAllowed before any redirect
	}
	q := u.Query()
	for k, vals := range v {
		for _, val := range vals {
			if val != "" {
				q.Add(k, val)
			}
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}

// handleLogout ends nothing (the simulator keeps no browser session) and
// returns to post_logout_redirect_uri when it is an acceptable redirect.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	target := r.URL.Query().Get("post_logout_redirect_uri")
	if target != "" && redirectAllowed(App{}, target) {
		s.redirect(w, r, target, url.Values{"state": {r.URL.Query().Get("state")}})
		return
	}
	s.renderPage(w, http.StatusOK, "error", pageData{Title: "Signed out", Heading: "You signed out of your account"})
}
