package api

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/labstack/echo/v4"

	"github.com/entravault/entravault/activities"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/repository"
	"github.com/entravault/entravault/internal/repository/jsondiff"
)

// registerSnapshotRoutes adds the snapshot browsing endpoints (issue 7).
// Every one is a read: the caller must be able to see the connector, and a
// snapshot of another connector is answered like a missing one.
func registerSnapshotRoutes(g *echo.Group, h *handlers) {
	g.GET("/connectors/:id/snapshots", h.snapshotRoute((*snapshotService).listSnapshots))
	g.GET("/connectors/:id/snapshots/:sid", h.snapshotRoute((*snapshotService).showSnapshot))
	g.GET("/connectors/:id/snapshots/:sid/objects", h.snapshotRoute(h.heavy(h.buildingSearchIndex, (*snapshotService).listObjects)))
	g.GET("/connectors/:id/snapshots/:sid/export", h.snapshotRoute(h.heavy(always, (*snapshotService).export)))
	g.GET("/connectors/:id/objects/:oid", h.snapshotRoute((*snapshotService).getObject))
	g.GET("/connectors/:id/objects/:oid/history", h.snapshotRoute((*snapshotService).history))
	g.GET("/connectors/:id/diff", h.snapshotRoute(h.heavy(comparingLive, (*snapshotService).diff)))
}

func init() {
	paths := openAPI["paths"].(map[string]any)
	id := path("id")
	paths["/api/v1/connectors/{id}/snapshots"] = map[string]any{"get": withParams(op("Snapshots of the connector, newest first; from inclusive, to exclusive (RFC 3339); paged by cursor", true),
		id, query("scope"), query("from"), query("to"), query("limit"), query("cursor"))}
	paths["/api/v1/connectors/{id}/snapshots/{sid}"] = map[string]any{"get": withParams(op("One snapshot: time, scope, object counts per type, per-scope state", true), id, path("sid"))}
	paths["/api/v1/connectors/{id}/snapshots/{sid}/objects"] = map[string]any{"get": withParams(op("Objects of a snapshot in type/id order (activity logs: in time order, keyed <time>_<id>); q searches id, displayName, userPrincipalName and mail; since (RFC 3339, activity logs only) starts at a time", true),
		id, path("sid"), query("type"), query("q"), query("since"), query("limit"), query("cursor"))}
	paths["/api/v1/connectors/{id}/snapshots/{sid}/export"] = map[string]any{"get": withParams(op("The snapshot as a tar.gz of <type>/<id>.json files with sorted keys and stable formatting", true),
		id, path("sid"), query("type"))}
	paths["/api/v1/connectors/{id}/objects/{oid}"] = map[string]any{"get": withParams(op("An object's stored JSON, exactly as Graph returned it, at snapshot `at` (default: the newest holding it)", true),
		id, path("oid"), query("at"), query("type"))}
	paths["/api/v1/connectors/{id}/objects/{oid}/history"] = map[string]any{"get": withParams(op("An object's versions, oldest first, with the properties and members changed in each", true),
		id, path("oid"), query("type"))}
	paths["/api/v1/connectors/{id}/diff"] = map[string]any{"get": withParams(op("Objects added, removed and changed between two snapshots of one scope (to=live: the tenant now, read through Graph by the worker), with property and membership changes and the directory audits that target them (from this connector or the activity-log connector named by audits); paged by cursor. A live read that takes longer than 20 s answers 202 {status: reading, read} with Retry-After: ask again with read", true),
		id, query("from"), query("to"), query("read"), query("type"), query("audits"), query("limit"), query("cursor"))}
}

// snapshotRoute applies the connector access rule, then hands the
// connector id to a snapshotService method; the methods never see a
// connector the caller may not read.
func (h *handlers) snapshotRoute(fn func(*snapshotService, echo.Context, string) error) echo.HandlerFunc {
	return func(c echo.Context) error {
		id, sum, err := h.authorize(c, false)
		if err != nil {
			return err
		}
		if h.Repo == nil {
			return apiError(http.StatusServiceUnavailable, "unavailable", "snapshot storage is not configured", nil)
		}
		svc := &snapshotService{repo: h.Repo, log: h.Logger, canReadOther: h.canReadOther(c, sum)}
		if h.Temporal != nil {
			svc.readLive = h.readLive
		}
		return fn(svc, c, id)
	}
}

// snapshotService answers the snapshot endpoints for a connector the caller
// may see.
type snapshotService struct {
	repo *repository.Repository
	log  *slog.Logger
	// canReadOther applies the access rule to another connector named in
	// the request (?audits=); nil allows none.
	canReadOther func(ctx context.Context, connectorID string) error
	// readLive reads a scope of the tenant now into a snapshot (snapshot_live.go).
	// With read, it waits for that earlier read; errReading: still running.
	readLive func(ctx context.Context, connectorID string, scope connector.Scope, read string) (repository.SnapshotID, error)
}

// Paging limits.
const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

// ObjectTypes are the object types the backup stores. Types with a dot are
// relationships ("group.members"): {"value":[{"id":…},…]}.
var ObjectTypes = []string{
	"user", "user.manager", "group", "group.members", "group.owners",
	"administrativeUnit", "administrativeUnit.members",
	"roleDefinition", "roleAssignment", "directoryRole", "directoryRole.members",
	"organization", "subscribedSku", "application", "servicePrincipal",
	"conditionalAccessPolicy", "namedLocation", "authenticationMethodsPolicy", "authorizationPolicy",
	"signIn", "directoryAudit",
}

func isRelation(objType string) bool { return strings.Contains(objType, ".") }

var snapshotIDRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// SnapshotView is a snapshot as the API shows it. State (delta links,
// watermarks) is only in GET /snapshots/{sid}.
type SnapshotView struct {
	ID      string            `json:"id"`
	Scope   string            `json:"scope"`
	Time    time.Time         `json:"time"`
	Parent  string            `json:"parent,omitempty"`
	Objects int               `json:"objects"`
	Bytes   int64             `json:"bytes"`
	Counts  map[string]int    `json:"counts"`
	State   map[string]string `json:"state,omitempty"`
}

func snapshotView(s repository.SnapshotInfo, withState bool) SnapshotView {
	v := SnapshotView{ID: string(s.ID), Scope: s.Scope, Time: s.Time.UTC(), Parent: string(s.Parent), Bytes: s.Bytes, Counts: s.Counts}
	if v.Counts == nil {
		v.Counts = map[string]int{}
	}
	for _, n := range s.Counts {
		v.Objects += n
	}
	if withState {
		v.State = s.State
	}
	return v
}

// SnapshotList answers GET .../snapshots.
type SnapshotList struct {
	Snapshots  []SnapshotView `json:"snapshots"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// cursor is an opaque position in a listing: the last item returned. Kind
// stops a cursor of one listing from being replayed on another.
type cursor struct {
	Kind string    `json:"k"`
	Time time.Time `json:"t,omitzero"`
	Type string    `json:"y,omitempty"`
	ID   string    `json:"i"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func badCursor() error {
	return apiError(http.StatusBadRequest, "invalid_cursor", "the cursor is not one this listing returned", nil)
}

func decodeCursor(s, kind string) (cursor, error) {
	var c cursor
	if s == "" {
		return c, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || json.Unmarshal(b, &c) != nil || c.Kind != kind || c.ID == "" {
		return cursor{}, badCursor()
	}
	return c, nil
}

func pageSize(c echo.Context) (int, error) {
	v := c.QueryParam("limit")
	if v == "" {
		return defaultPageSize, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxPageSize {
		return 0, apiError(http.StatusBadRequest, "invalid_limit", fmt.Sprintf("limit must be 1..%d", maxPageSize), nil)
	}
	return n, nil
}

func parseTime(c echo.Context, name string) (time.Time, error) {
	v := c.QueryParam(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return t, apiError(http.StatusBadRequest, "invalid_time", name+" must be an RFC 3339 time", nil)
	}
	return t, nil
}

func objectType(c echo.Context) (string, error) {
	t := c.QueryParam("type")
	if t != "" && !slices.Contains(ObjectTypes, t) {
		return "", apiError(http.StatusBadRequest, "invalid_type", fmt.Sprintf("unknown object type %q", t), map[string]any{"types": ObjectTypes})
	}
	return t, nil
}

// storageError turns a repository error into an API error; a missing
// snapshot or object is a 404, anything else an internal error.
func storageError(err error, what string) error {
	if errors.Is(err, repository.ErrNotFound) {
		return apiError(http.StatusNotFound, what+"_not_found", what+" not found", nil)
	}
	return err
}

func snapshotNotFound() error {
	return apiError(http.StatusNotFound, "snapshot_not_found", "snapshot not found", nil)
}

// snapshot loads a snapshot of the connector. A malformed id is a 400; an
// unknown id and one of another connector are the same 404, so ids of
// connectors the caller cannot see reveal nothing.
func (s *snapshotService) snapshot(ctx context.Context, connectorID, sid string) (repository.SnapshotInfo, error) {
	if !snapshotIDRE.MatchString(sid) {
		return repository.SnapshotInfo{}, apiError(http.StatusBadRequest, "invalid_snapshot_id", "a snapshot id is 64 hex digits", nil)
	}
	info, err := s.repo.Snapshot(ctx, repository.SnapshotID(sid))
	if errors.Is(err, repository.ErrNotFound) || err == nil && info.Connector != connectorID && info.Connector != connector.LiveNamespace(connectorID) {
		return repository.SnapshotInfo{}, snapshotNotFound()
	}
	return info, err
}

func (s *snapshotService) listSnapshots(c echo.Context, connectorID string) error {
	scope := c.QueryParam("scope")
	if scope != "" && !slices.Contains(connector.AllScopes, connector.Scope(scope)) {
		return apiError(http.StatusBadRequest, "invalid_scope", fmt.Sprintf("unknown scope %q", scope), nil)
	}
	from, err := parseTime(c, "from")
	if err != nil {
		return err
	}
	to, err := parseTime(c, "to")
	if err != nil {
		return err
	}
	limit, err := pageSize(c)
	if err != nil {
		return err
	}
	cur, err := decodeCursor(c.QueryParam("cursor"), "snapshots")
	if err != nil {
		return err
	}
	infos, err := s.repo.Snapshots(c.Request().Context(), repository.Filter{Connector: connectorID, Scope: scope, From: from, To: to})
	if err != nil {
		return err
	}
	// Newest first. The cursor is the (time, id) of the last row shown, and
	// the next page starts strictly below it, so snapshots committed while
	// an operator pages land above the cursor and shift nothing.
	out := SnapshotList{Snapshots: []SnapshotView{}}
	for i := len(infos) - 1; i >= 0; i-- {
		in := infos[i]
		if cur.ID != "" && !olderThan(in, cur) {
			continue
		}
		if len(out.Snapshots) == limit {
			last := out.Snapshots[limit-1]
			out.NextCursor = cursor{Kind: "snapshots", Time: last.Time, ID: last.ID}.encode()
			break
		}
		out.Snapshots = append(out.Snapshots, snapshotView(in, false))
	}
	return c.JSON(http.StatusOK, out)
}

// olderThan orders like Repository.Snapshots: by time, then id.
func olderThan(s repository.SnapshotInfo, c cursor) bool {
	if !s.Time.Equal(c.Time) {
		return s.Time.Before(c.Time)
	}
	return string(s.ID) < c.ID
}

func (s *snapshotService) showSnapshot(c echo.Context, connectorID string) error {
	info, err := s.snapshot(c.Request().Context(), connectorID, c.Param("sid"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, snapshotView(info, true))
}

// ObjectSummary is one row of an object listing; the names are set for
// objects that have them.
type ObjectSummary struct {
	Type              string `json:"type"`
	ID                string `json:"id"`
	DisplayName       string `json:"displayName,omitempty"`
	UserPrincipalName string `json:"userPrincipalName,omitempty"`
	Mail              string `json:"mail,omitempty"`
}

// ObjectList answers GET .../snapshots/{sid}/objects.
type ObjectList struct {
	Objects    []ObjectSummary `json:"objects"`
	NextCursor string          `json:"next_cursor,omitempty"`
}

var errPageFull = errors.New("page full")

func (s *snapshotService) listObjects(c echo.Context, connectorID string) error {
	ctx := c.Request().Context()
	info, err := s.snapshot(ctx, connectorID, c.Param("sid"))
	if err != nil {
		return err
	}
	typ, err := objectType(c)
	if err != nil {
		return err
	}
	limit, err := pageSize(c)
	if err != nil {
		return err
	}
	cur, err := decodeCursor(c.QueryParam("cursor"), "objects")
	if err != nil {
		return err
	}
	q := strings.ToLower(strings.TrimSpace(c.QueryParam("q")))
	out := ObjectList{Objects: []ObjectSummary{}}
	if q != "" {
		// A search reads names from every object: do it once per snapshot.
		x, err := searchIndexes.get(ctx, s.repo, info.ID)
		if err != nil {
			return err
		}
		var more bool
		out.Objects, more = x.search(typ, q, cur.Type, cur.ID, limit)
		if more {
			last := out.Objects[len(out.Objects)-1]
			out.NextCursor = cursor{Kind: "objects", Type: last.Type, ID: last.ID}.encode()
		}
		return c.JSON(http.StatusOK, out)
	}
	if since := c.QueryParam("since"); since != "" && cur.Type == "" {
		// Log records are keyed by time: start the scan there.
		at, err := time.Parse(time.RFC3339Nano, since)
		logType, isLog := logObjectTypes[info.Scope]
		switch {
		case !isLog:
			return apiError(http.StatusBadRequest, "bad_request", "since applies to activity-log snapshots only", nil)
		case err != nil:
			return apiError(http.StatusBadRequest, "bad_request", "since must be an RFC 3339 time", nil)
		}
		typ, cur.Type, cur.ID = logType, logType, activities.LogKey(at, "")
	}
	var last ObjectSummary
	err = s.repo.Scan(ctx, info.ID, typ, cur.Type, cur.ID, func(t, id string, load func() ([]byte, error)) error {
		if len(out.Objects) == limit {
			out.NextCursor = cursor{Kind: "objects", Type: last.Type, ID: last.ID}.encode()
			return errPageFull
		}
		o := ObjectSummary{Type: t, ID: id}
		if !isRelation(t) {
			raw, err := load()
			if err != nil {
				return err
			}
			o.readNames(raw)
		}
		out.Objects = append(out.Objects, o)
		last = o
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return err
	}
	return c.JSON(http.StatusOK, out)
}

// logObjectTypes is the record type of each activity-log scope.
var logObjectTypes = map[string]string{string(connector.ScopeSignIns): "signIn", string(connector.ScopeDirectoryAudits): "directoryAudit"}

func validObjectID(id string) bool {
	if id == "" || len(id) > 256 {
		return false
	}
	return !strings.ContainsFunc(id, func(r rune) bool { return unicode.IsControl(r) || r == '/' })
}

// typesToTry is the order in which an object id is looked up when the
// caller gave no type: objects before relationships, which share their ids.
func typesToTry(typ string, counts map[string]int) []string {
	if typ != "" {
		return []string{typ}
	}
	var objs, rels []string
	for _, t := range ObjectTypes {
		if counts[t] == 0 {
			continue
		}
		if isRelation(t) {
			rels = append(rels, t)
		} else {
			objs = append(objs, t)
		}
	}
	return append(objs, rels...)
}

// locate finds an object: in snapshot at when given, else in the newest
// snapshot of the connector that holds it. It returns the snapshot, the
// object's type and its stored bytes.
func (s *snapshotService) locate(ctx context.Context, connectorID, oid, typ, at string) (repository.SnapshotInfo, string, []byte, error) {
	var snaps []repository.SnapshotInfo
	if at != "" {
		info, err := s.snapshot(ctx, connectorID, at)
		if err != nil {
			return info, "", nil, err
		}
		snaps = []repository.SnapshotInfo{info}
	} else {
		all, err := s.repo.Snapshots(ctx, repository.Filter{Connector: connectorID})
		if err != nil {
			return repository.SnapshotInfo{}, "", nil, err
		}
		slices.Reverse(all)
		snaps = all
	}
	for _, sn := range snaps {
		for _, t := range typesToTry(typ, sn.Counts) {
			raw, err := s.repo.Get(ctx, sn.ID, t, oid)
			if errors.Is(err, repository.ErrNotFound) {
				continue
			}
			if err != nil {
				return sn, "", nil, err
			}
			return sn, t, raw, nil
		}
	}
	return repository.SnapshotInfo{}, "", nil, apiError(http.StatusNotFound, "object_not_found", "object not found", nil)
}

func (s *snapshotService) objectParams(c echo.Context) (oid, typ string, err error) {
	oid = c.Param("oid")
	if !validObjectID(oid) {
		return "", "", apiError(http.StatusBadRequest, "invalid_object_id", "an object id is 1..256 characters without / or control characters", nil)
	}
	typ, err = objectType(c)
	return oid, typ, err
}

// getObject answers the stored bytes unchanged, so what an operator sees is
// what a restore would write; the snapshot and type are in headers.
func (s *snapshotService) getObject(c echo.Context, connectorID string) error {
	oid, typ, err := s.objectParams(c)
	if err != nil {
		return err
	}
	sn, t, raw, err := s.locate(c.Request().Context(), connectorID, oid, typ, c.QueryParam("at"))
	if err != nil {
		return err
	}
	c.Response().Header().Set("Entravault-Snapshot", string(sn.ID))
	c.Response().Header().Set("Entravault-Object-Type", t)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, raw)
}

// MemberChanges lists the ids a relationship gained and lost.
type MemberChanges struct {
	Added   []string `json:"added"`
	Removed []string `json:"removed"`
}

// VersionView is one version of an object in its history.
type VersionView struct {
	Snapshot  string            `json:"snapshot"`
	Time      time.Time         `json:"time"`
	Kind      string            `json:"kind"` // added, changed or removed
	ContentID string            `json:"content_id,omitempty"`
	Size      int               `json:"size,omitempty"`
	Changes   []jsondiff.Change `json:"changes,omitempty"`
	Members   *MemberChanges    `json:"members,omitempty"`
}

// History answers GET .../objects/{oid}/history.
type History struct {
	Type     string        `json:"type"`
	ID       string        `json:"id"`
	Scope    string        `json:"scope"`
	Versions []VersionView `json:"versions"`
}

func (s *snapshotService) history(c echo.Context, connectorID string) error {
	ctx := c.Request().Context()
	oid, typ, err := s.objectParams(c)
	if err != nil {
		return err
	}
	sn, t, _, err := s.locate(ctx, connectorID, oid, typ, "")
	if err != nil {
		return err
	}
	versions, err := s.repo.History(ctx, connectorID, sn.Scope, t, oid)
	if err != nil {
		return err
	}
	out := History{Type: t, ID: oid, Scope: sn.Scope, Versions: []VersionView{}}
	var prev []byte
	for _, v := range versions {
		vv := VersionView{Snapshot: string(v.Snapshot), Time: v.Time.UTC(), ContentID: v.ContentID, Size: v.Size}
		var cur []byte
		if v.Deleted {
			vv.Kind = string(repository.Removed)
			if isRelation(t) {
				vv.Members = memberChanges(prev, nil)
			}
		} else {
			if cur, err = s.repo.Get(ctx, v.Snapshot, t, oid); err != nil {
				return err
			}
			if prev == nil {
				vv.Kind = string(repository.Added)
			} else {
				vv.Kind = string(repository.Changed)
				if vv.Changes, err = jsondiff.Diff(prev, cur); err != nil {
					return err
				}
			}
			if isRelation(t) {
				vv.Members = memberChanges(prev, cur)
			}
		}
		out.Versions = append(out.Versions, vv)
		prev = cur
	}
	return c.JSON(http.StatusOK, out)
}

// memberIDs reads a relationship object's member ids.
func memberIDs(raw []byte) []string {
	var rel struct {
		Value []struct {
			ID string `json:"id"`
		} `json:"value"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &rel) != nil {
		return nil
	}
	ids := make([]string, 0, len(rel.Value))
	for _, m := range rel.Value {
		ids = append(ids, m.ID)
	}
	return ids
}

// memberChanges compares two versions of a relationship (nil: absent).
func memberChanges(old, cur []byte) *MemberChanges {
	a, b := memberIDs(old), memberIDs(cur)
	mc := &MemberChanges{Added: []string{}, Removed: []string{}}
	for _, id := range b {
		if !slices.Contains(a, id) {
			mc.Added = append(mc.Added, id)
		}
	}
	for _, id := range a {
		if !slices.Contains(b, id) {
			mc.Removed = append(mc.Removed, id)
		}
	}
	slices.Sort(mc.Added)
	slices.Sort(mc.Removed)
	return mc
}

// changeView is one change as a diff shows it: the object's name, or a
// relationship's members gained and lost.
func (s *snapshotService) changeView(ctx context.Context, from, to repository.SnapshotID, ch repository.Change) (ChangeView, error) {
	cv := ChangeView{Type: ch.Type, ID: ch.ID, Kind: string(ch.Kind), Properties: ch.Properties}
	if !isRelation(ch.Type) {
		side := to
		if ch.Kind == repository.Removed {
			side = from
		}
		if raw, err := s.repo.Get(ctx, side, ch.Type, ch.ID); err == nil {
			var o ObjectSummary
			o.readNames(raw)
			cv.Name = cmp.Or(o.DisplayName, o.UserPrincipalName, o.Mail)
		}
		return cv, nil
	}
	var old, cur []byte
	var err error
	if ch.Kind != repository.Added {
		if old, err = s.repo.Get(ctx, from, ch.Type, ch.ID); err != nil {
			return cv, err
		}
	}
	if ch.Kind != repository.Removed {
		if cur, err = s.repo.Get(ctx, to, ch.Type, ch.ID); err != nil {
			return cv, err
		}
	}
	cv.Members = memberChanges(old, cur)
	return cv, nil
}

// ChangeView is one object of a diff.
type ChangeView struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	// Name is the object's display name (or UPN), as in the newer side.
	Name       string            `json:"name,omitempty"`
	Kind       string            `json:"kind"`
	Properties []jsondiff.Change `json:"properties,omitempty"`
	Members    *MemberChanges    `json:"members,omitempty"`
	// Audits are the directory audit records targeting the object between
	// the two snapshots, when the connector (or ?audits=) has them.
	Audits []AuditRef `json:"audits,omitempty"`
}

// Diff answers GET .../diff.
type Diff struct {
	From       string       `json:"from"`
	To         string       `json:"to"`
	Scope      string       `json:"scope"`
	Changes    []ChangeView `json:"changes"`
	NextCursor string       `json:"next_cursor,omitempty"`
}

func (s *snapshotService) diff(c echo.Context, connectorID string) error {
	ctx := c.Request().Context()
	fromID, toID := c.QueryParam("from"), c.QueryParam("to")
	if fromID == "" || toID == "" {
		return apiError(http.StatusBadRequest, "bad_request", "from and to are required", nil)
	}
	from, err := s.snapshot(ctx, connectorID, fromID)
	if err != nil {
		return err
	}
	if toID == "live" {
		if s.readLive == nil {
			return apiError(http.StatusServiceUnavailable, "unavailable", "comparing with the live tenant needs the Temporal connection", nil)
		}
		if connector.Scope(from.Scope).IsActivityLog() {
			return apiError(http.StatusBadRequest, "bad_request", "activity logs have no live state to compare with", nil)
		}
		live, err := s.readLive(ctx, connectorID, connector.Scope(from.Scope), c.QueryParam("read"))
		var reading errReading
		if errors.As(err, &reading) {
			return readingAnswer(c, reading)
		}
		if err != nil {
			return err
		}
		toID = string(live)
	}
	to, err := s.snapshot(ctx, connectorID, toID)
	if err != nil {
		return err
	}
	if from.Scope != to.Scope {
		return apiError(http.StatusBadRequest, "scope_mismatch", fmt.Sprintf("from is a %s snapshot, to a %s snapshot", from.Scope, to.Scope), nil)
	}
	typ, err := objectType(c)
	if err != nil {
		return err
	}
	limit, err := pageSize(c)
	if err != nil {
		return err
	}
	cur, err := decodeCursor(c.QueryParam("cursor"), "diff")
	if err != nil {
		return err
	}
	audits, err := s.auditsFor(ctx, connectorID, c.QueryParam("audits"))
	if err != nil {
		return err
	}
	lo, hi := from.Time, to.Time
	if hi.Before(lo) {
		lo, hi = hi, lo
	}
	out := Diff{From: string(from.ID), To: string(to.ID), Scope: from.Scope, Changes: []ChangeView{}}
	err = s.repo.DiffAfter(ctx, from.ID, to.ID, typ, cur.Type, cur.ID, func(ch repository.Change) error {
		if len(out.Changes) == limit {
			last := out.Changes[limit-1]
			out.NextCursor = cursor{Kind: "diff", Type: last.Type, ID: last.ID}.encode()
			return errPageFull
		}
		cv, err := s.changeView(ctx, from.ID, to.ID, ch)
		if err != nil {
			return err
		}
		if audits != nil {
			cv.Audits = audits.in(ch.ID, lo, hi)
		}
		out.Changes = append(out.Changes, cv)
		return nil
	})
	if err != nil && !errors.Is(err, errPageFull) {
		return storageError(err, "snapshot")
	}
	return c.JSON(http.StatusOK, out)
}
