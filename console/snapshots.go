package console

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"time"

	"github.com/entravault/entravault/api"
)

// snapshotIDRE is a snapshot id: 64 hex digits.
var snapshotIDRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

type snapshotsView struct {
	ID, Name         string
	Scope            string
	Scopes           []string
	List             api.SnapshotList
	Cursor, From, To string // From and To are days, 2026-12-01
}

// dayStart is the RFC 3339 start (UTC) of a day from a date input; ""
// when none or not a date.
func dayStart(day string) string {
	t, err := time.Parse("2006-01-02", day)
	if err != nil {
		return ""
	}
	return t.Format(time.RFC3339)
}

func (snapshotsView) PageTitle() string { return "Snapshots" }

// connectorName reads the connector (which also applies the access rule
// before anything else is shown).
func (s *Server) connectorName(r *http.Request, sess *session) (connectorView, error) {
	var cv connectorView
	err := s.call(r, sess, http.MethodGet, "/api/v1"+connectorPath(r), nil, &cv)
	return cv, err
}

func (s *Server) snapshotsPage(r *http.Request, sess *session) (string, any, error) {
	cv, err := s.connectorName(r, sess)
	if err != nil {
		return "", nil, err
	}
	q := r.URL.Query()
	v := snapshotsView{ID: cv.ID, Name: cv.Config.Name, Scope: q.Get("scope"), Cursor: q.Get("cursor"), From: q.Get("from"), To: q.Get("to")}
	for _, sc := range cv.Config.Scopes.Enabled() {
		v.Scopes = append(v.Scopes, string(sc))
	}
	path := "/api/v1" + connectorPath(r) + "/snapshots" + queryString("scope", v.Scope, "cursor", v.Cursor, "limit", "20",
		"from", dayStart(v.From), "to", dayStart(v.To))
	if err := s.call(r, sess, http.MethodGet, path, nil, &v.List); err != nil {
		return "", nil, err
	}
	return "snapshots", v, nil
}

type countRow struct {
	Type  string
	Count int
}

type snapshotView struct {
	ID, Name string
	Snap     api.SnapshotView
	Counts   []countRow
	Type, Q  string
	Objects  api.ObjectList
	Cursor   string
	Types    []string
}

func (v snapshotView) PageTitle() string { return "Snapshot " + v.Snap.Scope }

func (s *Server) snapshotPage(r *http.Request, sess *session) (string, any, error) {
	cv, err := s.connectorName(r, sess)
	if err != nil {
		return "", nil, err
	}
	q := r.URL.Query()
	v := snapshotView{ID: cv.ID, Name: cv.Config.Name, Type: q.Get("type"), Q: q.Get("q"), Cursor: q.Get("cursor")}
	base := "/api/v1" + connectorPath(r) + "/snapshots/" + url.PathEscape(r.PathValue("sid"))
	if err := s.call(r, sess, http.MethodGet, base, nil, &v.Snap); err != nil {
		return "", nil, err
	}
	for t, n := range v.Snap.Counts {
		v.Counts = append(v.Counts, countRow{t, n})
		v.Types = append(v.Types, t)
	}
	sort.Slice(v.Counts, func(i, j int) bool { return v.Counts[i].Type < v.Counts[j].Type })
	sort.Strings(v.Types)
	path := base + "/objects" + queryString("type", v.Type, "q", v.Q, "cursor", v.Cursor, "limit", "25")
	if err := s.call(r, sess, http.MethodGet, path, nil, &v.Objects); err != nil {
		return "", nil, err
	}
	return "snapshot", v, nil
}

type objectView struct {
	ID, Name, OID, At, Type string
	JSON                    string
	History                 api.History
}

func (v objectView) PageTitle() string { return "Object " + v.OID }

func (s *Server) objectPage(r *http.Request, sess *session) (string, any, error) {
	cv, err := s.connectorName(r, sess)
	if err != nil {
		return "", nil, err
	}
	q := r.URL.Query()
	v := objectView{ID: cv.ID, Name: cv.Config.Name, OID: r.PathValue("oid"), At: q.Get("at"), Type: q.Get("type")}
	base := "/api/v1" + connectorPath(r) + "/objects/" + url.PathEscape(v.OID)
	var raw json.RawMessage
	if err := s.call(r, sess, http.MethodGet, base+queryString("at", v.At, "type", v.Type), nil, &raw); err != nil {
		return "", nil, err
	}
	v.JSON = prettyJSON(raw)
	if err := s.call(r, sess, http.MethodGet, base+"/history"+queryString("type", v.Type), nil, &v.History); err != nil {
		return "", nil, err
	}
	// Newest first reads like a timeline.
	for i, j := 0, len(v.History.Versions)-1; i < j; i, j = i+1, j-1 {
		v.History.Versions[i], v.History.Versions[j] = v.History.Versions[j], v.History.Versions[i]
	}
	return "object", v, nil
}

type compareView struct {
	ID, Name         string
	From, To, Cursor string
	Audits           string                  // the activity-log connector whose audits explain changes
	AuditSources     []api.ConnectorListItem // activity-log connectors of the same tenant
	Snapshots        []api.SnapshotView
	Diff             *api.Diff
	Counts           map[string]int
	Reading          string // a live read in progress: the page asks again
}

func (compareView) PageTitle() string { return "Compare" }

func (s *Server) comparePage(r *http.Request, sess *session) (string, any, error) {
	cv, err := s.connectorName(r, sess)
	if err != nil {
		return "", nil, err
	}
	q := r.URL.Query()
	v := compareView{ID: cv.ID, Name: cv.Config.Name, From: q.Get("from"), To: q.Get("to"), Cursor: q.Get("cursor"), Audits: q.Get("audits")}
	v.AuditSources = s.logConnectors(r, sess, cv.Config.Tenant)
	var list api.SnapshotList
	if err := s.call(r, sess, http.MethodGet, "/api/v1"+connectorPath(r)+"/snapshots?limit=100", nil, &list); err != nil {
		return "", nil, err
	}
	v.Snapshots = list.Snapshots
	if v.From == "" || v.To == "" {
		return "compare", v, nil
	}
	path := "/api/v1" + connectorPath(r) + "/diff" + queryString("from", v.From, "to", v.To, "cursor", v.Cursor, "read", q.Get("read"),
		"audits", v.Audits, "limit", "50")
	status, raw := s.do(r, sess.Token, http.MethodGet, path, nil)
	switch {
	case status >= 300:
		return "", nil, decodeAPIError(status, raw)
	case status == http.StatusAccepted:
		var reading struct {
			Read string `json:"read"`
		}
		_ = json.Unmarshal(raw, &reading)
		v.Reading = reading.Read
		return "compare", v, nil
	}
	v.Diff = &api.Diff{}
	if err := json.Unmarshal(raw, v.Diff); err != nil {
		return "", nil, err
	}
	v.Counts = map[string]int{}
	for _, ch := range v.Diff.Changes {
		v.Counts[ch.Kind]++
	}
	return "compare", v, nil
}

// logConnectors are the activity-log connectors of tenant the person may
// see: their directory audits explain a directory connector's changes.
func (s *Server) logConnectors(r *http.Request, sess *session, tenant string) []api.ConnectorListItem {
	var list struct {
		Connectors []api.ConnectorListItem `json:"connectors"`
	}
	if s.call(r, sess, http.MethodGet, "/api/v1/connectors"+queryString("tenant", tenant), nil, &list) != nil {
		return nil
	}
	var out []api.ConnectorListItem
	for _, c := range list.Connectors {
		if c.Kind == "activity_logs" {
			out = append(out, c)
		}
	}
	return out
}

// export streams the API's tar.gz to the browser as a download.
func (s *Server) export(w http.ResponseWriter, r *http.Request, sess *session) {
	sid := r.PathValue("sid")
	if !snapshotIDRE.MatchString(sid) {
		s.fail(w, r, sess, &apiError{Status: http.StatusNotFound})
		return
	}
	req, _ := http.NewRequestWithContext(r.Context(), http.MethodGet, "/api/v1"+connectorPath(r)+"/snapshots/"+url.PathEscape(r.PathValue("sid"))+"/export", nil)
	req.RemoteAddr = r.RemoteAddr
	req.Header.Set("Authorization", "Bearer "+sess.Token)
	w.Header().Set("Content-Disposition", `attachment; filename="entravault-`+sid[:12]+`.tar.gz"`)
	s.cfg.API.ServeHTTP(w, req)
}
