package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/workflows"
)

// fakeRestoreAPI answers the restore endpoints the CLI calls, recording
// the plan request and paging actions one at a time.
func fakeRestoreAPI(t *testing.T, got *api.CreateRestoreRequest) *httptest.Server {
	t.Helper()
	base := "/api/v1/connectors/c-0000000000000001/restores"
	view := api.RestoreView{RestoreState: workflows.RestoreState{ID: "r-0000000000000001", Status: workflows.RestorePlanned,
		Planned: restore.Counts{ByKind: map[restore.ActionKind]int{restore.Undelete: 1, restore.Revert: 1}}}}
	actions := []restore.Action{
		{Key: "00-000000000", Kind: restore.Undelete, Type: "user", ID: "u1", Name: "ada@contoso.com"},
		{Key: "20-000000001", Kind: restore.Revert, Type: "user", ID: "u2", Properties: []restore.PropertyChange{{Name: "jobTitle", Before: json.RawMessage(`"CEO"`), After: json.RawMessage(`"Engineer"`)}}},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+base, func(w http.ResponseWriter, r *http.Request) {
		if err := json.NewDecoder(r.Body).Decode(got); err != nil {
			t.Errorf("plan body: %v", err)
		}
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"id":"r-0000000000000001","status":"planning"}`))
	})
	mux.HandleFunc("GET "+base+"/r-0000000000000001", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(view)
	})
	mux.HandleFunc("POST "+base+"/r-0000000000000001/apply", func(w http.ResponseWriter, r *http.Request) {
		if view.Status != workflows.RestorePlanned {
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error":{"code":"wrong_status","message":"the restore is succeeded: only a planned restore can be applied"}}`))
			return
		}
		view.Status = workflows.RestoreSucceeded
		view.Applied = restore.Counts{ByOutcome: map[restore.Outcome]int{restore.Succeeded: 2}}
		view.Writes = 2
		w.WriteHeader(http.StatusAccepted)
		_ = json.NewEncoder(w).Encode(view)
	})
	mux.HandleFunc("GET "+base+"/r-0000000000000001/actions", func(w http.ResponseWriter, r *http.Request) {
		i := 0
		if r.URL.Query().Get("cursor") == "1" {
			i = 1
		}
		page := api.ActionPage{Actions: actions[i : i+1]}
		if i == 0 {
			page.NextCursor = "1"
		}
		_ = json.NewEncoder(w).Encode(page)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestRestoreCommands(t *testing.T) {
	var req api.CreateRestoreRequest
	srv := fakeRestoreAPI(t, &req)
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		all := append(args, "--api", srv.URL, "--api-key", "k", "--connector", "c-0000000000000001")
		err := runRestore(context.Background(), all, &out, &errOut)
		return out.String(), err
	}
	out, err := run("plan", "--type", "user", "--id", "u1,u2", "--remove-added", "--no-links", "--at", "2026-12-01T00:00:00Z")
	if err != nil {
		t.Fatal(err)
	}
	if req.Select == nil || strings.Join(req.Select.IDs, ",") != "u1,u2" || req.Options.Links || !req.Options.RemoveAdded || !req.Options.Undelete || req.At == nil {
		t.Errorf("plan sent %+v %+v %+v", req.Select, req.Options, req.At)
	}
	if !strings.Contains(out, "planned") || !strings.Contains(out, "undelete") {
		t.Errorf("plan printed:\n%s", out)
	}
	out, err = run("actions", "r-0000000000000001")
	if err != nil || !strings.Contains(out, "ada@contoso.com") || !strings.Contains(out, `jobTitle: "CEO" → "Engineer"`) {
		t.Errorf("actions (%v):\n%s", err, out)
	}
	if out, err = run("apply", "r-0000000000000001"); err != nil || !strings.Contains(out, "succeeded") {
		t.Errorf("apply (%v):\n%s", err, out)
	}
	if _, err = run("apply", "r-0000000000000001"); err == nil || !strings.Contains(err.Error(), "only a planned restore") {
		t.Errorf("applying twice: %v", err)
	}
	if _, err = run("status"); err == nil {
		t.Error("status without a restore id was accepted")
	}
	if _, err = run("plan", "--at", "yesterday"); err == nil {
		t.Error("a bad --at was accepted")
	}
}
