package config

import (
	"flag"
	"strings"
	"testing"
)

func flagNames(fs *flag.FlagSet) []string {
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	return names
}

func TestLoadPrecedence(t *testing.T) {
	t.Setenv("ENTRAVAULT_API_ADDR", "127.0.0.1:9999")
	t.Setenv("ENTRAVAULT_NAMESPACE", "from-env")
	c, err := Load(RoleDev, []string{"--namespace", "from-flag"})
	if err != nil {
		t.Fatal(err)
	}
	if c.API.Addr != "127.0.0.1:9999" {
		t.Errorf("env not applied: api addr %q", c.API.Addr)
	}
	if c.Temporal.Namespace != "from-flag" {
		t.Errorf("flag must win over env: namespace %q", c.Temporal.Namespace)
	}
	if c.Dev.TemporalPort != 7233 || c.Dev.UIPort != 8233 || c.Dev.TemporalHTTPPort != 7243 {
		t.Errorf("default ports changed: %+v", c.Dev)
	}
}

// TestValidationNamesTheSetting checks that each bad value is reported with
// its flag and environment variable, all at once.
func TestValidationNamesTheSetting(t *testing.T) {
	tests := []struct {
		name string
		role Role
		args []string
		env  map[string]string
		want []string
	}{
		{"bad blob url scheme", RoleAPI, []string{"--blob-url", "ftp://x", "--secrets-url", "base64key://abc"}, nil, []string{"--blob-url"}},
		{"missing storage", RoleAPI, nil, nil, []string{"--blob-url", "--secrets-url", "--graph-client-secret-file"}},
		{"empty base64 key", RoleAPI, []string{"--blob-url", "mem://", "--secrets-url", "base64key://"}, nil, []string{"--secrets-url"}},
		{"oidc half set", RoleDev, []string{"--oidc-issuer", "https://login.example/t/v2.0"}, nil, []string{"--oidc-issuer"}},
		{"bad temporal address", RoleWorker, []string{"--temporal-address", "nohost", "--blob-url", "mem://", "--secrets-url", "base64key://k", "--graph-client-id", "x", "--graph-client-secret-file", "/dev/null"}, nil, []string{"--temporal-address"}},
		{"worker without credentials", RoleWorker, []string{"--blob-url", "mem://", "--secrets-url", "base64key://k"}, nil, []string{"--graph-client-id", "--graph-client-secret-file"}},
		{"unreadable secret file", RoleWorker, []string{"--blob-url", "mem://", "--secrets-url", "base64key://k", "--graph-client-id", "x", "--graph-client-secret-file", "/nonexistent/secret"}, nil, []string{"--graph-client-secret-file"}},
		{"bad log format from env", RoleDev, nil, map[string]string{"ENTRAVAULT_LOG_FORMAT": "xml"}, []string{"--log-format", "ENTRAVAULT_LOG_FORMAT"}},
		{"bad port", RoleDev, []string{"--ui-port", "70000"}, nil, []string{"--ui-port"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			_, err := Load(tc.role, tc.args)
			if err == nil {
				t.Fatal("expected an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
		})
	}
}

func TestMalformedEnvironmentIsAnError(t *testing.T) {
	t.Setenv("ENTRAVAULT_UI_PORT", "eighty")
	if _, err := Load(RoleDev, nil); err == nil || !strings.Contains(err.Error(), "ENTRAVAULT_UI_PORT") {
		t.Fatalf("got %v", err)
	}
}
