package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// fakeConnectorsAPI answers the connector endpoints the CLI calls and
// records each request's method, path and body.
func fakeConnectorsAPI(t *testing.T, seen *[]string, bodies map[string]map[string]any) *httptest.Server {
	t.Helper()
	const id = "c-0000000000000001"
	record := func(w http.ResponseWriter, r *http.Request, status int, answer string) {
		key := r.Method + " " + r.URL.RequestURI()
		*seen = append(*seen, key)
		if r.ContentLength > 0 {
			var b map[string]any
			if err := json.NewDecoder(r.Body).Decode(&b); err != nil {
				t.Errorf("%s: body: %v", key, err)
			}
			bodies[key] = b
		}
		w.WriteHeader(status)
		_, _ = w.Write([]byte(answer))
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v1/connectors", func(w http.ResponseWriter, r *http.Request) {
		record(w, r, http.StatusCreated, `{"id":"`+id+`","status":"awaiting_consent","consent_url":"https://login.example/authorize?x=1","consent_expires_at":"2026-12-04T00:00:00Z"}`)
	})
	mux.HandleFunc("GET /api/v1/connectors", func(w http.ResponseWriter, r *http.Request) {
		record(w, r, http.StatusOK, `{"connectors":[{"id":"`+id+`","name":"Contoso","tenant":"contoso.com","kind":"directory","status":"active","created_at":"2026-12-01T00:00:00Z"}]}`)
	})
	mux.HandleFunc("GET /api/v1/connectors/"+id, func(w http.ResponseWriter, r *http.Request) {
		record(w, r, http.StatusOK, `{"id":"`+id+`","config":{"name":"Contoso","tenant":"contoso.com","kind":"directory"},"status":"active",
			"scopes":{"users":{"last_status":"succeeded","last_start":"2026-12-01T10:00:00Z"}},"created_at":"2026-12-01T00:00:00Z"}`)
	})
	mux.HandleFunc("PATCH /api/v1/connectors/"+id, func(w http.ResponseWriter, r *http.Request) { record(w, r, http.StatusOK, `{}`) })
	mux.HandleFunc("DELETE /api/v1/connectors/"+id, func(w http.ResponseWriter, r *http.Request) {
		record(w, r, http.StatusAccepted, `{"id":"`+id+`","status":"deleted","purge":true,"purge_at":"2026-12-10T00:00:00Z"}`)
	})
	mux.HandleFunc("POST /api/v1/connectors/"+id+"/backups", func(w http.ResponseWriter, r *http.Request) {
		record(w, r, http.StatusAccepted, `{"run_ids":{"users":"r1"}}`)
	})
	mux.HandleFunc("POST /api/v1/connectors/"+id+"/verify", func(w http.ResponseWriter, r *http.Request) {
		record(w, r, http.StatusConflict, `{"error":{"code":"wrong_status","message":"verify: not allowed in the connector's current status (deleted)"}}`)
	})
	mux.HandleFunc("POST /api/v1/connectors/"+id+"/consent", func(w http.ResponseWriter, r *http.Request) {
		record(w, r, http.StatusOK, `{"id":"`+id+`","status":"awaiting_consent","consent_url":"https://login.example/renewed"}`)
	})
	mux.HandleFunc("POST /api/v1/consent/directory-search", func(w http.ResponseWriter, r *http.Request) {
		record(w, r, http.StatusOK, `{"results":[{"id":"g1","display_name":"Sales EMEA","mail":"sales-emea@contoso.com"}]}`)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestConnectorsCommands(t *testing.T) {
	var seen []string
	bodies := map[string]map[string]any{}
	srv := fakeConnectorsAPI(t, &seen, bodies)
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := runConnectors(context.Background(), append(args, "--api", srv.URL, "--api-key", "k"), &out, &errOut)
		return out.String(), err
	}
	out, err := run("create", "--name", "Contoso", "--tenant", "contoso.com", "--scopes", "users,groups", "--interval", "6h", "--access", "ops, audit")
	if err != nil || !strings.Contains(out, "https://login.example/authorize?x=1") {
		t.Fatalf("create (%v):\n%s", err, out)
	}
	b := bodies["POST /api/v1/connectors"]
	scopes, _ := b["scopes"].(map[string]any)
	if b["name"] != "Contoso" || b["kind"] != "directory" || scopes["users"] != true || scopes["groups"] == nil || scopes["roles"] != nil ||
		b["schedule"].(map[string]any)["interval"] != "6h" || len(b["access"].([]any)) != 2 {
		t.Errorf("create sent %v", b)
	}
	if out, err = run("list"); err != nil || !strings.Contains(out, "Contoso") || !strings.Contains(out, "active") {
		t.Errorf("list (%v):\n%s", err, out)
	}
	if out, err = run("show", "c-0000000000000001"); err != nil || !strings.Contains(out, "users") || !strings.Contains(out, "succeeded") {
		t.Errorf("show (%v):\n%s", err, out)
	}
	if _, err = run("update", "c-0000000000000001", "--name", "Contoso prod"); err != nil {
		t.Errorf("update: %v", err)
	}
	if b := bodies["PATCH /api/v1/connectors/c-0000000000000001"]; len(b) != 1 || b["name"] != "Contoso prod" {
		t.Errorf("update sent %v, want only the name", b)
	}
	if _, err = run("update", "c-0000000000000001"); err == nil {
		t.Error("an update with nothing to change was sent")
	}
	if out, err = run("delete", "c-0000000000000001", "--purge"); err != nil || !strings.Contains(out, "purged at 2026-12-10") {
		t.Errorf("delete (%v):\n%s", err, out)
	}
	if _, err = run("run", "c-0000000000000001", "--scope", "users"); err != nil || bodies["POST /api/v1/connectors/c-0000000000000001/backups"]["scope"] != "users" {
		t.Errorf("run: %v %v", err, bodies)
	}
	if _, err = run("verify", "c-0000000000000001"); err == nil || !strings.Contains(err.Error(), "not allowed") {
		t.Errorf("verify of a deleted connector: %v", err)
	}
	if out, err = run("consent", "c-0000000000000001"); err != nil || strings.TrimSpace(out) != "https://login.example/renewed" {
		t.Errorf("consent (%v):\n%s", err, out)
	}
	if out, err = run("find", "--consent-grant", "G", "--query", "Sal"); err != nil || !strings.Contains(out, "Sales EMEA") {
		t.Errorf("find (%v):\n%s", err, out)
	}
	if b := bodies["POST /api/v1/consent/directory-search"]; b["consent_grant"] != "G" || b["type"] != "group" || b["q"] != "Sal" {
		t.Errorf("find sent %v", b)
	}
	if _, err = run("find", "--query", "Sal"); err == nil {
		t.Error("find without a grant was sent")
	}
	if _, err = run("show"); err == nil {
		t.Error("show without an id was accepted")
	}
	if _, err = run("create", "--name", "x", "--tenant", "contoso.com", "--scopes", "everything"); err == nil {
		t.Error("an unknown scope was accepted")
	}
	want := []string{"POST /api/v1/connectors", "GET /api/v1/connectors", "GET /api/v1/connectors/c-0000000000000001",
		"PATCH /api/v1/connectors/c-0000000000000001", "DELETE /api/v1/connectors/c-0000000000000001?purge=true",
		"POST /api/v1/connectors/c-0000000000000001/backups", "POST /api/v1/connectors/c-0000000000000001/verify",
		"POST /api/v1/connectors/c-0000000000000001/consent", "POST /api/v1/consent/directory-search"}
	if strings.Join(seen, "\n") != strings.Join(want, "\n") {
		t.Errorf("requests:\n%s\nwant:\n%s", strings.Join(seen, "\n"), strings.Join(want, "\n"))
	}
}
