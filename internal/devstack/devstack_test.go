package devstack

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/entravault/entravault/internal/config"
	"github.com/entravault/entravault/workflows"
)

// parkedWorkflow stands in for any long-lived workflow: it marks itself with
// a search attribute and waits for a signal, across server restarts.
func parkedWorkflow(ctx workflow.Context, name string) (string, error) {
	if err := workflow.UpsertTypedSearchAttributes(ctx, workflows.ConnectorStatusKey.ValueSet("parked")); err != nil {
		return "", err
	}
	var msg string
	workflow.GetSignalChannel(ctx, "release").Receive(ctx, &msg)
	return name + ":" + msg, nil
}

func testConfig(t testing.TB, dir string) *config.Config {
	t.Helper()
	_, cfg := config.FlagSet(config.RoleDev)
	cfg.Dev.DataDir = dir
	cfg.Dev.TemporalPort = freePort(t)
	cfg.Dev.TemporalHTTPPort = freePort(t)
	cfg.Dev.UIPort = freePort(t)
	cfg.API.Addr = "127.0.0.1:0"
	cfg.API.PurgeGrace = purgeGraceInTests
	cfg.Dev.NoSimulator = true
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	return cfg
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func startStack(t *testing.T, cfg *config.Config) *Stack {
	t.Helper()
	s, err := Start(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), Options{
		Register: []func(sdkworker.Registry){func(r sdkworker.Registry) { r.RegisterWorkflow(parkedWorkflow) }},
	})
	if err != nil {
		t.Fatalf("start dev stack: %v", err)
	}
	return s
}

func getJSON(t *testing.T, url string, into any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if into != nil {
		if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
			t.Fatalf("GET %s: decode: %v", url, err)
		}
	}
	return resp.StatusCode
}

// TestDevStackKeepsWorkflowsAcrossRestart runs a workflow through the real
// worker on the embedded server, finds it by a custom search attribute,
// stops the whole stack, starts it again on the same folder and lets the
// workflow finish.
func TestDevStackKeepsWorkflowsAcrossRestart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cfg := testConfig(t, t.TempDir())

	s := startStack(t, cfg)
	urls := s.URLs()
	var ready readinessBody
	if code := getJSON(t, urls.API+"/readyz", &ready); code != http.StatusOK {
		t.Fatalf("readyz = %d %+v", code, ready)
	}
	if code := getJSON(t, urls.TemporalUI+"/api/v1/namespaces/default/search-attributes", nil); code != http.StatusOK {
		t.Fatalf("web UI API answered %d", code)
	}

	connectorID := fmt.Sprintf("c-%d", time.Now().UnixNano())
	run, err := s.Client().ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    "parked-" + connectorID,
		TaskQueue:             cfg.Temporal.TaskQueue,
		TypedSearchAttributes: temporal.NewSearchAttributes(workflows.ConnectorIDKey.ValueSet(connectorID)),
	}, parkedWorkflow, "w1")
	if err != nil {
		t.Fatal(err)
	}
	query := fmt.Sprintf("%s = '%s' AND %s = 'parked'", workflows.ConnectorIDKey.GetName(), connectorID, workflows.ConnectorStatusKey.GetName())
	waitListed(ctx, t, s.Client(), cfg.Temporal.Namespace, query, run.GetID())

	s.Stop(context.Background())

	s = startStack(t, cfg)
	defer s.Stop(context.Background())
	waitListed(ctx, t, s.Client(), cfg.Temporal.Namespace, query, run.GetID())
	if err := s.Client().SignalWorkflow(ctx, run.GetID(), "", "release", "after-restart"); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := s.Client().GetWorkflow(ctx, run.GetID(), run.GetRunID()).Get(ctx, &got); err != nil {
		t.Fatal(err)
	}
	if got != "w1:after-restart" {
		t.Fatalf("workflow result = %q", got)
	}
}

type readinessBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks"`
}

func waitListed(ctx context.Context, t *testing.T, c client.Client, ns, query, wantID string) {
	t.Helper()
	for {
		resp, err := c.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Namespace: ns, Query: query})
		if err != nil {
			t.Fatalf("list %q: %v", query, err)
		}
		for _, e := range resp.GetExecutions() {
			if e.GetExecution().GetWorkflowId() == wantID {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("workflow %s never listed by %q", wantID, query)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
