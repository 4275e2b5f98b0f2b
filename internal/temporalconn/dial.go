// Package temporalconn dials the Temporal frontend the same way for every
// role: plain on loopback, TLS or mTLS, or with an API key.
package temporalconn

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/entravault/entravault/internal/config"
)

// Dial connects to the frontend named by c and checks that it answers.
func Dial(c config.Temporal, logger *slog.Logger) (client.Client, error) {
	opts := client.Options{
		HostPort:  c.Address,
		Namespace: c.Namespace,
		Logger:    tlog.NewStructuredLogger(logger),
	}
	tlsConf, err := tlsConfig(c)
	if err != nil {
		return nil, err
	}
	opts.ConnectionOptions.TLS = tlsConf
	if c.APIKeyFile != "" {
		key, err := os.ReadFile(c.APIKeyFile)
		if err != nil {
			return nil, fmt.Errorf("temporal API key: %w", err)
		}
		opts.Credentials = client.NewAPIKeyStaticCredentials(strings.TrimSpace(string(key)))
		if opts.ConnectionOptions.TLS == nil {
			opts.ConnectionOptions.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	cl, err := client.Dial(opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (namespace %s): %w", c.Address, c.Namespace, err)
	}
	return cl, nil
}

func tlsConfig(c config.Temporal) (*tls.Config, error) {
	if c.TLSCertFile == "" && c.TLSCAFile == "" && c.TLSServerName == "" {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName}
	if conf.ServerName == "" {
		host, _, _ := net.SplitHostPort(c.Address)
		conf.ServerName = host
	}
	if c.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.TLSCertFile, c.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("temporal client certificate: %w", err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	if c.TLSCAFile != "" {
		pem, err := os.ReadFile(c.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("temporal CA: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, errors.New("temporal CA: no certificate in " + c.TLSCAFile)
		}
		conf.RootCAs = pool
	}
	return conf, nil
}
