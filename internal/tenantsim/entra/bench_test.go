package entra

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// BenchmarkClientCredentialsToken measures a full token request over TLS
// (keep-alive) with a client secret: form parsing, lookup, RS256 signing.
func BenchmarkClientCredentialsToken(b *testing.B) {
	h := newHarness(b)
	h.dir.grant(backupAppID, backupRoles...)
	client := h.tls.Client()
	form := url.Values{
		"grant_type": {"client_credentials"}, "client_id": {backupAppID}, "client_secret": {backupSecret},
		"scope": {"https://graph.microsoft.com/.default"},
	}.Encode()
	b.ResetTimer()
	for b.Loop() {
		resp, err := client.Post(h.tokenURL(testTenant), "application/x-www-form-urlencoded", strings.NewReader(form))
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
		_, _ = io.Copy(io.Discard, resp.Body) // drain so the connection is reused
		_ = resp.Body.Close()
	}
}

// BenchmarkVerifyAccessToken measures what the Graph side pays per request.
func BenchmarkVerifyAccessToken(b *testing.B) {
	h := newHarness(b)
	h.dir.grant(backupAppID, backupRoles...)
	tok := h.appToken()
	b.ResetTimer()
	for b.Loop() {
		if _, err := h.srv.VerifyAccessToken(tok); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSimAutoAuthorize measures one scripted sign-in with consent
// (sim_auto=accept) ending in a code redirect.
func BenchmarkSimAutoAuthorize(b *testing.B) {
	h := newHarness(b)
	c := h.browser()
	u := h.authorizeURL(authorizePath(testTenant), url.Values{"sim_auto": {"accept"}, "login_hint": {adminUPN}})
	b.ResetTimer()
	for b.Loop() {
		resp, err := c.Get(u)
		if err != nil {
			b.Fatal(err)
		}
		if resp.StatusCode != http.StatusFound {
			b.Fatalf("status %d", resp.StatusCode)
		}
		_, _ = io.Copy(io.Discard, resp.Body) // drain so the connection is reused
		_ = resp.Body.Close()
	}
}
