package devstack

import (
	"fmt"
	"net/http"
	"time"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/workflows"
)

func (h *harness) startRestore(connectorID string, body map[string]any) string {
	h.t.Helper()
	var out struct {
		ID     string `json:"id"`
		Status string `json:"status"`
	}
	if code := h.call("POST", "/api/v1/connectors/"+connectorID+"/restores", body, &out); code != http.StatusCreated {
		h.t.Fatalf("start restore: %d %+v", code, out)
	}
	return out.ID
}

func (h *harness) waitRestore(connectorID, rid string, done ...workflows.RestoreStatus) api.RestoreView {
	h.t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var v api.RestoreView
	for time.Now().Before(deadline) {
		v = api.RestoreView{}
		h.call("GET", "/api/v1/connectors/"+connectorID+"/restores/"+rid, nil, &v)
		for _, st := range done {
			if v.Status == st {
				return v
			}
		}
		if v.Status == workflows.RestoreFailed || v.Status == workflows.RestoreCancelled {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	h.t.Fatalf("restore %s never reached %v: %+v", rid, done, v)
	return v
}

func (h *harness) actions(connectorID, rid, query string) []restore.Action {
	h.t.Helper()
	var all []restore.Action
	cursor := ""
	for {
		var page api.ActionPage
		path := fmt.Sprintf("/api/v1/connectors/%s/restores/%s/actions?limit=500&cursor=%s&%s", connectorID, rid, cursor, query)
		h.getJSON(path, &page)
		all = append(all, page.Actions...)
		if page.NextCursor == "" {
			return all
		}
		cursor = page.NextCursor
	}
}
