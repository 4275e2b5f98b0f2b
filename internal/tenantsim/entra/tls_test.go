package entra

import (
	"bytes"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

func TestEnsureTLS(t *testing.T) {
	dir := t.TempDir()
	first, err := EnsureTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	caPEM, _ := os.ReadFile(first.CAPath)
	serverPEM, _ := os.ReadFile(filepath.Join(dir, ServerCertFile))

	t.Run("reused on restart", func(t *testing.T) {
		again, err := EnsureTLS(dir)
		if err != nil {
			t.Fatal(err)
		}
		ca2, _ := os.ReadFile(again.CAPath)
		server2, _ := os.ReadFile(filepath.Join(dir, ServerCertFile))
		if !bytes.Equal(caPEM, ca2) || !bytes.Equal(serverPEM, server2) {
			t.Error("certificates regenerated although still valid")
		}
	})
	t.Run("keys are private", func(t *testing.T) {
		for _, f := range []string{caKeyFile, serverKeyFile} {
			st, err := os.Stat(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm()&0o077 != 0 {
				t.Errorf("%s mode %v", f, st.Mode().Perm())
			}
		}
	})
	t.Run("extra host reissues under the same CA", func(t *testing.T) {
		more, err := EnsureTLS(dir, "entravault-sim", "10.1.2.3")
		if err != nil {
			t.Fatal(err)
		}
		ca2, _ := os.ReadFile(more.CAPath)
		if !bytes.Equal(caPEM, ca2) {
			t.Error("CA changed")
		}
		leaf := more.Config.Certificates[0].Leaf
		for _, h := range []string{"127.0.0.1", "::1", "localhost", "entravault-sim", "10.1.2.3"} {
			if err := leaf.VerifyHostname(h); err != nil {
				t.Errorf("server certificate does not cover %s: %v", h, err)
			}
		}
	})

	// Clients built from the CA file trust the server; default clients do not.
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	cfg, err := EnsureTLS(dir)
	if err != nil {
		t.Fatal(err)
	}
	ts.TLS = cfg.Config
	ts.StartTLS()
	defer ts.Close()
	caClient, err := NewCAClient(cfg.CAPath)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		client  *http.Client
		wantErr bool
	}{
		{"NewCAClient", caClient, false},
		{"TLS.Client", cfg.Client(), false},
		{"system roots", &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{}}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := tc.client.Get(ts.URL)
			if err == nil {
				resp.Body.Close()
			}
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, wantErr %v", err, tc.wantErr)
			}
		})
	}
}

func TestEnsureAppCertificate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "creds", "backup-app.pem")
	c1, err := EnsureAppCertificate(path, "entravault-backup")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := EnsureAppCertificate(path, "entravault-backup")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(c1.CertDER, c2.CertDER) || !c1.Key.Equal(c2.Key) {
		t.Error("certificate not reused")
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("stat %v mode %v", err, st.Mode())
	}
	data, _ := os.ReadFile(path)
	certs, key, err := azidentity.ParseCertificates(data, nil)
	if err != nil || len(certs) != 1 || key == nil || !bytes.Equal(certs[0].Raw, c1.CertDER) {
		t.Errorf("azidentity.ParseCertificates: %v (%d certs)", err, len(certs))
	}
}
