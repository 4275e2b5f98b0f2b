package prodtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"text/template"
	"time"

	"go.temporal.io/api/operatorservice/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/entravault/entravault/workflows"
)

// temporalConfig is the server's configuration: Temporal's own
// development-postgres12.yaml, on free ports, without archival, metrics
// or pprof.
const temporalConfig = `log:
  stdout: true
  level: warn

persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
    postgres-default:
      sql:
        pluginName: "postgres12"
        databaseName: "temporal"
        connectAddr: "127.0.0.1:{{.PG}}"
        connectProtocol: "tcp"
        user: "{{.User}}"
        password: "{{.Password}}"
        maxConns: 20
        maxIdleConns: 20
        maxConnLifetime: "1h"
    postgres-visibility:
      sql:
        pluginName: "postgres12"
        databaseName: "temporal_visibility"
        connectAddr: "127.0.0.1:{{.PG}}"
        connectProtocol: "tcp"
        user: "{{.User}}"
        password: "{{.Password}}"
        maxConns: 10
        maxIdleConns: 10
        maxConnLifetime: "1h"

global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"

services:
  frontend:
    rpc:
      grpcPort: {{.Frontend}}
      membershipPort: {{.FrontendMembership}}
      bindOnLocalHost: true
      httpPort: {{.FrontendHTTP}}
  matching:
    rpc:
      grpcPort: {{.Matching}}
      membershipPort: {{.MatchingMembership}}
      bindOnLocalHost: true
  history:
    rpc:
      grpcPort: {{.History}}
      membershipPort: {{.HistoryMembership}}
      bindOnLocalHost: true
  worker:
    rpc:
      grpcPort: {{.Worker}}
      membershipPort: {{.WorkerMembership}}
      bindOnLocalHost: true

clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "127.0.0.1:{{.Frontend}}"

dcRedirectionPolicy:
  policy: "noop"

publicClient:
  hostPort: "127.0.0.1:{{.Frontend}}"

dynamicConfigClient:
  filepath: "{{.DynamicConfig}}"
  pollInterval: "10s"
`

// temporalDynamicConfig: new search attributes and fresh workflows show in
// lists at once (as in the dev server).
const temporalDynamicConfig = `system.forceSearchAttributesCacheRefreshOnRead:
  - value: true
frontend.namespaceRPS.visibility:
  - value: 100
`

// setupTemporalSchema creates both databases and their schemas with the
// server's own SQL tool, from the schemas embedded in the module: the same
// steps as Temporal's auto-setup image.
func setupTemporalSchema(t *testing.T, ctx context.Context, bins binaries, pg postgres) {
	t.Helper()
	for db, schema := range map[string]string{
		"temporal":            "postgresql/v12/temporal",
		"temporal_visibility": "postgresql/v12/visibility",
	} {
		conn := []string{"--plugin", "postgres12", "--ep", "127.0.0.1", "--port", strconv.Itoa(pg.port),
			"--user", pg.user, "--password", pg.password, "--database", db}
		tool := func(args ...string) {
			run(t, ctx, nil, os.TempDir(), bins.temporalSQLTool, append(append([]string(nil), conn...), args...)...)
		}
		tool("create-database")
		tool("setup-schema", "-v", "0.0")
		tool("update-schema", "--schema-name", schema)
	}
}

// startTemporal runs the server with every service in one process and
// returns its frontend address, and a client of it, once "default" exists
// with Entravault's search attributes.
func startTemporal(t *testing.T, ctx context.Context, ps *procs, bins binaries, pg postgres) (string, client.Client) {
	t.Helper()
	setupTemporalSchema(t, ctx, bins, pg)
	dir := ps.dir("temporal")
	ports := map[string]any{"PG": pg.port, "User": pg.user, "Password": pg.password,
		"DynamicConfig": filepath.Join(dir, "dynamicconfig.yaml")}
	for _, k := range []string{"Frontend", "FrontendMembership", "FrontendHTTP", "Matching", "MatchingMembership",
		"History", "HistoryMembership", "Worker", "WorkerMembership"} {
		ports[k] = freeLowPort(t)
	}
	f, err := os.Create(filepath.Join(dir, "temporal.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := template.Must(template.New("config").Parse(temporalConfig)).Execute(f, ports); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if err := os.WriteFile(filepath.Join(dir, "dynamicconfig.yaml"), []byte(temporalDynamicConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports["Frontend"])
	ps.start("temporal", syscall.SIGTERM, nil, dir, bins.temporalServer,
		"--config-file", filepath.Join(dir, "temporal.yaml"), "--allow-no-auth", "start")

	var c client.Client
	ps.waitFor("Temporal frontend serving", 2*time.Minute, func() error {
		var err error
		c, err = client.Dial(client.Options{HostPort: addr, Logger: quietLogger{}})
		return err
	})
	t.Cleanup(c.Close)
	registerNamespace(t, ctx, ps, addr, c)
	return addr, c
}

// registerNamespace creates "default" and adds the search attributes, as
// compose's auto-setup and temporal-admin-tools do.
func registerNamespace(t *testing.T, ctx context.Context, ps *procs, addr string, c client.Client) {
	t.Helper()
	const ns = "default"
	nc, err := client.NewNamespaceClient(client.Options{HostPort: addr, Logger: quietLogger{}})
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ps.waitFor("namespace default registered", time.Minute, func() error {
		err := nc.Register(ctx, &workflowservice.RegisterNamespaceRequest{
			Namespace: ns, WorkflowExecutionRetentionPeriod: durationpb.New(24 * time.Hour)})
		var exists *serviceerror.NamespaceAlreadyExists
		if errors.As(err, &exists) {
			return nil
		}
		return err
	})
	ps.waitFor("search attributes added", time.Minute, func() error {
		_, err := c.OperatorService().AddSearchAttributes(ctx, &operatorservice.AddSearchAttributesRequest{
			Namespace: ns, SearchAttributes: workflows.SearchAttributes()})
		var exists *serviceerror.AlreadyExists
		if errors.As(err, &exists) {
			return nil
		}
		return err
	})
	ps.waitFor("search attributes visible", time.Minute, func() error {
		resp, err := c.OperatorService().ListSearchAttributes(ctx, &operatorservice.ListSearchAttributesRequest{Namespace: ns})
		if err != nil {
			return err
		}
		for name := range workflows.SearchAttributes() {
			if _, ok := resp.CustomAttributes[name]; !ok {
				return fmt.Errorf("%s not listed yet", name)
			}
		}
		return nil
	})
}

// quietLogger drops the SDK client's logs.
type quietLogger struct{}

func (quietLogger) Debug(string, ...any) {}
func (quietLogger) Info(string, ...any)  {}
func (quietLogger) Warn(string, ...any)  {}
func (quietLogger) Error(string, ...any) {}
