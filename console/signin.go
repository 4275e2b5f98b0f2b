package console

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/entravault/entravault/api"
)

type signInView struct {
	Next, Error string
	OIDC        bool
}

func (signInView) PageTitle() string { return "Sign in" }

func (s *Server) signInPage(w http.ResponseWriter, r *http.Request) {
	if s.currentSession(r) != nil {
		http.Redirect(w, r, "/connectors", http.StatusSeeOther)
		return
	}
	pre := s.currentPre(w, r)
	v := signInView{Next: localPath(r.URL.Query().Get("next")), Error: r.URL.Query().Get("error"), OIDC: s.cfg.OIDC != nil}
	s.render(w, r, http.StatusOK, "signin", &session{CSRF: pre.CSRF}, v)
}

// localPath keeps a return path on this server (no open redirect).
func localPath(p string) string {
	if p == "" || !api.SafeReturnPath(p) {
		return "/connectors"
	}
	return p
}

// signInWithKey checks an API key by asking the API who it is.
func (s *Server) signInWithKey(w http.ResponseWriter, r *http.Request, _ preAuth) {
	key := strings.TrimSpace(r.PostFormValue("api_key"))
	if !s.establish(w, r, key, time.Time{}) {
		http.Redirect(w, r, "/signin?error="+urlEscape("That API key was not accepted."), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, localPath(r.PostFormValue("next")), http.StatusSeeOther)
}

// establish starts a session for a credential the API accepts.
func (s *Server) establish(w http.ResponseWriter, r *http.Request, token string, expires time.Time) bool {
	if token == "" {
		return false
	}
	var me struct {
		Name   string `json:"name"`
		Role   string `json:"role"`
		Method string `json:"method"`
	}
	if err := s.call(r, &session{Token: token}, http.MethodGet, "/api/v1/me", nil, &me); err != nil {
		return false
	}
	s.startSession(w, session{Token: token, Name: me.Name, Role: me.Role, Method: me.Method}, expires)
	return true
}

func (s *Server) signOut(w http.ResponseWriter, _ *http.Request, _ *session) (string, error) {
	s.endSession(w)
	return "/signin?notice=" + urlEscape("You are signed out."), nil
}

// oidcClient is discovered on first use, so the console starts even
// while the identity provider is away.
type oidcClient struct {
	mu   sync.Mutex
	conf *oauth2.Config
}

func (s *Server) oauth(ctx context.Context) (*oauth2.Config, error) {
	oc := &s.oidc
	oc.mu.Lock()
	defer oc.mu.Unlock()
	if oc.conf != nil {
		return oc.conf, nil
	}
	o := s.cfg.OIDC
	if o.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, o.HTTPClient)
	}
	provider, err := oidc.NewProvider(ctx, o.Issuer)
	if err != nil {
		return nil, err
	}
	oc.conf = &oauth2.Config{ClientID: o.ClientID, Endpoint: provider.Endpoint(), Scopes: strings.Fields(o.Scope),
		RedirectURL: strings.TrimSuffix(s.cfg.PublicURL, "/") + "/signin/callback"}
	return oc.conf, nil
}

// signInWithOIDC sends the browser to the identity provider; state and
// the PKCE verifier wait in the sealed pre-sign-in cookie.
func (s *Server) signInWithOIDC(w http.ResponseWriter, r *http.Request, pre preAuth) {
	if s.cfg.OIDC == nil {
		http.Redirect(w, r, "/signin", http.StatusSeeOther)
		return
	}
	conf, err := s.oauth(r.Context())
	if err != nil {
		s.log.Warn("OIDC discovery failed", "error", err)
		http.Redirect(w, r, "/signin?error="+urlEscape("The identity provider cannot be reached. Try again, or sign in with an API key."), http.StatusSeeOther)
		return
	}
	pre.State = randomToken() + "." + urlEscape(localPath(r.PostFormValue("next")))
	pre.Verifier = oauth2.GenerateVerifier()
	s.savePre(w, pre)
	http.Redirect(w, r, conf.AuthCodeURL(pre.State, oauth2.S256ChallengeOption(pre.Verifier)), http.StatusSeeOther)
}

// oidcCallback redeems the code and keeps the access token, which the API
// checks on every call exactly as it checks anyone's.
func (s *Server) oidcCallback(w http.ResponseWriter, r *http.Request) {
	fail := func(msg string) {
		http.Redirect(w, r, "/signin?error="+urlEscape(msg), http.StatusSeeOther)
	}
	var pre preAuth
	c, err := r.Cookie(preCookie)
	q := r.URL.Query()
	if err != nil || !s.sealer.open(preCookie, c.Value, &pre) || pre.State == "" || !sameToken(q.Get("state"), pre.State) {
		fail("The sign-in did not start here or took too long. Try again.")
		return
	}
	if e := q.Get("error"); e != "" {
		fail("The identity provider refused the sign-in: " + q.Get("error_description"))
		return
	}
	conf, err := s.oauth(r.Context())
	if err != nil {
		fail("The identity provider cannot be reached. Try again.")
		return
	}
	ctx := r.Context()
	if s.cfg.OIDC.HTTPClient != nil {
		ctx = oidc.ClientContext(ctx, s.cfg.OIDC.HTTPClient)
	}
	tok, err := conf.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(pre.Verifier))
	if err != nil {
		s.log.Warn("OIDC code exchange failed")
		fail("The sign-in could not be completed. Try again.")
		return
	}
	if !s.establish(w, r, tok.AccessToken, tok.Expiry) {
		fail("Your account has no Entravault role. Ask an administrator to assign you Entravault.Admin, .Operator or .Viewer.")
		return
	}
	_, next, _ := strings.Cut(pre.State, ".")
	http.Redirect(w, r, localPath(unescape(next)), http.StatusSeeOther)
}

func unescape(s string) string {
	u, err := url.QueryUnescape(s)
	if err != nil {
		return ""
	}
	return u
}
