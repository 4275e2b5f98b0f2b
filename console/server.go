package console

import (
	"embed"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// OIDC is the console's sign-in with the organisation's identity
// provider: the authorization code flow with PKCE, as a public client.
type OIDC struct {
	Issuer   string
	ClientID string
	// Scope asks for an access token the API accepts, e.g.
	// "openid profile api://<API app>/access_as_user".
	Scope      string
	HTTPClient *http.Client // may trust a private CA (the simulator's)
}

// Config is what the console is built from.
type Config struct {
	// API is the REST API's handler; the console calls it in-process.
	API http.Handler
	// SessionKey seals the session cookies (32 bytes or more).
	SessionKey []byte
	// PublicURL is how browsers reach this server; https makes cookies
	// Secure. The OIDC redirect URI is PublicURL + /signin/callback.
	PublicURL string
	OIDC      *OIDC // nil: API-key sign-in only
	// TemporalUIURL links runs to the Temporal web UI ("" hides the links).
	TemporalUIURL string
	Namespace     string
	Logger        *slog.Logger
}

// Server serves the console's pages.
type Server struct {
	cfg    Config
	sealer *sealer
	secure bool
	pages  pages
	mux    *http.ServeMux
	log    *slog.Logger
	oidc   oidcClient
}

// New builds the console.
func New(cfg Config) (*Server, error) {
	if cfg.API == nil {
		return nil, errors.New("console: no API handler")
	}
	sealer, err := newSealer(cfg.SessionKey)
	if err != nil {
		return nil, err
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, sealer: sealer, secure: strings.HasPrefix(cfg.PublicURL, "https://"), pages: pages, mux: http.NewServeMux(), log: cfg.Logger}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.routes()
	return s, nil
}

// Mount serves the API under /api/, /healthz, /readyz and /metrics and
// the console everywhere else.
func Mount(api http.Handler, console *Server) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if strings.HasPrefix(p, "/api/") || p == "/healthz" || p == "/readyz" || p == "/metrics" {
			api.ServeHTTP(w, r)
			return
		}
		console.ServeHTTP(w, r)
	})
}

// ServeHTTP sets the headers every console answer carries: no framing,
// no outside resources, no caching of pages that show tenant data.
// form-action admits https and http because browsers apply it to the
// redirect after a POST, and Sign in posts here and is sent on to the
// tenant's sign-in page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self' https: http:; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	if !strings.HasPrefix(r.URL.Path, "/static/") {
		h.Set("Cache-Control", "no-store")
	}
	s.mux.ServeHTTP(w, r)
}

func (s *Server) routes() {
	static, _ := fs.Sub(staticFS, "static")
	s.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	s.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/connectors", http.StatusSeeOther) })
	s.mux.HandleFunc("GET /signin", s.signInPage)
	s.mux.HandleFunc("POST /signin/key", s.preForm(s.signInWithKey))
	s.mux.HandleFunc("POST /signin/oidc", s.preForm(s.signInWithOIDC))
	s.mux.HandleFunc("GET /signin/callback", s.oidcCallback)
	s.mux.HandleFunc("POST /signout", s.form(s.signOut))

	s.mux.HandleFunc("GET /connectors", s.page(s.connectorsPage))
	s.mux.HandleFunc("GET /connectors/new", s.page(s.addConnectorPage))
	s.mux.HandleFunc("POST /connectors/new/signin", s.form(s.startConsent))
	s.mux.HandleFunc("GET /connectors/new/configure", s.page(s.configurePage))
	s.mux.HandleFunc("POST /connectors/new", s.form(s.createConnector))
	s.mux.HandleFunc("GET /connectors/{id}", s.page(s.connectorPage))
	s.mux.HandleFunc("GET /connectors/{id}/edit", s.page(s.editPage))
	s.mux.HandleFunc("POST /connectors/{id}/edit", s.form(s.saveEdit))
	s.mux.HandleFunc("POST /connectors/{id}/run", s.form(s.runNow))
	s.mux.HandleFunc("POST /connectors/{id}/verify", s.form(s.verifyAgain))
	s.mux.HandleFunc("POST /connectors/{id}/consent", s.form(s.renewConsent))
	s.mux.HandleFunc("POST /connectors/{id}/restore-consent", s.form(s.restoreConsent))
	s.mux.HandleFunc("POST /connectors/{id}/delete", s.form(s.deleteConnector))

	s.mux.HandleFunc("GET /connectors/{id}/snapshots", s.page(s.snapshotsPage))
	s.mux.HandleFunc("GET /connectors/{id}/snapshots/{sid}", s.page(s.snapshotPage))
	s.mux.HandleFunc("GET /connectors/{id}/snapshots/{sid}/export", s.signedIn(s.export))
	s.mux.HandleFunc("GET /connectors/{id}/objects/{oid}", s.page(s.objectPage))
	s.mux.HandleFunc("GET /connectors/{id}/compare", s.page(s.comparePage))
	s.mux.HandleFunc("GET /connectors/{id}/restores", s.page(s.restoresPage))
	s.mux.HandleFunc("POST /connectors/{id}/restores", s.form(s.planRestore))
	s.mux.HandleFunc("GET /connectors/{id}/restores/{rid}", s.page(s.restorePage))
	s.mux.HandleFunc("POST /connectors/{id}/restores/{rid}/apply", s.form(s.applyRestore))
	s.mux.HandleFunc("POST /connectors/{id}/restores/{rid}/cancel", s.form(s.cancelRestore))
}

// pageHandler renders a page for a signed-in person; it returns the
// template, its data, or an error shown in plain words.
type pageHandler func(r *http.Request, sess *session) (tmpl string, data any, err error)

// page wraps a pageHandler: no session sends the browser to sign in.
func (s *Server) page(h pageHandler) http.HandlerFunc {
	return s.signedIn(func(w http.ResponseWriter, r *http.Request, sess *session) {
		tmpl, data, err := h(r, sess)
		if err != nil {
			s.fail(w, r, sess, err)
			return
		}
		s.render(w, r, http.StatusOK, tmpl, sess, data)
	})
}

// signedIn runs h with the request's session; without one the browser
// goes to sign in.
func (s *Server) signedIn(h func(w http.ResponseWriter, r *http.Request, sess *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess := s.currentSession(r)
		if sess == nil {
			s.toSignIn(w, r)
			return
		}
		h(w, r, sess)
	}
}

// formHandler acts on a checked form and answers where to go next.
type formHandler func(w http.ResponseWriter, r *http.Request, sess *session) (redirect string, err error)

// form wraps a POST from a signed-in person: the CSRF token of the
// session must come back in the form (synchronizer token).
func (s *Server) form(h formHandler) http.HandlerFunc {
	return s.signedIn(func(w http.ResponseWriter, r *http.Request, sess *session) {
		if !sameToken(r.PostFormValue("csrf"), sess.CSRF) {
			s.render(w, r, http.StatusForbidden, "error", sess, errorView{Title: "Form expired", Message: errCSRF})
			return
		}
		to, err := h(w, r, sess)
		if err != nil {
			s.fail(w, r, sess, err)
			return
		}
		if to != "" {
			http.Redirect(w, r, to, http.StatusSeeOther)
		}
	})
}

const errCSRF = "This form was not sent from an Entravault page you opened, or it is too old. Go back, reload the page and try again."

// preForm wraps a sign-in form's POST: its CSRF token lives in the
// pre-sign-in cookie (double submit, sealed).
func (s *Server) preForm(h func(w http.ResponseWriter, r *http.Request, pre preAuth)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var pre preAuth
		c, err := r.Cookie(preCookie)
		if err != nil || !s.sealer.open(preCookie, c.Value, &pre) || !sameToken(r.PostFormValue("csrf"), pre.CSRF) {
			s.render(w, r, http.StatusForbidden, "error", nil, errorView{Title: "Form expired", Message: errCSRF})
			return
		}
		h(w, r, pre)
	}
}

func (s *Server) toSignIn(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.Header.Get("X-Partial") == "" {
		http.Redirect(w, r, "/signin?next="+urlEscape(r.URL.RequestURI()), http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/signin", http.StatusSeeOther)
}

// fail shows an error page in plain words; an expired credential signs
// the person out.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, sess *session, err error) {
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		s.endSession(w)
		s.toSignIn(w, r)
		return
	}
	status, view := explain(err)
	if status >= 500 {
		s.log.Error("console page failed", "path", r.URL.Path, "error", err)
	}
	s.render(w, r, status, "error", sess, view)
}
