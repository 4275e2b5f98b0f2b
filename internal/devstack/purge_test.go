package devstack

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/repository"
)

// purgeGraceInTests is --purge-grace in the stacks of these tests
// (testConfig): long enough to look and cancel, short enough to wait out.
const purgeGraceInTests = 3 * time.Second

// errorOf calls the API as tok and returns the status and the error body's
// code and message.
func (h *harness) errorOf(tok, method, path string, body any) (int, string, string) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(h.ctx, method, h.api+path, rd)
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	return resp.StatusCode, e.Error.Code, e.Error.Message
}

// TestDestroyingHistoryNeedsAdmin is issue 15 item 8 against the running
// API: an operator's key (as a thief would hold it) can neither purge a
// connector nor shrink its retention; an admin's purge waits out the grace
// period (testConfig: purgeGraceInTests), during which an admin cancels it;
// a purge asked again goes through once its grace has passed.
func TestDestroyingHistoryNeedsAdmin(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	h := newHarness(t, ctx, true)
	keys, _ := h.keyStore()
	ops, _, err := keys.Create(ctx, "ops-olga", auth.RoleOperator)
	if err != nil {
		t.Fatal(err)
	}

	cfg := directoryConnector(h.creds.TenantDomain, "guarded history")
	cfg["access"] = []string{"ops-olga"}
	c := h.create(cfg)
	id := "/api/v1/connectors/" + c.ID
	if code, page := h.signIn(c.ConsentURL, "accept", h.admin("Global Administrator").UPN); code != http.StatusOK {
		t.Fatalf("callback %d: %s", code, page)
	}
	h.waitFor(c.ID, "a first users snapshot", func(v connectorView) bool {
		return v.Status == "active" && v.Scopes["users"].LastStatus == "succeeded"
	})
	snapshots := func() int {
		t.Helper()
		snaps, err := h.stack.Repository().Snapshots(ctx, repository.Filter{Connector: c.ID})
		if err != nil {
			t.Fatal(err)
		}
		return len(snaps)
	}
	if n := snapshots(); n == 0 {
		t.Fatal("no snapshot to protect")
	}

	// The operator lengthens retention, but may not shorten it: keep_last 1
	// (days 30 → 0) would forget all but the newest snapshot.
	if status, code, msg := h.errorOf(ops, "PATCH", id, map[string]any{"retention": map[string]any{"days": 30}}); status != http.StatusOK {
		t.Errorf("operator lengthening retention = %d %s %s", status, code, msg)
	}
	if status, code, msg := h.errorOf(ops, "PATCH", id, map[string]any{"retention": map[string]any{"keep_last": 1}}); status != http.StatusForbidden || !strings.Contains(msg, "admin") {
		t.Errorf("operator shrinking retention = %d %s %q, want 403 naming the admin role", status, code, msg)
	}
	var v connectorView
	if h.call("GET", id, nil, &v); v.Config.Retention["days"] != 30 || v.Config.Retention["keep_last"] != 0 {
		t.Errorf("retention after the operator's attempts: %v", v.Config.Retention)
	}

	// The operator may not purge, nor cancel a purge.
	status, code, msg := h.errorOf(ops, "DELETE", id+"?purge=true", nil)
	if status != http.StatusForbidden || !strings.Contains(msg, "admin") {
		t.Fatalf("operator purge = %d %s %q, want 403 naming the admin role", status, code, msg)
	}
	if h.call("GET", id, nil, &v); v.Status != "active" || snapshots() == 0 {
		t.Fatalf("after the operator's purge attempt: %s, %d snapshots", v.Status, snapshots())
	}
	before := snapshots()

	// The admin's purge is scheduled, not done.
	var del struct {
		Status  string    `json:"status"`
		PurgeAt time.Time `json:"purge_at"`
	}
	asked := time.Now()
	if code := h.call("DELETE", id+"?purge=true", nil, &del); code != http.StatusAccepted || del.Status != "deleted" || del.PurgeAt.Before(asked.Add(purgeGraceInTests-time.Second)) {
		t.Fatalf("admin purge: %d %+v", code, del)
	}
	if n := snapshots(); n != before {
		t.Fatalf("snapshots during the grace: %d, want %d", n, before)
	}
	if status, _, _ := h.errorOf(ops, "POST", id+"/purge/cancel", nil); status != http.StatusForbidden {
		t.Errorf("operator cancel = %d, want 403", status)
	}
	var view struct {
		Status         string    `json:"status"`
		PurgeAt        time.Time `json:"purge_at"`
		PurgeCancelled bool      `json:"purge_cancelled"`
	}
	if code := h.call("POST", id+"/purge/cancel", nil, &view); code != http.StatusOK {
		t.Fatalf("admin cancel: %d", code)
	}
	h.call("GET", id, nil, &view)
	if view.Status != "deleted" || !view.PurgeAt.Equal(del.PurgeAt) || !view.PurgeCancelled {
		t.Errorf("after cancel: %+v", view)
	}
	time.Sleep(time.Until(del.PurgeAt) + 2*time.Second)
	if n := snapshots(); n != before {
		t.Fatalf("snapshots after the cancelled purge's time: %d, want %d", n, before)
	}
	if status, _, _ := h.errorOf(ops, "DELETE", id+"?purge=true", nil); status != http.StatusForbidden {
		t.Errorf("operator purge of the deleted connector = %d, want 403", status)
	}

	// Asked again, the purge runs once its grace has passed.
	if code := h.call("DELETE", id+"?purge=true", nil, &del); code != http.StatusAccepted {
		t.Fatalf("second purge: %d", code)
	}
	for deadline := time.Now().Add(time.Minute); snapshots() != 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d snapshots left a minute after the second purge", snapshots())
		}
	}
	if time.Now().Before(del.PurgeAt) {
		t.Errorf("purged before its time %s", del.PurgeAt)
	}
	view.PurgeCancelled = false
	if code := h.call("GET", id, nil, &view); code != http.StatusOK || view.Status != "deleted" || !view.PurgeAt.Equal(del.PurgeAt) || view.PurgeCancelled {
		t.Errorf("after the purge: %d %+v", code, view)
	}
}
