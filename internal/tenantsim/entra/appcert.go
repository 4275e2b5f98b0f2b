package entra

import (
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// AppCertificate is a certificate credential for an app registration: the
// app signs client assertions with Key; the directory registers CertDER.
type AppCertificate struct {
	CertDER []byte
	Key     *rsa.PrivateKey
	// PEM holds the certificate then the PKCS#8 key, the layout
	// azidentity.ParseCertificates reads.
	PEM []byte
}

// Thumbprint is the certificate's SHA-1 thumbprint (base64url), the x5t an
// assertion header carries.
func (c *AppCertificate) Thumbprint() string { return x5t(c.CertDER) }

// NewAppCertificate creates a self-signed RSA-2048 certificate valid for two
// years.
func NewAppCertificate(commonName string) (*AppCertificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("entra: generate app key: %w", err)
	}
	der, err := selfSignedRSACert(key, commonName, time.Now(), 2*365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	pemData, err := encodeKeyAndCert(key, der)
	if err != nil {
		return nil, err
	}
	return &AppCertificate{CertDER: der, Key: key, PEM: pemData}, nil
}

// EnsureAppCertificate loads the certificate+key PEM at path, or creates it
// (mode 0600) with NewAppCertificate when missing, so the simulated app keeps
// one certificate across restarts.
func EnsureAppCertificate(path, commonName string) (*AppCertificate, error) {
	data, err := os.ReadFile(path)
	if err == nil {
		key, cert, err := parseKeyAndCert(data)
		if err != nil {
			return nil, fmt.Errorf("entra: app certificate %s: %w", path, err)
		}
		return &AppCertificate{CertDER: cert.Raw, Key: key, PEM: data}, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("entra: read app certificate: %w", err)
	}
	c, err := NewAppCertificate(commonName)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("entra: create folder: %w", err)
	}
	if err := writeFileAtomic(path, c.PEM, 0o600); err != nil {
		return nil, fmt.Errorf("entra: write app certificate: %w", err)
	}
	return c, nil
}
