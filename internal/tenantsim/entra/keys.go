package entra

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is defined as a SHA-1 thumbprint.
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// signingKeyFile holds the token signing key and its certificate, so tokens
// issued before a restart still verify after it.
const signingKeyFile = "signing-key.pem"

// signingKey is the RSA key that signs every token, with the self-signed
// certificate published in the JWKS x5c (as Entra does).
type signingKey struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
	kid  string // base64url SHA-1 thumbprint of the certificate, like Entra's kid/x5t
}

// loadOrCreateSigningKey reads dir/signing-key.pem, creating it if missing.
// An empty dir gives an ephemeral key.
func loadOrCreateSigningKey(dir string, now time.Time) (*signingKey, error) {
	if dir == "" {
		return newSigningKey(now)
	}
	path := filepath.Join(dir, signingKeyFile)
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		key, cert, err := parseKeyAndCert(data)
		if err != nil {
			return nil, fmt.Errorf("entra: signing key %s: %w", path, err)
		}
		return makeSigningKey(key, cert)
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("entra: read signing key: %w", err)
	}
	sk, err := newSigningKey(now)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("entra: create data folder: %w", err)
	}
	pemData, err := encodeKeyAndCert(sk.key, sk.cert.Raw)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(path, pemData, 0o600); err != nil {
		return nil, fmt.Errorf("entra: save signing key: %w", err)
	}
	return sk, nil
}

func newSigningKey(now time.Time) (*signingKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("entra: generate signing key: %w", err)
	}
	der, err := selfSignedRSACert(key, "entravault simulated token signing", now, 10*365*24*time.Hour)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("entra: parse signing certificate: %w", err)
	}
	return makeSigningKey(key, cert)
}

func makeSigningKey(key *rsa.PrivateKey, cert *x509.Certificate) (*signingKey, error) {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("entra: signing certificate does not match the key")
	}
	return &signingKey{key: key, cert: cert, kid: x5t(cert.Raw)}, nil
}

// selfSignedRSACert makes a self-signed certificate for key, valid from an
// hour before now (tolerating clock skew) for validFor.
func selfSignedRSACert(key *rsa.PrivateKey, cn string, now time.Time, validFor time.Duration) ([]byte, error) {
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("entra: create certificate: %w", err)
	}
	return der, nil
}

func randomSerial() (*big.Int, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("entra: certificate serial: %w", err)
	}
	return serial, nil
}

// encodeKeyAndCert writes a PEM with the certificate then the PKCS#8 key: the
// layout azidentity.ParseCertificates and most tools read.
func encodeKeyAndCert(key any, certDER []byte) ([]byte, error) {
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("entra: encode private key: %w", err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...), nil
}

// parseKeyAndCert reads the first certificate and an RSA private key
// (PKCS#8 or PKCS#1) from PEM data.
func parseKeyAndCert(data []byte) (*rsa.PrivateKey, *x509.Certificate, error) {
	var (
		key  *rsa.PrivateKey
		cert *x509.Certificate
	)
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			if cert != nil {
				continue
			}
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("parse certificate: %w", err)
			}
			cert = c
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("parse private key: %w", err)
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, nil, errors.New("private key is not RSA")
			}
			key = rk
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, nil, fmt.Errorf("parse private key: %w", err)
			}
			key = k
		}
	}
	if key == nil || cert == nil {
		return nil, nil, errors.New("need a CERTIFICATE and a PRIVATE KEY block")
	}
	return key, cert, nil
}

// x5t is the base64url SHA-1 thumbprint of a DER certificate.
func x5t(der []byte) string {
	sum := sha1.Sum(der) //nolint:gosec // defined by RFC 7515 as SHA-1.
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// x5tS256 is the base64url SHA-256 thumbprint of a DER certificate.
func x5tS256(der []byte) string {
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// writeFileAtomic writes via a temporary file and rename, so a crash never
// leaves a half-written key that would fail every later start.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
