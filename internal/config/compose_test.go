package config

import (
	"os"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Build       any               `yaml:"build"`
		Command     []string          `yaml:"command"`
		Environment map[string]string `yaml:"environment"`
	} `yaml:"services"`
}

// TestComposeMatchesFlags checks that every entravault service in the
// production compose file runs a real role with flags and ENTRAVAULT_*
// variables that the binary really has. No Docker engine runs here, so this
// is how the compose file is kept honest.
func TestComposeMatchesFlags(t *testing.T) {
	raw, err := os.ReadFile("../../docker/compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	roles := map[string]bool{}
	for name, svc := range cf.Services {
		if !strings.HasPrefix(svc.Image, "entravault:") {
			continue
		}
		if len(svc.Command) == 0 {
			t.Errorf("service %s: no command", name)
			continue
		}
		role := Role(svc.Command[0])
		if role != RoleAPI && role != RoleWorker {
			t.Errorf("service %s: role %q is not a production role", name, role)
			continue
		}
		roles[string(role)] = true
		fs, _ := FlagSet(role)
		for _, arg := range svc.Command[1:] {
			if !strings.HasPrefix(arg, "--") {
				continue // a flag's value
			}
			flagName, _, _ := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
			if fs.Lookup(flagName) == nil {
				t.Errorf("service %s: entravault %s has no flag --%s", name, role, flagName)
			}
		}
		known := map[string]bool{}
		for _, f := range flagNames(fs) {
			known[EnvName(f)] = true
		}
		for env := range svc.Environment {
			if strings.HasPrefix(env, EnvPrefix) && !known[env] {
				t.Errorf("service %s: entravault %s reads no variable %s", name, role, env)
			}
		}
	}
	if !roles["api"] || !roles["worker"] {
		t.Errorf("compose file must run both the api and the worker role, found %v", roles)
	}
}
