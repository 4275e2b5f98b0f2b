package devstack

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/tenantsim/graphapi"
)

// TestDiffWithLiveTenant: diff?to=live compares a snapshot with the tenant
// as it is now, read through Graph by the worker.
func TestDiffWithLiveTenant(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	h := newHarness(t, ctx, true)
	c := h.create(directoryConnector(h.creds.TenantDomain, "live"))
	if code, page := h.signIn(c.ConsentURL, "accept", h.admin("Global Administrator").UPN); code != http.StatusOK {
		t.Fatalf("callback %d: %s", code, page)
	}
	h.waitFor(c.ID, "a users snapshot", func(v connectorView) bool { return v.Scopes["users"].LastStatus == "succeeded" })
	snaps, err := h.stack.Repository().Snapshots(ctx, repository.Filter{Connector: c.ID, Scope: "users"})
	if err != nil || len(snaps) != 1 {
		t.Fatalf("snapshots %v %v", snaps, err)
	}
	type diff struct {
		To      string `json:"to"`
		Changes []struct {
			Type string `json:"type"`
			ID   string `json:"id"`
			Kind string `json:"kind"`
		} `json:"changes"`
	}
	var d diff
	path := "/api/v1/connectors/" + c.ID + "/diff?from=" + string(snaps[0].ID) + "&to=live"
	if code := h.call("GET", path, nil, &d); code != http.StatusOK {
		t.Fatalf("diff to live: %d", code)
	}
	if len(d.Changes) != 0 {
		t.Errorf("nothing changed, yet the live diff lists %+v", d.Changes)
	}
	stats := h.stack.Simulator().Churn(20)
	d = diff{}
	if code := h.call("GET", path, nil, &d); code != http.StatusOK {
		t.Fatalf("diff to live after churn: %d", code)
	}
	users := 0
	for _, ch := range d.Changes {
		if ch.Type == "user" {
			users++
		}
	}
	if users == 0 || d.To == "" || d.To == string(snaps[0].ID) {
		t.Errorf("churn %+v: live diff %d user changes, to %q", stats, users, d.To)
	}
	// The live snapshot pages like any other, and is not a backup.
	if code := h.call("GET", "/api/v1/connectors/"+c.ID+"/diff?from="+string(snaps[0].ID)+"&to="+d.To, nil, nil); code != http.StatusOK {
		t.Errorf("paging the live diff: %d", code)
	}
	after, _ := h.stack.Repository().Snapshots(ctx, repository.Filter{Connector: c.ID, Scope: "users"})
	if len(after) != 1 {
		t.Errorf("a live read became a backup: %d snapshots", len(after))
	}

	// A slow tenant: the request does not hold the connection for the
	// read. It answers 202 with the read to wait for; asking again with it
	// gives the diff, without reading the tenant a second time.
	h.stack.Simulator().Graph().SetFaults(graphapi.Faults{Latency: 22 * time.Second})
	var reading struct {
		Status, Read string
	}
	start := time.Now()
	if code := h.call("GET", path, nil, &reading); code != http.StatusAccepted || reading.Read == "" {
		t.Fatalf("a slow live read answered %d %+v", code, reading)
	}
	t.Logf("202 after %v", time.Since(start).Round(time.Second))
	h.stack.Simulator().Graph().SetFaults(graphapi.Faults{})
	for {
		d = diff{}
		code := h.call("GET", path+"&read="+reading.Read, nil, &d)
		if code == http.StatusOK {
			break
		}
		// 202: still reading; 429: the caller's rate of live diffs.
		if code != http.StatusAccepted && code != http.StatusTooManyRequests || time.Since(start) > 2*time.Minute {
			t.Fatalf("waiting for the live read: %d", code)
		}
		time.Sleep(time.Second)
	}
	if d.To == "" {
		t.Error("the awaited live read gave no snapshot")
	}
	if code := h.call("GET", path+"&read=connector/c-0000000000000000/live/x", nil, nil); code != http.StatusBadRequest {
		t.Errorf("a read of another connector: %d", code)
	}
}
