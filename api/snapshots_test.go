package api

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/repository/jsondiff"
)

const (
	conn    = "c-00000000000000aa"
	foreign = "c-00000000000000bb"
)

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// stored is one object to store: type, id and exact bytes.
type stored struct{ typ, id, raw string }

func user(id, name, extra string) stored {
	return stored{"user", id, `{"id":"` + id + `","displayName":"` + name + `","userPrincipalName":"` + strings.ToLower(name) + `@contoso.com"` + extra + `}`}
}

func rel(typ, id string, members ...string) stored {
	var parts []string
	for _, m := range members {
		parts = append(parts, `{"@odata.type":"#microsoft.graph.user","id":"`+m+`"}`)
	}
	return stored{typ, id, `{"value":[` + strings.Join(parts, ",") + `]}`}
}

// commit writes a full snapshot holding exactly objs.
func commit(t *testing.T, repo *repository.Repository, connector, scope string, parent repository.SnapshotID, at time.Time, objs ...stored) repository.SnapshotInfo {
	t.Helper()
	ctx := context.Background()
	w, err := repo.NewWriter(ctx, repository.WriterOptions{Connector: connector, Scope: scope, Parent: parent, Time: at, Full: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := w.Put(ctx, o.typ, o.id, []byte(o.raw)); err != nil {
			t.Fatal(err)
		}
	}
	w.SetState("delta.users", "https://graph.microsoft.com/v1.0/users/delta?$deltatoken="+at.Format("150405"))
	info, err := w.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// fixture is two users snapshots of conn with known changes between them,
// a groups snapshot, and a snapshot of another connector.
type fixture struct {
	svc                *snapshotService
	s1, s2, groups, fo repository.SnapshotInfo
}

func newFixture(t *testing.T) fixture {
	repo := repository.TestRepository(t)
	f := fixture{svc: &snapshotService{repo: repo}}
	f.s1 = commit(t, repo, conn, "users", "", t0,
		user("u1", "Alice", `,"mail":"alice@contoso.com"`), user("u2", "Bob", ""), user("u3", "Carol", ""),
		// Odd key order and spacing: Get must return exactly these bytes.
		stored{"user", "u4", `{ "userPrincipalName":"dave@contoso.com",  "id":"u4", "displayName":"Dave <ops>", "n": 1.50 }`},
		rel("user.manager", "u2", "u1"), rel("user.manager", "u3", "u1"))
	f.s2 = commit(t, repo, conn, "users", f.s1.ID, t0.Add(time.Hour),
		user("u1", "Alice", `,"mail":"alice@contoso.com"`), user("u2", "Bobby", `,"jobTitle":"Dev"`),
		stored{"user", "u4", `{ "userPrincipalName":"dave@contoso.com",  "id":"u4", "displayName":"Dave <ops>", "n": 1.50 }`},
		user("u5", "Erin", ""),
		rel("user.manager", "u2", "u4"), rel("user.manager", "u5", "u1"))
	f.groups = commit(t, repo, conn, "groups", "", t0.Add(30*time.Minute),
		stored{"group", "g1", `{"id":"g1","displayName":"Admins","mail":"admins@contoso.com"}`}, rel("group.members", "g1", "u1", "u2"))
	f.fo = commit(t, repo, foreign, "users", "", t0, user("u1", "Alice", ""))
	return f
}

// call runs a service method as the router would after the access check.
func call(t *testing.T, f fixture, method func(*snapshotService, echo.Context, string) error, target string, params ...string) (*httptest.ResponseRecorder, error) {
	t.Helper()
	e := echo.New()
	rec := httptest.NewRecorder()
	c := e.NewContext(httptest.NewRequest(http.MethodGet, target, nil), rec)
	var names, values []string
	for i := 0; i+1 < len(params); i += 2 {
		names, values = append(names, params[i]), append(values, params[i+1])
	}
	c.SetParamNames(names...)
	c.SetParamValues(values...)
	return rec, method(f.svc, c, conn)
}

// get calls a method and decodes its JSON answer.
func get[T any](t *testing.T, f fixture, method func(*snapshotService, echo.Context, string) error, target string, params ...string) T {
	t.Helper()
	var v T
	rec, err := call(t, f, method, target, params...)
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%v: %s", err, rec.Body)
	}
	return v
}

func wantAPIError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var ae *Error
	if !errors.As(err, &ae) || ae.Status != status || ae.Code != code {
		t.Fatalf("got %v (%+v), want %d %s", err, ae, status, code)
	}
}

func TestSnapshotBadInput(t *testing.T) {
	f := newFixture(t)
	sid := string(f.s1.ID)
	unknown := strings.Repeat("ab", 32)
	for _, tc := range []struct {
		name   string
		method func(*snapshotService, echo.Context, string) error
		target string
		params []string
		status int
		code   string
	}{
		{"malformed snapshot id", (*snapshotService).showSnapshot, "/", []string{"sid", "not-hex"}, 400, "invalid_snapshot_id"},
		{"unknown snapshot", (*snapshotService).showSnapshot, "/", []string{"sid", unknown}, 404, "snapshot_not_found"},
		{"foreign snapshot", (*snapshotService).showSnapshot, "/", []string{"sid", string(f.fo.ID)}, 404, "snapshot_not_found"},
		{"foreign snapshot objects", (*snapshotService).listObjects, "/", []string{"sid", string(f.fo.ID)}, 404, "snapshot_not_found"},
		{"foreign snapshot export", (*snapshotService).export, "/", []string{"sid", string(f.fo.ID)}, 404, "snapshot_not_found"},
		{"foreign at", (*snapshotService).getObject, "/?at=" + string(f.fo.ID), []string{"oid", "u1"}, 404, "snapshot_not_found"},
		{"foreign diff from", (*snapshotService).diff, "/?from=" + string(f.fo.ID) + "&to=" + sid, nil, 404, "snapshot_not_found"},
		{"garbage cursor", (*snapshotService).listObjects, "/?cursor=!!!", []string{"sid", sid}, 400, "invalid_cursor"},
		{"cursor of another listing", (*snapshotService).listObjects, "/?cursor=" + cursor{Kind: "diff", ID: "u1"}.encode(), []string{"sid", sid}, 400, "invalid_cursor"},
		{"snapshot cursor garbage", (*snapshotService).listSnapshots, "/?cursor=eyJ9", nil, 400, "invalid_cursor"},
		{"unknown type", (*snapshotService).listObjects, "/?type=printer", []string{"sid", sid}, 400, "invalid_type"},
		{"limit zero", (*snapshotService).listObjects, "/?limit=0", []string{"sid", sid}, 400, "invalid_limit"},
		{"limit too large", (*snapshotService).listSnapshots, "/?limit=5000", nil, 400, "invalid_limit"},
		{"unknown scope", (*snapshotService).listSnapshots, "/?scope=printers", nil, 400, "invalid_scope"},
		{"bad time", (*snapshotService).listSnapshots, "/?from=yesterday", nil, 400, "invalid_time"},
		{"object id with slash", (*snapshotService).getObject, "/", []string{"oid", "a/b"}, 400, "invalid_object_id"},
		{"missing object", (*snapshotService).getObject, "/", []string{"oid", "nobody"}, 404, "object_not_found"},
		{"missing object history", (*snapshotService).history, "/", []string{"oid", "nobody"}, 404, "object_not_found"},
		{"diff without to", (*snapshotService).diff, "/?from=" + sid, nil, 400, "bad_request"},
		{"diff across scopes", (*snapshotService).diff, "/?from=" + sid + "&to=" + string(f.groups.ID), nil, 400, "scope_mismatch"},
		{"diff to live", (*snapshotService).diff, "/?from=" + sid + "&to=live", nil, 503, "unavailable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := call(t, f, tc.method, tc.target, tc.params...)
			wantAPIError(t, err, tc.status, tc.code)
		})
	}
}

func TestListSnapshotsPagingIsStable(t *testing.T) {
	f := newFixture(t)
	all := get[SnapshotList](t, f, (*snapshotService).listSnapshots, "/")
	ids := func(l SnapshotList) (out []string) {
		for _, s := range l.Snapshots {
			out = append(out, s.ID)
		}
		return out
	}
	if want := []string{string(f.s2.ID), string(f.groups.ID), string(f.s1.ID)}; !slices.Equal(ids(all), want) {
		t.Fatalf("newest first: got %v want %v", ids(all), want)
	}
	if all.Snapshots[0].Objects != 6 || all.Snapshots[0].Counts["user"] != 4 || all.Snapshots[0].State != nil {
		t.Errorf("list row: %+v", all.Snapshots[0])
	}

	// Page one row at a time while new snapshots are committed: the pages
	// still list exactly the snapshots that existed, once each.
	var got []string
	target := "/?limit=1"
	for i := 0; ; i++ {
		page := get[SnapshotList](t, f, (*snapshotService).listSnapshots, target)
		got = append(got, ids(page)...)
		commit(t, f.svc.repo, conn, "users", f.s2.ID, time.Now().Add(time.Duration(i)*time.Hour), user("u9", "New", ""))
		if page.NextCursor == "" {
			break
		}
		target = "/?limit=1&cursor=" + page.NextCursor
	}
	if !slices.Equal(got, ids(all)) {
		t.Errorf("paging while writing: got %v want %v", got, ids(all))
	}

	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"scope", "scope=groups", []string{string(f.groups.ID)}},
		{"from inclusive", "scope=users&from=" + url.QueryEscape(t0.Add(time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(t0.Add(2*time.Hour).Format(time.RFC3339)), []string{string(f.s2.ID)}},
		{"to exclusive", "to=" + url.QueryEscape(t0.Add(30*time.Minute).Format(time.RFC3339)), []string{string(f.s1.ID)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := get[SnapshotList](t, f, (*snapshotService).listSnapshots, "/?"+tc.query)
			if !slices.Equal(ids(l), tc.want) {
				t.Errorf("got %v want %v", ids(l), tc.want)
			}
		})
	}
}

func TestShowSnapshot(t *testing.T) {
	f := newFixture(t)
	v := get[SnapshotView](t, f, (*snapshotService).showSnapshot, "/", "sid", string(f.s2.ID))
	if v.ID != string(f.s2.ID) || v.Scope != "users" || v.Parent != string(f.s1.ID) || v.Counts["user"] != 4 || v.Counts["user.manager"] != 2 || v.Objects != 6 {
		t.Errorf("view: %+v", v)
	}
	if !strings.Contains(v.State["delta.users"], "deltatoken") {
		t.Errorf("state: %+v", v.State)
	}
}

func TestListObjects(t *testing.T) {
	f := newFixture(t)
	sid := string(f.s1.ID)
	keys := func(l ObjectList) (out []string) {
		for _, o := range l.Objects {
			out = append(out, o.Type+"/"+o.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name, query string
		want        []string
	}{
		{"all", "", []string{"user/u1", "user/u2", "user/u3", "user/u4", "user.manager/u2", "user.manager/u3"}},
		{"type", "type=user.manager", []string{"user.manager/u2", "user.manager/u3"}},
		{"displayName", "q=carol", []string{"user/u3"}},
		{"userPrincipalName", "type=user&q=dave@", []string{"user/u4"}},
		{"mail", "q=alice@contoso", []string{"user/u1"}},
		{"id across types", "q=u2", []string{"user/u2", "user.manager/u2"}},
		{"nothing", "q=zed", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := get[ObjectList](t, f, (*snapshotService).listObjects, "/?"+tc.query, "sid", sid)
			if !slices.Equal(keys(l), tc.want) || l.NextCursor != "" {
				t.Errorf("got %v (next %q) want %v", keys(l), l.NextCursor, tc.want)
			}
		})
	}
	l := get[ObjectList](t, f, (*snapshotService).listObjects, "/?q=dave", "sid", sid)
	if len(l.Objects) != 1 || l.Objects[0].DisplayName != "Dave <ops>" || l.Objects[0].UserPrincipalName != "dave@contoso.com" {
		t.Errorf("names: %+v", l.Objects)
	}

	// Pages of two, across the type boundary, give the full listing once.
	var got []string
	target := "/?limit=2"
	for {
		page := get[ObjectList](t, f, (*snapshotService).listObjects, target, "sid", sid)
		got = append(got, keys(page)...)
		if page.NextCursor == "" {
			break
		}
		target = "/?limit=2&cursor=" + page.NextCursor
	}
	if want := []string{"user/u1", "user/u2", "user/u3", "user/u4", "user.manager/u2", "user.manager/u3"}; !slices.Equal(got, want) {
		t.Errorf("paged: %v", got)
	}

	// A search paged one hit at a time: "o" is in every user's UPN
	// (contoso.com) and in no relationship's id.
	got = nil
	target = "/?limit=1&q=o"
	for {
		page := get[ObjectList](t, f, (*snapshotService).listObjects, target, "sid", sid)
		got = append(got, keys(page)...)
		if page.NextCursor == "" {
			break
		}
		target = "/?limit=1&q=o&cursor=" + page.NextCursor
	}
	if want := []string{"user/u1", "user/u2", "user/u3", "user/u4"}; !slices.Equal(got, want) {
		t.Errorf("paged search: %v", got)
	}
}

func TestGetObjectReturnsStoredBytes(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name, target, oid string
		wantSnap          repository.SnapshotID
		wantType, want    string
	}{
		{"exact bytes at a snapshot", "/?at=" + string(f.s1.ID), "u4", f.s1.ID, "user",
			`{ "userPrincipalName":"dave@contoso.com",  "id":"u4", "displayName":"Dave <ops>", "n": 1.50 }`},
		{"newest holding it", "/", "u2", f.s2.ID, "user", user("u2", "Bobby", `,"jobTitle":"Dev"`).raw},
		{"deleted object from the last snapshot holding it", "/", "u3", f.s1.ID, "user", user("u3", "Carol", "").raw},
		{"relationship by type", "/?type=user.manager", "u2", f.s2.ID, "user.manager", rel("user.manager", "u2", "u4").raw},
		{"group scope", "/", "g1", f.groups.ID, "group", `{"id":"g1","displayName":"Admins","mail":"admins@contoso.com"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := call(t, f, (*snapshotService).getObject, tc.target, "oid", tc.oid)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Body.String() != tc.want || rec.Header().Get("Entravault-Snapshot") != string(tc.wantSnap) || rec.Header().Get("Entravault-Object-Type") != tc.wantType {
				t.Errorf("got %s %s %q", rec.Header().Get("Entravault-Snapshot"), rec.Header().Get("Entravault-Object-Type"), rec.Body)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	f := newFixture(t)
	h := get[History](t, f, (*snapshotService).history, "/", "oid", "u2")
	if h.Type != "user" || h.Scope != "users" || len(h.Versions) != 2 {
		t.Fatalf("history: %+v", h)
	}
	if h.Versions[0].Kind != "added" || h.Versions[0].Snapshot != string(f.s1.ID) || h.Versions[1].Kind != "changed" || h.Versions[1].Snapshot != string(f.s2.ID) {
		t.Errorf("versions: %+v", h.Versions)
	}
	if got := paths(h.Versions[1].Changes); !slices.Equal(got, []string{"/displayName changed", "/jobTitle added", "/userPrincipalName changed"}) {
		t.Errorf("changes: %v", got)
	}

	h = get[History](t, f, (*snapshotService).history, "/", "oid", "u3")
	if len(h.Versions) != 2 || h.Versions[1].Kind != "removed" {
		t.Errorf("deleted user: %+v", h.Versions)
	}

	h = get[History](t, f, (*snapshotService).history, "/?type=user.manager", "oid", "u2")
	if len(h.Versions) != 2 || h.Versions[1].Members == nil || !slices.Equal(h.Versions[1].Members.Added, []string{"u4"}) || !slices.Equal(h.Versions[1].Members.Removed, []string{"u1"}) {
		t.Errorf("manager history: %+v", h.Versions)
	}
}

func paths(cs []jsondiff.Change) (out []string) {
	for _, c := range cs {
		out = append(out, c.Path+" "+string(c.Op))
	}
	return out
}

func TestDiff(t *testing.T) {
	f := newFixture(t)
	q := "/?from=" + string(f.s1.ID) + "&to=" + string(f.s2.ID)
	d := get[Diff](t, f, (*snapshotService).diff, q)
	var got []string
	for _, c := range d.Changes {
		got = append(got, c.Type+"/"+c.ID+" "+c.Kind)
	}
	want := []string{"user/u2 changed", "user/u3 removed", "user/u5 added",
		"user.manager/u2 changed", "user.manager/u3 removed", "user.manager/u5 added"}
	if !slices.Equal(got, want) || d.Scope != "users" {
		t.Fatalf("diff: got %v want %v", got, want)
	}
	if p := paths(d.Changes[0].Properties); !slices.Equal(p, []string{"/displayName changed", "/jobTitle added", "/userPrincipalName changed"}) {
		t.Errorf("properties: %v", p)
	}
	for i, wm := range []MemberChanges{{Added: []string{"u4"}, Removed: []string{"u1"}}, {Added: []string{}, Removed: []string{"u1"}}, {Added: []string{"u1"}, Removed: []string{}}} {
		m := d.Changes[3+i].Members
		if m == nil || !slices.Equal(m.Added, wm.Added) || !slices.Equal(m.Removed, wm.Removed) {
			t.Errorf("%s members: %+v want %+v", got[3+i], m, wm)
		}
	}

	// Reversed, and a page at a time: the same changes.
	rev := get[Diff](t, f, (*snapshotService).diff, "/?from="+string(f.s2.ID)+"&to="+string(f.s1.ID))
	if len(rev.Changes) != 6 || rev.Changes[1].Kind != "added" || rev.Changes[2].Kind != "removed" {
		t.Errorf("reversed: %+v", rev.Changes)
	}
	var paged []string
	target := q + "&limit=1"
	for {
		p := get[Diff](t, f, (*snapshotService).diff, target)
		for _, c := range p.Changes {
			paged = append(paged, c.Type+"/"+c.ID+" "+c.Kind)
		}
		if p.NextCursor == "" {
			break
		}
		target = q + "&limit=1&cursor=" + p.NextCursor
	}
	if !slices.Equal(paged, want) {
		t.Errorf("paged: %v", paged)
	}
	typed := get[Diff](t, f, (*snapshotService).diff, q+"&type=user.manager")
	if len(typed.Changes) != 3 || typed.Changes[0].Type != "user.manager" {
		t.Errorf("type filter: %+v", typed.Changes)
	}
	same := get[Diff](t, f, (*snapshotService).diff, "/?from="+string(f.s1.ID)+"&to="+string(f.s1.ID))
	if len(same.Changes) != 0 {
		t.Errorf("snapshot against itself: %+v", same.Changes)
	}
}

func TestExportRoundTrip(t *testing.T) {
	f := newFixture(t)
	export := func() []byte {
		rec, err := call(t, f, (*snapshotService).export, "/", "sid", string(f.s1.ID))
		if err != nil {
			t.Fatal(err)
		}
		if rec.Header().Get(ExportCountHeader) != "6" {
			t.Errorf("count header %q", rec.Header().Get(ExportCountHeader))
		}
		return rec.Body.Bytes()
	}
	a, b := export(), export()
	if !bytes.Equal(a, b) {
		t.Error("two exports of one snapshot differ")
	}
	zr, err := gzip.NewReader(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(zr)
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		files[h.Name] = body
	}
	n := 0
	err = f.svc.repo.Walk(context.Background(), f.s1.ID, func(typ, id string, raw []byte) error {
		n++
		body, ok := files[ExportPath(typ, id)]
		if !ok {
			t.Errorf("%s/%s missing from the export", typ, id)
			return nil
		}
		if !sameJSON(t, body, raw) {
			t.Errorf("%s/%s: exported %s, stored %s", typ, id, body, raw)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != len(files) {
		t.Errorf("export holds %d files, snapshot %d objects", len(files), n)
	}
	want := "{\n  \"displayName\": \"Dave <ops>\",\n  \"id\": \"u4\",\n  \"n\": 1.50,\n  \"userPrincipalName\": \"dave@contoso.com\"\n}\n"
	if got := string(files["user/u4.json"]); got != want {
		t.Errorf("stable form:\n%s\nwant\n%s", got, want)
	}
}

// Export paths are one file under the type's folder on every system: a
// log key's ':' and a '/' in an id are escaped, and unescape back.
func TestExportPathIsPortable(t *testing.T) {
	for _, c := range []struct{ typ, id, want string }{
		{"user", "0e5b1c7a-93f4-4c1e-9a64-8d2f8f1b7c01", "user/0e5b1c7a-93f4-4c1e-9a64-8d2f8f1b7c01.json"},
		{"signIn", "2026-11-26T10:42:29.0000000Z_abc", "signIn/2026-11-26T10%3A42%3A29.0000000Z_abc.json"},
		{"user", `a/b\c"d`, "user/a%2Fb%5Cc%22d.json"},
	} {
		got := ExportPath(c.typ, c.id)
		if got != c.want {
			t.Errorf("ExportPath(%q, %q) = %q, want %q", c.typ, c.id, got, c.want)
		}
		name := strings.TrimSuffix(strings.TrimPrefix(got, c.typ+"/"), ".json")
		if back, err := url.PathUnescape(name); err != nil || back != c.id {
			t.Errorf("%q unescapes to %q (%v)", name, back, err)
		}
	}
}

// sameJSON: equal after decoding with exact numbers.
func sameJSON(t *testing.T, a, b []byte) bool {
	var x, y bytes.Buffer
	if StableJSON(&x, a) != nil || StableJSON(&y, b) != nil {
		t.Fatalf("not JSON: %s / %s", a, b)
	}
	return bytes.Equal(x.Bytes(), y.Bytes())
}

func audit(id string, at time.Time, target, prop string) stored {
	return stored{"directoryAudit", activities.LogKey(at, id), `{"id":"` + id + `","activityDisplayName":"Update user","activityDateTime":"` + at.Format(time.RFC3339) +
		`","result":"success","initiatedBy":{"user":{"id":"x","userPrincipalName":"admin@contoso.com"},"app":null},` +
		`"targetResources":[{"id":"` + target + `","type":"User","modifiedProperties":[{"displayName":"` + prop + `","oldValue":"a","newValue":"b"}]}]}`}
}

func TestListLogObjectsSince(t *testing.T) {
	f := newFixture(t)
	var records []stored
	for i := range 5 { // stored out of time order: keys sort them
		records = append(records, audit(fmt.Sprintf("a%d", i), t0.Add(time.Duration(4-i)*time.Hour), "u1", "JobTitle"))
	}
	snap := commit(t, f.svc.repo, conn, "directory_audits", "", t0.Add(5*time.Hour), records...)
	ids := func(l ObjectList) (out []string) {
		for _, o := range l.Objects {
			_, id, _ := activities.SplitLogKey(o.ID)
			out = append(out, id)
		}
		return out
	}
	l := get[ObjectList](t, f, (*snapshotService).listObjects, "/", "sid", string(snap.ID))
	if got := ids(l); !slices.Equal(got, []string{"a4", "a3", "a2", "a1", "a0"}) {
		t.Errorf("all: %v, want oldest first", got)
	}
	since := url.QueryEscape(t0.Add(2 * time.Hour).Format(time.RFC3339))
	l = get[ObjectList](t, f, (*snapshotService).listObjects, "/?limit=2&since="+since, "sid", string(snap.ID))
	if got := ids(l); !slices.Equal(got, []string{"a2", "a1"}) || l.NextCursor == "" {
		t.Fatalf("since: %v next %q, want a2 a1 and more", got, l.NextCursor)
	}
	l = get[ObjectList](t, f, (*snapshotService).listObjects, "/?since="+since+"&cursor="+l.NextCursor, "sid", string(snap.ID))
	if got := ids(l); !slices.Equal(got, []string{"a0"}) {
		t.Errorf("next page: %v, want a0", got)
	}
	_, err := call(t, f, (*snapshotService).listObjects, "/?since=yesterday", "sid", string(snap.ID))
	wantAPIError(t, err, http.StatusBadRequest, "bad_request")
	_, err = call(t, f, (*snapshotService).listObjects, "/?since="+since, "sid", string(f.s1.ID))
	wantAPIError(t, err, http.StatusBadRequest, "bad_request")
}

func TestDiffAudits(t *testing.T) {
	f := newFixture(t)
	logs := "c-00000000000000cc"
	records := []stored{
		audit("a1", t0.Add(30*time.Minute), "u2", "DisplayName"),
		audit("a2", t0.Add(-time.Hour), "u2", "JobTitle"),        // before the window
		audit("a3", t0.Add(time.Hour), "u5", "AccountEnabled"),   // at its end: inside
		audit("a4", t0.Add(10*time.Minute), "g1", "Description"), // not in the diff
	}
	commit(t, f.svc.repo, conn, "directory_audits", "", t0.Add(2*time.Hour), records...)
	commit(t, f.svc.repo, logs, "directory_audits", "", t0.Add(2*time.Hour), records[0])
	commit(t, f.svc.repo, foreign, "directory_audits", "", t0.Add(2*time.Hour), records[0])
	f.svc.canReadOther = func(_ context.Context, id string) error {
		if id == logs {
			return nil
		}
		return apiError(http.StatusNotFound, "not_found", "audit connector not found", nil)
	}
	q := "/?from=" + string(f.s1.ID) + "&to=" + string(f.s2.ID)
	auditsOf := func(d Diff) map[string][]string {
		out := map[string][]string{}
		for _, c := range d.Changes {
			for _, a := range c.Audits {
				out[c.Type+"/"+c.ID] = append(out[c.Type+"/"+c.ID], a.ID)
			}
		}
		return out
	}
	d := get[Diff](t, f, (*snapshotService).diff, q)
	got := auditsOf(d)
	if !slices.Equal(got["user/u2"], []string{"a1"}) || !slices.Equal(got["user.manager/u2"], []string{"a1"}) || !slices.Equal(got["user/u5"], []string{"a3"}) || len(got["user/u3"]) != 0 {
		t.Errorf("audits: %v", got)
	}
	if a := d.Changes[0].Audits[0]; a.InitiatedBy != "admin@contoso.com" || !slices.Equal(a.Properties, []string{"DisplayName"}) || a.Activity != "Update user" {
		t.Errorf("audit ref: %+v", a)
	}

	// From a visible activity-log connector: only its records.
	got = auditsOf(get[Diff](t, f, (*snapshotService).diff, q+"&audits="+logs))
	if len(got) != 2 || !slices.Equal(got["user/u2"], []string{"a1"}) {
		t.Errorf("audits from %s: %v", logs, got)
	}
	_, err := call(t, f, (*snapshotService).diff, q+"&audits="+foreign)
	wantAPIError(t, err, http.StatusNotFound, "not_found")
	f.svc.canReadOther = func(context.Context, string) error { return nil }
	_, err = call(t, f, (*snapshotService).diff, q+"&audits=c-00000000000000dd")
	wantAPIError(t, err, http.StatusBadRequest, "no_audits")
}

func TestReadNames(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		want      ObjectSummary
	}{
		{"all three", `{"id":"1","displayName":"Ada","userPrincipalName":"ada@x","mail":"a@x"}`, ObjectSummary{DisplayName: "Ada", UserPrincipalName: "ada@x", Mail: "a@x"}},
		{"escaped", `{"displayName":"Ren\u00e9e \"R\""}`, ObjectSummary{DisplayName: `Renée "R"`}},
		{"nested names ignored", `{"manager":{"displayName":"Boss"},"assignedLicenses":[{"mail":"m"}],"displayName":"Me"}`, ObjectSummary{DisplayName: "Me"}},
		{"null mail", `{"mail":null,"displayName":"N"}`, ObjectSummary{DisplayName: "N"}},
		{"not an object", `[1,2]`, ObjectSummary{}},
		{"broken", `{"displayName":`, ObjectSummary{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o ObjectSummary
			o.readNames([]byte(tc.raw))
			if o != tc.want {
				t.Errorf("got %+v want %+v", o, tc.want)
			}
		})
	}
}
