package entra

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// DefaultTokenLifetime is the access token lifetime and the expires_in
// value. MSAL treats a token as expired 5 minutes early, so anything under
// 300 s would mean a token request per Graph call.
const DefaultTokenLifetime = 3599 * time.Second

// Options configure a Server. The zero value is usable.
type Options struct {
	// DataDir keeps the token signing key (signing-key.pem) so tokens stay
	// valid across restarts. Empty means an ephemeral key.
	DataDir string
	// PublicURL is the scheme://host[:port] clients use to reach the server,
	// used in discovery documents and id_token issuers. Empty means derive it
	// from each request (https when the request came over TLS).
	PublicURL string
	// TokenLifetime of access tokens; default DefaultTokenLifetime.
	TokenLifetime time.Duration
	// Now is the clock; default time.Now. Tests move it to expire tokens
	// and codes.
	Now func() time.Time
	// Logger receives one line per rejected request (never with secrets);
	// default discards.
	Logger *slog.Logger
}

// Server is the simulated sign-in service for one Directory. It is safe for
// concurrent use.
type Server struct {
	dir      Directory
	key      *signingKey
	now      func() time.Time
	log      *slog.Logger
	public   string
	lifetime time.Duration

	mu    sync.Mutex
	flows map[string]*flow     // pending sign-ins, keyed by the hidden form field
	codes map[string]*authCode // authorization codes, keyed by code
	// lastSweep is when expired flows and codes were last dropped.
	lastSweep time.Time
}

// NewServer creates the sign-in service, loading or creating the signing key
// in opts.DataDir.
func NewServer(dir Directory, opts Options) (*Server, error) {
	if dir == nil {
		return nil, errors.New("entra: nil Directory")
	}
	s := &Server{
		dir:      dir,
		now:      opts.Now,
		log:      opts.Logger,
		public:   strings.TrimSuffix(opts.PublicURL, "/"),
		lifetime: opts.TokenLifetime,
		flows:    make(map[string]*flow),
		codes:    make(map[string]*authCode),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if s.lifetime <= 0 {
		s.lifetime = DefaultTokenLifetime
	}
	key, err := loadOrCreateSigningKey(opts.DataDir, s.now())
	if err != nil {
		return nil, err
	}
	s.key = key
	return s, nil
}

// Handler serves every sign-in endpoint. Routes are listed in one place.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", s.handleDiscoveryV2)
	mux.HandleFunc("GET /{tenant}/.well-known/openid-configuration", s.handleDiscoveryV1)
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", s.handleKeys)
	mux.HandleFunc("GET /{tenant}/discovery/keys", s.handleKeys)
	mux.HandleFunc("POST /{tenant}/oauth2/v2.0/token", s.handleToken)
	mux.HandleFunc("POST /{tenant}/oauth2/token", s.handleTokenV1)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/logout", s.handleLogout)
	mux.HandleFunc("GET /{tenant}/oauth2/v2.0/authorize", s.handleAuthorize)
	mux.HandleFunc("GET /{tenant}/v2.0/adminconsent", s.handleAdminConsentV2)
	mux.HandleFunc("GET /{tenant}/adminconsent", s.handleAdminConsentV1)
	mux.HandleFunc("POST /{tenant}/login", s.handleLogin)
	mux.HandleFunc("POST /{tenant}/consent", s.handleConsent)
	return mux
}

// TenantID is the simulated tenant's id.
func (s *Server) TenantID() string { return s.dir.TenantID() }

// KeyID is the kid of the current signing key.
func (s *Server) KeyID() string { return s.key.kid }

// resolveTenant maps the {tenant} path segment (tenant id, verified domain,
// "common" or "organizations") to the tenant id; ok is false for any other
// tenant.
func (s *Server) resolveTenant(seg string) (tid string, ok bool) {
	tid = s.dir.TenantID()
	if strings.EqualFold(seg, tid) || isMultiTenantAlias(seg) {
		return tid, true
	}
	for _, d := range s.dir.VerifiedDomains() {
		if strings.EqualFold(seg, d) {
			return tid, true
		}
	}
	return "", false
}

func isMultiTenantAlias(seg string) bool {
	return strings.EqualFold(seg, "common") || strings.EqualFold(seg, "organizations")
}

// baseURL is scheme://host the caller used, unless PublicURL pins it.
func (s *Server) baseURL(r *http.Request) string {
	if s.public != "" {
		return s.public
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// idTokenIssuer is the v2 issuer for id_tokens, matching the discovery
// document's issuer.
func (s *Server) idTokenIssuer(r *http.Request) string {
	return s.baseURL(r) + "/" + s.dir.TenantID() + "/v2.0"
}

func (s *Server) handleDiscoveryV2(w http.ResponseWriter, r *http.Request) {
	s.discovery(w, r, true)
}

func (s *Server) handleDiscoveryV1(w http.ResponseWriter, r *http.Request) {
	s.discovery(w, r, false)
}

// discovery serves the OpenID configuration. MSAL requires issuer to share
// scheme and host with the authority, hence baseURL from the request.
func (s *Server) discovery(w http.ResponseWriter, r *http.Request, v2 bool) {
	seg := r.PathValue("tenant")
	tid, ok := s.resolveTenant(seg)
	if !ok {
		s.writeOAuthError(w, r, errTenantNotFound(seg))
		return
	}
	base := s.baseURL(r)
	// Like Entra, tenant-specific documents name the tenant id; common ones
	// keep a {tenantid} placeholder in the issuer.
	pathTenant, issuerTenant := tid, tid
	if isMultiTenantAlias(seg) {
		pathTenant, issuerTenant = strings.ToLower(seg), "{tenantid}"
	}
	t := base + "/" + pathTenant
	doc := map[string]any{
		"token_endpoint":                        t + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              t + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/" + issuerTenant + "/v2.0",
		"request_uri_parameter_supported":       false,
		"authorization_endpoint":                t + "/oauth2/v2.0/authorize",
		"http_logout_supported":                 true,
		"frontchannel_logout_supported":         true,
		"end_session_endpoint":                  t + "/oauth2/v2.0/logout",
		"claims_supported":                      []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "preferred_username", "name", "tid", "ver", "oid", "upn"},
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
		"cloud_graph_host_name":                 "graph.windows.net",
		"msgraph_host":                          "graph.microsoft.com",
	}
	if !v2 {
		doc["token_endpoint"] = t + "/oauth2/token"
		// The v1 authorize endpoint is not simulated; point at v2's.
		doc["jwks_uri"] = t + "/discovery/keys"
		doc["issuer"] = "https://sts.windows.net/" + issuerTenant + "/"
	}
	writeJSON(w, http.StatusOK, doc)
}

func (s *Server) handleKeys(w http.ResponseWriter, r *http.Request) {
	seg := r.PathValue("tenant")
	if _, ok := s.resolveTenant(seg); !ok {
		s.writeOAuthError(w, r, errTenantNotFound(seg))
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_, _ = w.Write(s.jwks(s.baseURL(r) + "/{tenantid}/v2.0"))
}
