package prodtest

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// composeService is what the test reads of an entravault service in
// docker/compose.yaml.
type composeService struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
}

func readCompose(t *testing.T, root string) map[string]composeService {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "docker", "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf struct {
		Services map[string]composeService `yaml:"services"`
	}
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	for _, name := range []string{"api", "worker"} {
		svc, ok := cf.Services[name]
		if !ok || len(svc.Command) == 0 || svc.Command[0] != name {
			t.Fatalf("compose.yaml: no %s service running `entravault %s`: %+v", name, name, svc)
		}
	}
	return cf.Services
}

// overrides is what must differ from compose.yaml when a role runs as a
// process on this machine rather than in its container.
type overrides struct {
	// Flags replace the value of a flag compose's command gives.
	Flags map[string]string
	// Replace replaces variables compose sets (container addresses,
	// paths and ${...} placeholders the operator fills in).
	Replace map[string]string
	// Add sets variables compose does not set: the simulated tenant
	// instead of Microsoft's endpoints, the restore application, and
	// Azurite's account for azblob:// (compose stores blobs in a file://
	// volume).
	Add map[string]string
}

// roleCommand turns compose service svc into argv and environment with
// ov applied. A compose value that cannot work outside a container, and
// is not replaced, fails the test: compose and this test stay in step.
func roleCommand(t *testing.T, name string, svc composeService, ov overrides) (args, env []string) {
	t.Helper()
	args = append([]string(nil), svc.Command...)
	used := map[string]bool{}
	for i := 1; i < len(args); i++ {
		flagName, _, hasValue := strings.Cut(strings.TrimPrefix(args[i], "--"), "=")
		v, ok := ov.Flags[flagName]
		if !strings.HasPrefix(args[i], "--") || !ok {
			continue
		}
		used[flagName] = true
		if hasValue {
			args[i] = "--" + flagName + "=" + v
		} else if i+1 < len(args) {
			args[i+1] = v
			i++
		}
	}
	for f := range ov.Flags {
		if !used[f] {
			t.Fatalf("service %s: compose's command has no --%s to override: %q", name, f, svc.Command)
		}
	}
	for k := range ov.Replace {
		if _, ok := svc.Environment[k]; !ok {
			t.Fatalf("service %s: compose no longer sets %s; update localOverrides", name, k)
		}
	}
	for k, v := range svc.Environment {
		if r, ok := ov.Replace[k]; ok {
			v = r
		} else if strings.Contains(v, "${") || strings.Contains(v, "/run/secrets") || strings.Contains(v, "/var/lib") || strings.Contains(v, "temporal:") {
			t.Fatalf("service %s: compose sets %s=%q, which only works in its container: add it to localOverrides", name, k, v)
		}
		env = append(env, k+"="+v)
	}
	for k, v := range ov.Add {
		if _, ok := svc.Environment[k]; ok {
			t.Fatalf("service %s: compose now sets %s: move it from Add to Replace in localOverrides", name, k)
		}
		env = append(env, k+"="+v)
	}
	sort.Strings(env)
	return args, env
}
