package entra

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Files EnsureTLS keeps in its folder. Keys are written 0600.
const (
	CAFile         = "ca.pem"
	caKeyFile      = "ca-key.pem"
	ServerCertFile = "server.pem"
	serverKeyFile  = "server-key.pem"
)

// TLS is the simulator's private CA and the server certificate it signed.
type TLS struct {
	// CAPath is the CA certificate (PEM) clients must trust.
	CAPath string
	// Config serves the server certificate; use it for the listener.
	Config *tls.Config
	// Pool holds the CA, for clients.
	Pool *x509.CertPool
}

// DefaultTLSHosts are always in the server certificate.
var DefaultTLSHosts = []string{"127.0.0.1", "::1", "localhost"}

// EnsureTLS creates, once, a self-signed CA and a server certificate for
// 127.0.0.1, ::1, localhost and extraHosts (IPs or DNS names) in dir, and
// reuses them on later calls so clients keep trusting the same CA across
// restarts. The server certificate is reissued (by the same CA) when it
// lacks a requested host or expires within 30 days.
func EnsureTLS(dir string, extraHosts ...string) (*TLS, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("entra: create TLS folder: %w", err)
	}
	now := time.Now()
	caCert, caKey, err := loadOrCreateCA(dir, now)
	if err != nil {
		return nil, err
	}
	hosts := append(slices.Clone(DefaultTLSHosts), extraHosts...)
	serverCert, err := loadOrCreateServerCert(dir, caCert, caKey, hosts, now)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &TLS{
		CAPath: filepath.Join(dir, CAFile),
		Config: &tls.Config{Certificates: []tls.Certificate{serverCert}, MinVersion: tls.VersionTLS12},
		Pool:   pool,
	}, nil
}

// Client returns an HTTP client trusting only the simulator's CA.
func (t *TLS) Client() *http.Client { return newPoolClient(t.Pool) }

// LoadCAPool reads a CA certificate PEM file (such as TLS.CAPath) into a pool.
func LoadCAPool(caPath string) (*x509.CertPool, error) {
	data, err := os.ReadFile(caPath)
	if err != nil {
		return nil, fmt.Errorf("entra: read CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(data) {
		return nil, fmt.Errorf("entra: no certificate in %s", caPath)
	}
	return pool, nil
}

// NewCAClient returns an HTTP client trusting the CA in caPath; give it to
// azidentity as ClientOptions.Transport.
func NewCAClient(caPath string) (*http.Client, error) {
	pool, err := LoadCAPool(caPath)
	if err != nil {
		return nil, err
	}
	return newPoolClient(pool), nil
}

func newPoolClient(pool *x509.CertPool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

func loadOrCreateCA(dir string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPath, keyPath := filepath.Join(dir, CAFile), filepath.Join(dir, caKeyFile)
	cert, key, err := readECPair(certPath, keyPath)
	if err == nil && now.Before(cert.NotAfter) {
		return cert, key, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("entra: CA in %s: %w", dir, err)
	}
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("entra: generate CA key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Entravault simulator CA", Organization: []string{"Entravault"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("entra: create CA: %w", err)
	}
	if err := writeECPair(certPath, keyPath, der, key); err != nil {
		return nil, nil, err
	}
	cert, err = x509.ParseCertificate(der)
	return cert, key, err
}

func loadOrCreateServerCert(dir string, ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string, now time.Time) (tls.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, ServerCertFile), filepath.Join(dir, serverKeyFile)
	cert, key, err := readECPair(certPath, keyPath)
	if err == nil && cert.CheckSignatureFrom(ca) == nil && now.Add(30*24*time.Hour).Before(cert.NotAfter) && coversHosts(cert, hosts) {
		return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return tls.Certificate{}, fmt.Errorf("entra: server certificate in %s: %w", dir, err)
	}
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("entra: generate server key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: hosts[0], Organization: []string{"Entravault"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.AddDate(1, 0, 0), // under 398 days, which browsers require
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("entra: create server certificate: %w", err)
	}
	if err := writeECPair(certPath, keyPath, der, key); err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

func coversHosts(cert *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if h != "" && cert.VerifyHostname(strings.Trim(h, "[]")) != nil {
			return false
		}
	}
	return true
}

func readECPair(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, errors.New("not PEM")
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, nil, errors.New("key is not ECDSA")
	}
	return cert, key, nil
}

func writeECPair(certPath, keyPath string, der []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("entra: encode key: %w", err)
	}
	// Key first: a certificate without its key would be unusable.
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return fmt.Errorf("entra: write key: %w", err)
	}
	if err := writeFileAtomic(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return fmt.Errorf("entra: write certificate: %w", err)
	}
	return nil
}
