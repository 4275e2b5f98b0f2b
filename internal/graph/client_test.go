package graph_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/entravault/entravault/internal/graph"
	"github.com/entravault/entravault/internal/tenantsim"
)

func TestNewClientConfigErrors(t *testing.T) {
	cases := []struct {
		name string
		cfg  graph.Config
	}{
		{"no tenant", graph.Config{ClientID: "c", ClientSecret: "s"}},
		{"no credential", graph.Config{TenantID: "t", ClientID: "c"}},
		{"missing CA file", graph.Config{TenantID: "t", ClientID: "c", ClientSecret: "s", CACertPath: "/nonexistent/ca.pem"}},
		{"missing certificate", graph.Config{TenantID: "t", ClientID: "c", CertPath: "/nonexistent/app.pem"}},
		{"bad graph URL", graph.Config{TenantID: "t", ClientID: "c", ClientSecret: "s", GraphURL: "::"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := graph.NewClient(context.Background(), c.cfg); !errors.Is(err, graph.ErrConfig) {
				t.Fatalf("got %v, want ErrConfig", err)
			}
		})
	}
}

func TestGetRawAgainstSimulator(t *testing.T) {
	s := tenantsim.NewTest(t, tenantsim.Options{Seed: 1, Users: 25, Throttle: tenantsim.ThrottleConfig{Disabled: true}})
	cr := s.Credentials()
	for _, useCert := range []bool{false, true} {
		cfg := graph.Config{TenantID: cr.TenantID, ClientID: cr.BackupApp.ClientID, ClientSecret: cr.BackupApp.ClientSecret,
			AuthorityHost: cr.AuthorityHost, GraphURL: cr.GraphURL, CACertPath: cr.CACertPath}
		if useCert {
			cfg.ClientSecret, cfg.CertPath, cfg.KeyPath = "", cr.BackupApp.CertPath, cr.BackupApp.KeyPath
		}
		c, err := graph.NewClient(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		b, err := c.GetRaw(context.Background(), "users?$top=10")
		if err != nil {
			t.Fatalf("cert=%v: %v", useCert, err)
		}
		var p struct {
			Value []map[string]any `json:"value"`
			Next  string           `json:"@odata.nextLink"`
		}
		if err := json.Unmarshal(b, &p); err != nil || len(p.Value) != 10 || p.Next == "" {
			t.Fatalf("cert=%v: page %d items, next %q, %v", useCert, len(p.Value), p.Next, err)
		}
		if _, err := c.GetRaw(context.Background(), p.Next); err != nil {
			t.Fatalf("nextLink verbatim: %v", err)
		}
		_, err = c.GetRaw(context.Background(), "users/0b5e6c1a-1111-4222-8333-944455556666")
		var oe *odataerrors.ODataError
		if !errors.As(err, &oe) || oe.ResponseStatusCode != 404 {
			t.Fatalf("unknown user: %v", err)
		}
	}
}
