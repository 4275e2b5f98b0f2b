package console

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// session is what the signed-in browser carries, sealed (AES-GCM) in an
// HttpOnly cookie: the credential never reaches page scripts, and any
// replica with the key can read it. Signing out clears it.
type session struct {
	Token   string `json:"t"` // API key or OIDC access token, sent to the API as Bearer
	Name    string `json:"n"`
	Role    string `json:"r"`
	Method  string `json:"m"`
	CSRF    string `json:"c"`
	Expires int64  `json:"e"`
}

// preAuth is the short-lived cookie of someone not signed in yet: the
// CSRF token of the sign-in form and the OIDC flow's state and PKCE
// verifier.
type preAuth struct {
	CSRF     string `json:"c"`
	State    string `json:"s,omitempty"`
	Verifier string `json:"v,omitempty"`
	Expires  int64  `json:"e"`
}

const (
	sessionCookie = "ev_session"
	preCookie     = "ev_pre"
	// sessionLifetime bounds a session even when its credential lives
	// longer (an API key does not expire).
	sessionLifetime = 8 * time.Hour
	preLifetime     = 15 * time.Minute
)

// sealer seals and opens cookie values.
type sealer struct{ aead cipher.AEAD }

func newSealer(key []byte) (*sealer, error) {
	if len(key) < 32 {
		return nil, errors.New("console: the session key must be at least 32 bytes")
	}
	block, err := aes.NewCipher(key[:32])
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal encrypts v; name is authenticated too, so one cookie's value
// cannot be replayed as another's.
func (s *sealer) seal(name string, v any) string {
	plain, _ := json.Marshal(v)
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return base64.RawURLEncoding.EncodeToString(s.aead.Seal(nonce, nonce, plain, []byte(name)))
}

func (s *sealer) open(name, value string, into any) bool {
	raw, err := base64.RawURLEncoding.DecodeString(value)
	if err != nil || len(raw) < s.aead.NonceSize() {
		return false
	}
	plain, err := s.aead.Open(nil, raw[:s.aead.NonceSize()], raw[s.aead.NonceSize():], []byte(name))
	return err == nil && json.Unmarshal(plain, into) == nil
}

func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// cookie is one of the console's cookies: HttpOnly, SameSite=Lax (the
// IdP's redirect back is a top-level GET that must carry the sign-in
// state), Secure when the console is served over TLS.
func (s *Server) cookie(name, value string, expires time.Time) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode}
	if value == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	return c
}

// currentSession reads a valid, unexpired session or nil.
func (s *Server) currentSession(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	var sess session
	if !s.sealer.open(sessionCookie, c.Value, &sess) || time.Now().Unix() > sess.Expires || sess.Token == "" {
		return nil
	}
	return &sess
}

func (s *Server) startSession(w http.ResponseWriter, sess session, expires time.Time) {
	if limit := time.Now().Add(sessionLifetime); expires.IsZero() || expires.After(limit) {
		expires = limit
	}
	sess.CSRF, sess.Expires = randomToken(), expires.Unix()
	http.SetCookie(w, s.cookie(sessionCookie, s.sealer.seal(sessionCookie, sess), expires))
	http.SetCookie(w, s.cookie(preCookie, "", time.Time{}))
}

func (s *Server) endSession(w http.ResponseWriter) {
	http.SetCookie(w, s.cookie(sessionCookie, "", time.Time{}))
}

// currentPre reads the pre-sign-in cookie, or makes a new one.
func (s *Server) currentPre(w http.ResponseWriter, r *http.Request) preAuth {
	var pre preAuth
	if c, err := r.Cookie(preCookie); err == nil && s.sealer.open(preCookie, c.Value, &pre) && time.Now().Unix() <= pre.Expires {
		return pre
	}
	pre = preAuth{CSRF: randomToken(), Expires: time.Now().Add(preLifetime).Unix()}
	s.savePre(w, pre)
	return pre
}

func (s *Server) savePre(w http.ResponseWriter, pre preAuth) {
	http.SetCookie(w, s.cookie(preCookie, s.sealer.seal(preCookie, pre), time.Unix(pre.Expires, 0)))
}
