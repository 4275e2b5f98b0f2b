package graph

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"
	khttp "github.com/microsoft/kiota-http-go"
	msgraphsdk "github.com/microsoftgraph/msgraph-sdk-go"
	msgraphcore "github.com/microsoftgraph/msgraph-sdk-go-core"
	azauth "github.com/microsoftgraph/msgraph-sdk-go-core/authentication"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
)

// DefaultGraphURL is Microsoft Graph v1.0.
const DefaultGraphURL = "https://graph.microsoft.com/v1.0"

// Config says which tenant and app to call Graph as. Either ClientSecret or
// CertPath (PEM with certificate and key; KeyPath if the key is apart) is
// required.
type Config struct {
	TenantID, ClientID, ClientSecret string
	CertPath, KeyPath                string
	// AuthorityHost defaults to https://login.microsoftonline.com/.
	AuthorityHost string
	// GraphURL defaults to DefaultGraphURL.
	GraphURL string
	// CACertPath is an extra CA (PEM) trusted for the authority and Graph,
	// e.g. the tenant simulator's.
	CACertPath string
}

// ErrConfig is wrapped by configuration errors.
var ErrConfig = errors.New("graph: invalid configuration")

// Client is a Graph client for one tenant and app.
type Client struct {
	sdk     *msgraphsdk.GraphServiceClient
	adapter *msgraphsdk.GraphRequestAdapter
	cred    azcore.TokenCredential
}

// NewClient builds the credential, the middleware pipeline and the SDK client.
func NewClient(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.TenantID == "" || cfg.ClientID == "" {
		return nil, fmt.Errorf("%w: tenant id and client id are required", ErrConfig)
	}
	if cfg.GraphURL == "" {
		cfg.GraphURL = DefaultGraphURL
	}
	gu, err := url.Parse(cfg.GraphURL)
	if err != nil || gu.Host == "" {
		return nil, fmt.Errorf("%w: graph URL %q", ErrConfig, cfg.GraphURL)
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	if cfg.CACertPath != "" {
		pem, err := os.ReadFile(cfg.CACertPath)
		if err != nil {
			return nil, fmt.Errorf("%w: read CA: %v", ErrConfig, err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: no certificate in %s", ErrConfig, cfg.CACertPath)
		}
		transport.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	clientOpts := azcore.ClientOptions{Transport: &http.Client{Transport: transport}}
	if cfg.AuthorityHost != "" {
		clientOpts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: cfg.AuthorityHost}
	}
	cred, err := credential(cfg, clientOpts)
	if err != nil {
		return nil, err
	}
	// Tokens are only attached for allowed hosts; without the Graph URL's
	// host here, requests to the simulator silently go out unauthenticated.
	hosts := []string{"graph.microsoft.com", gu.Hostname()}
	auth, err := azauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(cred,
		[]string{"https://graph.microsoft.com/.default"}, hosts)
	if err != nil {
		return nil, fmt.Errorf("graph: auth provider: %w", err)
	}
	opts := msgraphsdk.GetDefaultClientOptions()
	httpClient := &http.Client{Transport: khttp.NewCustomTransportWithParentTransport(observingTransport{&throttleGate{next: transport}},
		msgraphcore.GetDefaultMiddlewaresWithOptions(&opts)...)}
	adapter, err := msgraphsdk.NewGraphRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, nil, nil, httpClient)
	if err != nil {
		return nil, fmt.Errorf("graph: adapter: %w", err)
	}
	adapter.SetBaseUrl(strings.TrimSuffix(cfg.GraphURL, "/"))
	_ = ctx // reserved: credentials are lazy, no call is made here
	return &Client{sdk: msgraphsdk.NewGraphServiceClient(adapter), adapter: adapter, cred: cred}, nil
}

func credential(cfg Config, co azcore.ClientOptions) (azcore.TokenCredential, error) {
	switch {
	case cfg.ClientSecret != "":
		c, err := azidentity.NewClientSecretCredential(cfg.TenantID, cfg.ClientID, cfg.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: true})
		if err != nil {
			return nil, fmt.Errorf("graph: secret credential: %w", err)
		}
		return c, nil
	case cfg.CertPath != "":
		data, err := os.ReadFile(cfg.CertPath)
		if err != nil {
			return nil, fmt.Errorf("%w: read certificate: %v", ErrConfig, err)
		}
		if cfg.KeyPath != "" && cfg.KeyPath != cfg.CertPath {
			key, err := os.ReadFile(cfg.KeyPath)
			if err != nil {
				return nil, fmt.Errorf("%w: read key: %v", ErrConfig, err)
			}
			data = append(append(data, '\n'), key...)
		}
		certs, key, err := azidentity.ParseCertificates(data, nil)
		if err != nil {
			return nil, fmt.Errorf("%w: parse certificate: %v", ErrConfig, err)
		}
		c, err := azidentity.NewClientCertificateCredential(cfg.TenantID, cfg.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: true})
		if err != nil {
			return nil, fmt.Errorf("graph: certificate credential: %w", err)
		}
		return c, nil
	}
	return nil, fmt.Errorf("%w: a client secret or certificate is required", ErrConfig)
}

// SDK returns the typed Graph client.
func (c *Client) SDK() *msgraphsdk.GraphServiceClient { return c.sdk }

// errorMapping makes every 4xx/5xx an *odataerrors.ODataError.
var errorMapping = abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// GetRaw GETs an absolute URL (e.g. an @odata.nextLink, used verbatim) or a
// path relative to the Graph URL, through the SDK pipeline (auth, retry,
// Retry-After, compression), and returns the response body. Failures are
// *odataerrors.ODataError when Graph sent an error body.
func (c *Client) GetRaw(ctx context.Context, rawURL string) ([]byte, error) {
	return c.GetRawWithHeaders(ctx, rawURL, nil)
}

// GetRawWithHeaders is GetRaw with extra request headers (for example
// ConsistencyLevel: eventual for $count).
func (c *Client) GetRawWithHeaders(ctx context.Context, rawURL string, headers map[string]string) ([]byte, error) {
	return c.SendRaw(ctx, abs.GET, rawURL, nil, headers)
}

// SendRaw sends one request with a JSON body (nil: none) through the SDK
// pipeline and returns the response body (empty for 204). Restore writes
// go through it, so they get the same auth, retry and Retry-After handling
// as reads.
func (c *Client) SendRaw(ctx context.Context, method abs.HttpMethod, rawURL string, body []byte, headers map[string]string) ([]byte, error) {
	if !strings.Contains(rawURL, "://") {
		rawURL = c.adapter.GetBaseUrl() + "/" + strings.TrimPrefix(rawURL, "/")
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("graph: bad URL: %w", err)
	}
	ri := abs.NewRequestInformation()
	ri.Method = method
	ri.SetUri(*u)
	ri.Headers.TryAdd("Accept", "application/json")
	for k, v := range headers {
		ri.Headers.TryAdd(k, v)
	}
	if body != nil {
		ri.SetStreamContentAndContentType(body, "application/json")
		// Write bodies are small, and the SDK's gzip handler marks a
		// request it compressed; its retry after a 429 then resends the
		// plain body labelled gzip, which Graph refuses.
		ri.AddRequestOptions([]abs.RequestOption{khttp.NewCompressionOptionsReference(false)})
	}
	res, err := c.adapter.SendPrimitive(ctx, ri, "[]byte", errorMapping)
	if err != nil {
		return nil, err
	}
	b, _ := res.([]byte)
	return b, nil
}
