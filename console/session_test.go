package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// meAPI stands in for the REST API's /me: the token "good" is an operator.
func meAPI() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer good" {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte(`{"error":{"code":"unauthorized","message":"bad credential"}}`))
			return
		}
		switch r.URL.Path {
		case "/api/v1/me":
			_, _ = w.Write([]byte(`{"name":"ops","role":"operator","method":"apikey"}`))
		case "/api/v1/connectors":
			_, _ = w.Write([]byte(`{"connectors":[]}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	})
}

func newTestConsole(t *testing.T, publicURL string) *Server {
	t.Helper()
	s, err := New(Config{API: meAPI(), SessionKey: []byte(strings.Repeat("k", 32)), PublicURL: publicURL})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type browser struct {
	t       *testing.T
	h       http.Handler
	cookies map[string]*http.Cookie
}

func (b *browser) do(method, target string, form url.Values) *httptest.ResponseRecorder {
	b.t.Helper()
	var req *http.Request
	if form != nil {
		req = httptest.NewRequest(method, target, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		req = httptest.NewRequest(method, target, nil)
	}
	for _, c := range b.cookies {
		req.AddCookie(c)
	}
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, req)
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge < 0 {
			delete(b.cookies, c.Name)
		} else {
			b.cookies[c.Name] = c
		}
	}
	return rec
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func csrfOf(t *testing.T, body string) string {
	t.Helper()
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token in the page:\n%s", body)
	}
	return m[1]
}

// TestConsoleSession: signing in with an API key needs the sign-in form's
// CSRF token; the session cookie is HttpOnly, SameSite and Secure under
// TLS; pages without a session go to sign-in; signing out needs the
// session's token too.
func TestConsoleSession(t *testing.T) {
	s := newTestConsole(t, "http://127.0.0.1:8080")
	b := &browser{t: t, h: s, cookies: map[string]*http.Cookie{}}
	if rec := b.do("GET", "/connectors", nil); rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/signin?next=") {
		t.Fatalf("page without a session: %d %q", rec.Code, rec.Header().Get("Location"))
	}
	page := b.do("GET", "/signin", nil)
	token := csrfOf(t, page.Body.String())
	if rec := b.do("POST", "/signin/key", url.Values{"api_key": {"good"}}); rec.Code != http.StatusForbidden {
		t.Errorf("sign-in without CSRF token: %d", rec.Code)
	}
	if rec := b.do("POST", "/signin/key", url.Values{"api_key": {"good"}, "csrf": {"forged"}}); rec.Code != http.StatusForbidden {
		t.Errorf("sign-in with a wrong CSRF token: %d", rec.Code)
	}
	if rec := b.do("POST", "/signin/key", url.Values{"api_key": {"bad"}, "csrf": {token}}); b.cookies[sessionCookie] != nil || !strings.Contains(rec.Header().Get("Location"), "error=") {
		t.Errorf("a refused key started a session: %q", rec.Header().Get("Location"))
	}
	rec := b.do("POST", "/signin/key", url.Values{"api_key": {"good"}, "csrf": {token}, "next": {"//evil.example/x"}})
	c := b.cookies[sessionCookie]
	if c == nil || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Secure || rec.Header().Get("Location") != "/connectors" {
		t.Fatalf("session cookie %+v, redirect %q", c, rec.Header().Get("Location"))
	}
	if strings.Contains(c.Value, "good") {
		t.Error("the credential is readable in the cookie")
	}
	list := b.do("GET", "/connectors", nil)
	if list.Code != http.StatusOK || !strings.Contains(list.Body.String(), "ops") || list.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("connectors page: %d", list.Code)
	}
	if rec := b.do("POST", "/signout", url.Values{"csrf": {token}}); rec.Code != http.StatusForbidden {
		t.Errorf("sign-out with the pre-sign-in token (not the session's): %d", rec.Code)
	}
	if rec := b.do("POST", "/signout", url.Values{"csrf": {csrfOf(t, list.Body.String())}}); rec.Code != http.StatusSeeOther || b.cookies[sessionCookie] != nil {
		t.Errorf("sign-out: %d, cookie left %v", rec.Code, b.cookies[sessionCookie] != nil)
	}

	tls := newTestConsole(t, "https://entravault.example.com")
	tb := &browser{t: t, h: tls, cookies: map[string]*http.Cookie{}}
	tok := csrfOf(t, tb.do("GET", "/signin", nil).Body.String())
	tb.do("POST", "/signin/key", url.Values{"api_key": {"good"}, "csrf": {tok}})
	if c := tb.cookies[sessionCookie]; c == nil || !c.Secure {
		t.Errorf("under TLS the session cookie is not Secure: %+v", c)
	}
}

// TestConsoleSealedCookies: a sealed value opens only under its own name
// and key, and any change to it is refused.
func TestConsoleSealedCookies(t *testing.T) {
	a, _ := newSealer([]byte(strings.Repeat("a", 32)))
	other, _ := newSealer([]byte(strings.Repeat("b", 32)))
	v := a.seal(sessionCookie, session{Token: "t", Role: "viewer"})
	var got session
	if !a.open(sessionCookie, v, &got) || got.Role != "viewer" {
		t.Fatal("round trip failed")
	}
	tampered := []byte(v)
	tampered[len(tampered)/2] ^= 1
	for name, ok := range map[string]bool{
		"another cookie's name": a.open(preCookie, v, &got),
		"another key":           other.open(sessionCookie, v, &got),
		"a changed byte":        a.open(sessionCookie, string(tampered), &got),
	} {
		if ok {
			t.Errorf("opened with %s", name)
		}
	}
	if _, err := newSealer([]byte("short")); err == nil {
		t.Error("a short key was accepted")
	}
}
