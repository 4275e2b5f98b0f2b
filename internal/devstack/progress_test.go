package devstack

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/entravault/entravault/internal/tenantsim"
	"github.com/entravault/entravault/internal/tenantsim/graphapi"
)

// TestRunProgressWhileRunning: a running backup's live counters (from its
// activity heartbeat) show in GET /runs, then its result; a run-now that
// comes meanwhile queues one more run.
func TestRunProgressWhileRunning(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// 3,000 users: four delta pages of 999.
	h := newHarnessWith(t, ctx, tenantsim.Options{Seed: 3, Users: 3000, Groups: 5, AdministrativeUnits: 1, Applications: 2, Premium: true})
	c := h.create(directoryConnector(h.creds.TenantDomain, "slow"))
	// Every Graph answer takes 700 ms: the first backup's pages take seconds.
	h.stack.Simulator().Graph().SetFaults(graphapi.Faults{Latency: 700 * time.Millisecond})
	if code, page := h.signIn(c.ConsentURL, "accept", h.admin("Global Administrator").UPN); code != http.StatusOK {
		t.Fatalf("callback %d: %s", code, page)
	}
	var runs struct {
		Runs []struct {
			Status   string `json:"status"`
			Progress *struct {
				Attempt int    `json:"attempt"`
				Source  string `json:"source"`
				Pages   int    `json:"pages"`
				Objects int    `json:"objects"`
				Bytes   int64  `json:"bytesRead"`
			} `json:"progress"`
		} `json:"runs"`
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		h.call("GET", "/api/v1/connectors/"+c.ID+"/runs", nil, &runs)
		// The first heartbeat, as the run starts, has read nothing yet.
		if len(runs.Runs) > 0 && runs.Runs[0].Status == "running" && runs.Runs[0].Progress != nil && runs.Runs[0].Progress.Pages > 0 {
			p := runs.Runs[0].Progress
			if p.Source != "users" || p.Pages < 1 || p.Objects < 1 || p.Bytes < 1000 || p.Attempt != 1 {
				t.Errorf("progress %+v", p)
			}
			break
		}
		if len(runs.Runs) > 0 && runs.Runs[0].Status != "running" {
			t.Fatalf("the run ended before any progress was seen: %+v", runs.Runs[0])
		}
		if time.Now().After(deadline) {
			t.Fatalf("no progress seen: %+v", runs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Run now while it runs: the answer names the running run and queues
	// one more, which starts once it ends (a backup taken after asking).
	var now struct {
		RunIDs map[string]string `json:"run_ids"`
		Queued []string          `json:"queued"`
	}
	if code := h.call("POST", "/api/v1/connectors/"+c.ID+"/backups", nil, &now); code != http.StatusAccepted || len(now.Queued) != 1 || now.Queued[0] != "users" {
		t.Fatalf("run now while running: %d %+v", code, now)
	}
	h.stack.Simulator().Graph().SetFaults(graphapi.Faults{})
	var done struct {
		Runs []struct {
			RunID   string    `json:"run_id"`
			Trigger string    `json:"trigger"`
			Status  string    `json:"status"`
			Start   time.Time `json:"start"`
			End     time.Time `json:"end"`
		} `json:"runs"`
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		h.call("GET", "/api/v1/connectors/"+c.ID+"/runs", nil, &done)
		if len(done.Runs) == 2 && done.Runs[0].Status == "succeeded" && done.Runs[1].Status == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the queued run never ran: %+v", done.Runs)
		}
	}
	first, queued := done.Runs[1], done.Runs[0]
	if first.RunID != now.RunIDs["users"] || queued.Trigger != "manual" || queued.Start.Before(first.End) {
		t.Errorf("runs %+v, want the queued manual run after %s", done.Runs, now.RunIDs["users"])
	}
}
