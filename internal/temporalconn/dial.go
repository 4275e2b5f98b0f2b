// Package temporalconn dials the Temporal frontend the same way for every
// role: plain on loopback, TLS or mTLS, or with an API key.
package temporalconn

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	tlog "go.temporal.io/sdk/log"

	"github.com/entravault/entravault/internal/config"
)

// Dial connects to the frontend named by c and checks that it answers.
func Dial(c config.Temporal, logger *slog.Logger) (client.Client, error) {
	opts, err := options(c, logger)
	if err != nil {
		return nil, err
	}
	return dial(context.Background(), c, opts)
}

// DialWait is Dial for a role starting beside its cluster: while the
// frontend cannot be reached (not up yet, restarting) it tries again, with
// backoff up to 30 s, until ctx ends. What waiting cannot fix (bad TLS
// files, refused credentials, an unknown namespace) fails at once.
func DialWait(ctx context.Context, c config.Temporal, logger *slog.Logger) (client.Client, error) {
	opts, err := options(c, logger)
	if err != nil {
		return nil, err
	}
	backoff := time.Second
	for {
		cl, err := dial(ctx, c, opts)
		if err == nil || !unreachable(err) || ctx.Err() != nil {
			return cl, err
		}
		logger.Warn("Temporal is not reachable yet; trying again", "address", c.Address, "retry_in", backoff, "error", err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// unreachable reports a frontend that did not answer (as opposed to one
// that refused us).
func unreachable(err error) bool {
	var (
		unavailable *serviceerror.Unavailable
		deadline    *serviceerror.DeadlineExceeded
		nsDown      *serviceerror.NamespaceUnavailable
	)
	return errors.As(err, &unavailable) || errors.As(err, &deadline) || errors.As(err, &nsDown) ||
		errors.Is(err, context.DeadlineExceeded)
}

func dial(ctx context.Context, c config.Temporal, opts client.Options) (client.Client, error) {
	cl, err := client.DialContext(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s (namespace %s): %w", c.Address, c.Namespace, err)
	}
	return cl, nil
}

func options(c config.Temporal, logger *slog.Logger) (client.Options, error) {
	opts := client.Options{
		HostPort:  c.Address,
		Namespace: c.Namespace,
		Logger:    tlog.NewStructuredLogger(logger),
	}
	tlsConf, err := tlsConfig(c)
	if err != nil {
		return opts, err
	}
	opts.ConnectionOptions.TLS = tlsConf
	if c.APIKeyFile != "" {
		key, err := os.ReadFile(c.APIKeyFile)
		if err != nil {
			return opts, fmt.Errorf("temporal API key: %w", err)
		}
		opts.Credentials = client.NewAPIKeyStaticCredentials(strings.TrimSpace(string(key)))
		if opts.ConnectionOptions.TLS == nil {
			opts.ConnectionOptions.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
		}
	}
	return opts, nil
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
