package devstack

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/auth"
	"github.com/entravault/entravault/internal/repository"
)

// simState is the part of the simulator's ground-truth dump the users
// scope backs up: user JSON by id and each user's manager.
type simState struct {
	Users    map[string]string
	Managers map[string]string
}

func (h *harness) simState() simState {
	h.t.Helper()
	rec := httptest.NewRecorder()
	h.stack.Simulator().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/_sim/state", nil))
	var dump struct {
		Users         []json.RawMessage `json:"users"`
		Relationships struct {
			Managers map[string]string `json:"managers"`
		} `json:"relationships"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &dump); err != nil {
		h.t.Fatalf("state dump: %v", err)
	}
	st := simState{Users: map[string]string{}, Managers: dump.Relationships.Managers}
	for _, u := range dump.Users {
		var id struct {
			ID string `json:"id"`
		}
		_ = json.Unmarshal(u, &id)
		st.Users[id.ID] = stable(h.t, u)
	}
	return st
}

func stable(t testing.TB, raw []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := api.StableJSON(&b, raw); err != nil {
		t.Fatalf("not JSON: %v: %s", err, raw)
	}
	return b.String()
}

// expectedDiff is "type/id kind" for every user and manager relation that
// differs between two states of the tenant.
func expectedDiff(a, b simState) []string {
	var out []string
	cmp := func(typ string, x, y map[string]string) {
		for id, v := range x {
			w, ok := y[id]
			switch {
			case !ok:
				out = append(out, typ+"/"+id+" removed")
			case v != w:
				out = append(out, typ+"/"+id+" changed")
			}
		}
		for id := range y {
			if _, ok := x[id]; !ok {
				out = append(out, typ+"/"+id+" added")
			}
		}
	}
	cmp("user", a.Users, b.Users)
	cmp("user.manager", a.Managers, b.Managers)
	sort.Strings(out)
	return out
}

// get calls the API with the harness key and returns status and body.
func (h *harness) get(path string) (int, []byte, http.Header) {
	h.t.Helper()
	req, _ := http.NewRequestWithContext(h.ctx, "GET", h.api+path, nil)
	if h.key != "" {
		req.Header.Set("Authorization", "Bearer "+h.key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b, resp.Header
}

func (h *harness) getJSON(path string, into any) {
	h.t.Helper()
	code, b, _ := h.get(path)
	if code != http.StatusOK {
		h.t.Fatalf("GET %s: %d %s", path, code, b)
	}
	if err := json.Unmarshal(b, into); err != nil {
		h.t.Fatalf("GET %s: %v: %s", path, err, b)
	}
}

func (h *harness) errorCode(path string) (int, string) {
	h.t.Helper()
	code, b, _ := h.get(path)
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &e)
	return code, e.Error.Code
}

// TestSnapshotsEndToEnd backs up a simulated tenant twice with known churn
// between, then checks every snapshots endpoint against the simulator's
// ground truth, the export against the repository, and the access rule.
func TestSnapshotsEndToEnd(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	h := newHarness(t, ctx, true)

	keys, _ := h.keyStore()
	key := func(name string, role auth.Role) string {
		tok, _, err := keys.Create(ctx, name, role)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	bob, carol := key("ops-bob", auth.RoleOperator), key("view-carol", auth.RoleViewer)
	as := func(tok string) *harness { hh := *h; hh.key = tok; return &hh }

	cfg := directoryConnector(h.creds.TenantDomain, "browsed")
	cfg["access"] = []string{"view-carol"}
	c := h.create(cfg)
	h.signIn(c.ConsentURL, "accept", h.admin("Global Administrator").UPN)
	// Directory audits come from an activity-log connector of the tenant.
	logs := h.create(map[string]any{"name": "audits", "tenant": h.creds.TenantDomain, "kind": "activity_logs",
		"scopes": map[string]any{"directory_audits": true}, "initial_log_span": "3d", "schedule": map[string]any{"interval": "1h"},
		"retention": map[string]any{"days": 30}, "access": []string{"view-carol"}})
	h.signIn(logs.ConsentURL, "accept", h.admin("Global Administrator").UPN)
	h.waitFor(c.ID, "a first users snapshot", func(v connectorView) bool {
		return v.Status == "active" && v.Scopes["users"].LastStatus == "succeeded"
	})
	first := h.waitFor(logs.ID, "a first audits snapshot", func(v connectorView) bool {
		return v.Status == "active" && v.Scopes["directory_audits"].LastStatus == "succeeded"
	})
	before := h.simState()

	h.stack.Simulator().Churn(5)
	h.stack.Simulator().AppendLogs(300)
	after := h.simState()
	want := expectedDiff(before, after)
	if len(want) == 0 {
		t.Fatal("churn changed nothing")
	}
	var rn struct {
		RunIDs map[string]string `json:"run_ids"`
	}
	if code := h.call("POST", "/api/v1/connectors/"+c.ID+"/backups", map[string]any{"scope": "users"}, &rn); code != http.StatusAccepted {
		t.Fatalf("run now: %d", code)
	}
	base := "/api/v1/connectors/" + c.ID
	var list api.SnapshotList
	deadline := time.Now().Add(2 * time.Minute)
	for len(list.Snapshots) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("second snapshot never appeared: %+v", list)
		}
		time.Sleep(200 * time.Millisecond)
		h.getJSON(base+"/snapshots?scope=users", &list)
	}
	s2, s1 := list.Snapshots[0], list.Snapshots[1] // newest first
	if code := h.call("POST", "/api/v1/connectors/"+logs.ID+"/backups", nil, nil); code != http.StatusAccepted {
		t.Fatalf("run logs now: %d", code)
	}
	h.waitFor(logs.ID, "a second audits snapshot", func(v connectorView) bool {
		st := v.Scopes["directory_audits"]
		return st.LastStatus == "succeeded" && st.LastSnapshot != first.Scopes["directory_audits"].LastSnapshot
	})
	if !s1.Time.Before(s2.Time) || s2.Parent != s1.ID {
		t.Errorf("order or parent: %+v %+v", s1, s2)
	}

	// Show: counts match the tenant.
	var show api.SnapshotView
	h.getJSON(base+"/snapshots/"+s2.ID, &show)
	if show.Counts["user"] != len(after.Users) || show.Counts["user.manager"] != len(after.Managers) || len(show.State) == 0 {
		t.Errorf("show: counts %v state %d keys; tenant has %d users, %d managers", show.Counts, len(show.State), len(after.Users), len(after.Managers))
	}

	// Diff, a page of 7 at a time, equals the ground truth, with the
	// audit records of the window that target each changed object.
	wantAudits := h.auditsBetween(s1.Time, s2.Time)
	var got []string
	changed := ""
	cur := ""
	audited := 0
	for {
		var d api.Diff
		h.getJSON(base+"/diff?from="+s1.ID+"&to="+s2.ID+"&limit=7&audits="+logs.ID+"&cursor="+cur, &d)
		for _, ch := range d.Changes {
			got = append(got, ch.Type+"/"+ch.ID+" "+ch.Kind)
			var ids []string
			for _, a := range ch.Audits {
				ids = append(ids, a.ID)
			}
			sort.Strings(ids)
			if !slices.Equal(ids, wantAudits[ch.ID]) {
				t.Errorf("audits of %s/%s: got %v want %v", ch.Type, ch.ID, ids, wantAudits[ch.ID])
			}
			audited += len(ids)
			if ch.Type == "user" && ch.Name == "" {
				t.Errorf("user %s (%s) in the diff without its name", ch.ID, ch.Kind)
			}
			if ch.Kind == "changed" && ch.Type == "user" {
				changed = ch.ID
				if len(ch.Properties) == 0 {
					t.Errorf("changed user %s without property changes", ch.ID)
				}
			}
			if ch.Type == "user.manager" && ch.Members == nil {
				t.Errorf("manager change %s without member changes", ch.ID)
			}
		}
		if cur = d.NextCursor; cur == "" {
			break
		}
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("diff:\n got %v\nwant %v", got, want)
	}
	t.Logf("churn: %d users before, %d after, %d changes in the diff, %d audit records attached", len(before.Users), len(after.Users), len(got), audited)
	if changed == "" {
		t.Error("churn changed no user; the history check did not run")
	}

	// History of a changed user: added in s1, changed in s2.
	if changed != "" {
		var hist api.History
		h.getJSON(base+"/objects/"+changed+"/history", &hist)
		if hist.Type != "user" || len(hist.Versions) != 2 || hist.Versions[0].Snapshot != s1.ID || hist.Versions[1].Kind != "changed" || len(hist.Versions[1].Changes) == 0 {
			t.Errorf("history of %s: %+v", changed, hist)
		}
	}
	for id := range before.Users {
		if _, ok := after.Users[id]; ok {
			continue
		}
		var hist api.History
		h.getJSON(base+"/objects/"+id+"/history?type=user", &hist)
		if n := len(hist.Versions); n != 2 || hist.Versions[1].Kind != "removed" || hist.Versions[1].Snapshot != s2.ID {
			t.Errorf("history of removed user %s: %+v", id, hist)
		}
		// Still readable at the snapshot that held it.
		code, body, hdr := h.get(base + "/objects/" + id)
		if code != http.StatusOK || hdr.Get("Entravault-Snapshot") != s1.ID || stable(t, body) != before.Users[id] {
			t.Errorf("removed user %s: %d %s", id, code, hdr.Get("Entravault-Snapshot"))
		}
		break
	}

	// Object at a snapshot: the stored JSON equals the tenant's at the time.
	for id, u := range before.Users {
		code, body, _ := h.get(base + "/objects/" + id + "?type=user&at=" + s1.ID)
		if code != http.StatusOK || stable(t, body) != u {
			t.Errorf("user %s at s1: %d\n got %s\nwant %s", id, code, body, u)
		}
	}

	// Search by display name and by id.
	for id, u := range after.Users {
		var o struct {
			DisplayName string `json:"displayName"`
		}
		_ = json.Unmarshal([]byte(u), &o)
		for _, q := range []string{o.DisplayName, id} {
			var l api.ObjectList
			h.getJSON(base+"/snapshots/"+s2.ID+"/objects?type=user&q="+url.QueryEscape(q), &l)
			if !slices.ContainsFunc(l.Objects, func(s api.ObjectSummary) bool { return s.ID == id }) {
				t.Errorf("search %q: %+v", q, l)
			}
		}
		break
	}

	// Export round trip: every object, same JSON content.
	code, tgz, hdr := h.get(base + "/snapshots/" + s2.ID + "/export")
	if code != http.StatusOK {
		t.Fatalf("export: %d %s", code, tgz)
	}
	files := untar(t, tgz)
	n := 0
	err := h.stack.Repository().Walk(ctx, repository.SnapshotID(s2.ID), func(typ, id string, raw []byte) error {
		n++
		if got, ok := files[api.ExportPath(typ, id)]; !ok || got != stable(t, raw) {
			t.Errorf("export %s/%s: present %v", typ, id, ok)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(files) || hdr.Get(api.ExportCountHeader) != itoa(n) {
		t.Errorf("export holds %d files (header %s), snapshot %d objects", len(files), hdr.Get(api.ExportCountHeader), n)
	}

	// Bad input and another connector's snapshot.
	fw, err := h.stack.Repository().NewWriter(ctx, repository.WriterOptions{Connector: "c-ffffffffffffffff", Scope: "users"})
	if err != nil {
		t.Fatal(err)
	}
	_ = fw.Put(ctx, "user", "x", []byte(`{"id":"x"}`))
	other, err := fw.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		status     int
		code       string
	}{
		{"malformed snapshot id", "/snapshots/xyz", 400, "invalid_snapshot_id"},
		{"unknown snapshot", "/snapshots/" + strings.Repeat("0", 64), 404, "snapshot_not_found"},
		{"foreign snapshot", "/snapshots/" + string(other.ID), 404, "snapshot_not_found"},
		{"foreign export", "/snapshots/" + string(other.ID) + "/export", 404, "snapshot_not_found"},
		{"foreign diff", "/diff?from=" + string(other.ID) + "&to=" + s2.ID, 404, "snapshot_not_found"},
		{"foreign at", "/objects/x?at=" + string(other.ID), 404, "snapshot_not_found"},
		{"bad cursor", "/snapshots/" + s2.ID + "/objects?cursor=bm9wZQ", 400, "invalid_cursor"},
		{"bad diff cursor", "/diff?from=" + s1.ID + "&to=" + s2.ID + "&cursor=zz", 400, "invalid_cursor"},
		{"unknown object", "/objects/nobody", 404, "object_not_found"},
	} {
		if code, ec := h.errorCode(base + tc.path); code != tc.status || ec != tc.code {
			t.Errorf("%s: %d %s, want %d %s", tc.name, code, ec, tc.status, tc.code)
		}
	}

	// Access: a listed viewer reads everything, an unlisted operator gets
	// 404 everywhere, no token 401.
	some := ""
	for id := range after.Users {
		some = id
		break
	}
	for _, p := range []string{
		"/snapshots", "/snapshots/" + s2.ID, "/snapshots/" + s2.ID + "/objects", "/snapshots/" + s2.ID + "/export",
		"/objects/" + some, "/objects/" + some + "/history", "/diff?from=" + s1.ID + "&to=" + s2.ID,
	} {
		if code, _, _ := as(carol).get(base + p); code != http.StatusOK {
			t.Errorf("listed viewer: %s = %d", p, code)
		}
		if code, _, _ := as(bob).get(base + p); code != http.StatusNotFound {
			t.Errorf("unlisted operator: %s = %d, want 404", p, code)
		}
		if code, _, _ := as("").get(base + p); code != http.StatusUnauthorized {
			t.Errorf("no token: %s = %d, want 401", p, code)
		}
	}
}

// auditsBetween is, from the simulator's ground truth, the sorted ids of
// the directory audits in (from, to] by target object id.
func (h *harness) auditsBetween(from, to time.Time) map[string][]string {
	h.t.Helper()
	rec := httptest.NewRecorder()
	h.stack.Simulator().Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/_sim/state", nil))
	var dump struct {
		Audits []struct {
			ID      string    `json:"id"`
			At      time.Time `json:"activityDateTime"`
			Targets []struct {
				ID string `json:"id"`
			} `json:"targetResources"`
		} `json:"directoryAudits"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &dump); err != nil {
		h.t.Fatal(err)
	}
	out := map[string][]string{}
	for _, a := range dump.Audits {
		if !a.At.After(from) || a.At.After(to) {
			continue
		}
		for _, tr := range a.Targets {
			out[tr.ID] = append(out[tr.ID], a.ID)
		}
	}
	for _, ids := range out {
		sort.Strings(ids)
	}
	return out
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// untar reads a tar.gz into name → content.
func untar(t *testing.T, tgz []byte) map[string]string {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	out := map[string]string{}
	for {
		hd, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(tr)
		out[hd.Name] = string(b)
	}
}
