package entra

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("decode %q: %v", s, err)
	}
}

// appToken gets a client-credentials token over HTTP.
func (h *harness) appToken() string {
	h.t.Helper()
	status, body := h.postToken(testTenant, map[string][]string{
		"grant_type": {"client_credentials"}, "client_id": {backupAppID}, "client_secret": {backupSecret},
		"scope": {"https://graph.microsoft.com/.default"},
	})
	if status != 200 {
		h.t.Fatalf("token: %d %v", status, body)
	}
	return body["access_token"].(string)
}

func TestVerifyAccessToken(t *testing.T) {
	h := newHarness(t)
	h.dir.grant(backupAppID, "User.Read.All")
	foreign, err := newSigningKey(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	sign := func(k *signingKey, mod func(*accessTokenClaims)) string {
		now := h.clock.Now()
		c := &accessTokenClaims{
			Aud: GraphResource, Iss: stsIssuer(testTenant), TID: testTenant, AppID: backupAppID, IDTyp: "app",
			Iat: jwt.NewNumericDate(now), Nbf: jwt.NewNumericDate(now), Exp: jwt.NewNumericDate(now.Add(time.Hour)),
		}
		mod(c)
		s, err := k.sign(c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tests := []struct {
		name    string
		token   func() string
		advance time.Duration
		wantErr []error
	}{
		{"valid", h.appToken, 0, nil},
		{"valid just before expiry", h.appToken, DefaultTokenLifetime - time.Second, nil},
		{"expired", h.appToken, DefaultTokenLifetime + time.Second, []error{ErrTokenExpired}},
		{"not yet valid", func() string {
			return sign(h.srv.key, func(c *accessTokenClaims) { c.Nbf = jwt.NewNumericDate(h.clock.Now().Add(10 * time.Minute)) })
		}, 0, []error{ErrTokenExpired}},
		{"tampered roles", func() string {
			parts := strings.Split(h.appToken(), ".")
			payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
			payload = []byte(strings.Replace(string(payload), "User.Read.All", "User.ReadWrite", 1))
			parts[1] = base64.RawURLEncoding.EncodeToString(payload)
			return strings.Join(parts, ".")
		}, 0, []error{ErrInvalidToken}},
		{"expired and tampered is invalid", func() string {
			tok := h.appToken()
			return tok[:len(tok)-4] + "AAAA"
		}, 2 * time.Hour, []error{ErrInvalidToken}},
		{"wrong audience", func() string {
			return sign(h.srv.key, func(c *accessTokenClaims) { c.Aud = "https://vault.azure.net" })
		}, 0, []error{ErrInvalidToken, ErrWrongAudience}},
		{"other tenant", func() string {
			return sign(h.srv.key, func(c *accessTokenClaims) { c.TID = "99999999-0000-0000-0000-000000000000" })
		}, 0, []error{ErrInvalidToken}},
		{"wrong issuer", func() string {
			return sign(h.srv.key, func(c *accessTokenClaims) { c.Iss = "https://sts.windows.net/other/" })
		}, 0, []error{ErrInvalidToken}},
		{"foreign key", func() string { return sign(foreign, func(*accessTokenClaims) {}) }, 0, []error{ErrInvalidToken}},
		{"garbage", func() string { return "not-a-jwt" }, 0, []error{ErrInvalidToken}},
		{"empty", func() string { return "" }, 0, []error{ErrInvalidToken}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.token()
			h.clock.Advance(tc.advance)
			defer h.clock.Advance(-tc.advance)
			c, err := h.srv.VerifyAccessToken(tok)
			if len(tc.wantErr) == 0 {
				if err != nil {
					t.Fatalf("VerifyAccessToken: %v", err)
				}
				if c.AppID != backupAppID || !c.HasRole("user.read.all") {
					t.Errorf("claims = %+v", c)
				}
				return
			}
			for _, want := range tc.wantErr {
				if !errors.Is(err, want) {
					t.Errorf("err = %v, want errors.Is %v", err, want)
				}
			}
			if errors.Is(err, ErrTokenExpired) && errors.Is(err, ErrInvalidToken) {
				t.Errorf("err %v matches both expired and invalid", err)
			}
			if tok != "" && strings.Contains(err.Error(), tok) {
				t.Error("error message contains the token")
			}
		})
	}
}

// TestSigningKeySurvivesRestart: a token issued before a restart verifies
// after it, because the key is kept in the data folder.
func TestSigningKeySurvivesRestart(t *testing.T) {
	h := newHarness(t)
	tok := h.appToken()
	restarted, err := NewServer(h.dir, Options{DataDir: h.dataDir, Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if restarted.KeyID() != h.srv.KeyID() {
		t.Errorf("kid changed across restart: %s → %s", h.srv.KeyID(), restarted.KeyID())
	}
	if _, err := restarted.VerifyAccessToken(tok); err != nil {
		t.Fatalf("token from before the restart: %v", err)
	}
	fresh, err := NewServer(h.dir, Options{DataDir: t.TempDir(), Now: h.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.VerifyAccessToken(tok); !errors.Is(err, ErrInvalidToken) {
		t.Errorf("another data folder's key accepted the token: %v", err)
	}
}
