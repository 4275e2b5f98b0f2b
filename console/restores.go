package console

import (
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/connector"
	"github.com/entravault/entravault/internal/restore"
)

type restoresView struct {
	ID, Name string
	Restores []api.RestoreView
	Snapshot string // a "Restore this snapshot" or object start
	Object   string
	Types    []string
	// Targets are the active directory connectors of other tenants the
	// person may see: where else the backup can be restored.
	Targets []api.ConnectorListItem
}

func (restoresView) PageTitle() string { return "Restore" }

func (s *Server) restoresPage(r *http.Request, sess *session) (string, any, error) {
	cv, err := s.connectorName(r, sess)
	if err != nil {
		return "", nil, err
	}
	q := r.URL.Query()
	v := restoresView{ID: cv.ID, Name: cv.Config.Name, Snapshot: q.Get("snapshot"), Object: q.Get("object"), Types: restore.SelectableTypes}
	var list struct {
		Restores []api.RestoreView `json:"restores"`
	}
	if err := s.call(r, sess, http.MethodGet, "/api/v1"+connectorPath(r)+"/restores", nil, &list); err != nil {
		return "", nil, err
	}
	v.Restores = list.Restores
	v.Targets = s.restoreTargets(r, sess, cv)
	return "restores", v, nil
}

// restoreTargets lists the connectors a restore of cv may write into
// instead: active directory connectors of another tenant.
func (s *Server) restoreTargets(r *http.Request, sess *session, cv connectorView) []api.ConnectorListItem {
	var list struct {
		Connectors []api.ConnectorListItem `json:"connectors"`
	}
	if s.call(r, sess, http.MethodGet, "/api/v1/connectors?status=active", nil, &list) != nil {
		return nil
	}
	var out []api.ConnectorListItem
	for _, c := range list.Connectors {
		if c.ID != cv.ID && c.Kind == connector.KindDirectory && c.TenantID != "" && !strings.EqualFold(c.TenantID, cv.TenantID) {
			out = append(out, c)
		}
	}
	return out
}

// planRestore asks for a plan: from a snapshot, an object of it, or the
// newest snapshots at a time; nothing is written before Apply.
func (s *Server) planRestore(w http.ResponseWriter, r *http.Request, sess *session) (string, error) {
	req := api.CreateRestoreRequest{}
	if sid := r.PostFormValue("snapshot"); sid != "" {
		req.Snapshots = []string{sid}
	} else if at := r.PostFormValue("at"); at != "" {
		t, err := time.Parse("2006-01-02T15:04", at)
		if err != nil {
			return "", &apiError{Status: http.StatusBadRequest, Message: "The time must look like 2026-12-01T09:30."}
		}
		req.At = &t
	}
	if req.TargetConnector = r.PostFormValue("target"); req.TargetConnector != "" {
		m, err := domainMap(lines(r.PostForm["domain_map"]))
		if err != nil {
			return "", err
		}
		req.DomainMap = m
	}
	sel := restore.Selection{Types: r.PostForm["types"], IDs: lines(r.PostForm["ids"])}
	if len(sel.Types) > 0 || len(sel.IDs) > 0 {
		req.Select = &sel
	}
	var res struct {
		ID string `json:"id"`
	}
	if err := s.call(r, sess, http.MethodPost, "/api/v1"+connectorPath(r)+"/restores", req, &res); err != nil {
		return "", err
	}
	return connectorPath(r) + "/restores/" + url.PathEscape(res.ID), nil
}

// domainMap reads "contoso.com = fabrikam.com" lines.
func domainMap(ls []string) (restore.DomainMap, error) {
	if len(ls) == 0 {
		return nil, nil
	}
	m := restore.DomainMap{}
	for _, l := range ls {
		from, to, ok := strings.Cut(l, "=")
		if !ok {
			return nil, &apiError{Status: http.StatusBadRequest, Message: "Write each domain mapping as source.com = target.com."}
		}
		m[strings.TrimSpace(from)] = strings.TrimSpace(to)
	}
	return m, nil
}

type restoreView struct {
	ID, Name, RID string
	R             api.RestoreView
	Kinds         []countRow
	Outcomes      []countRow
	Actions       api.ActionPage
	Cursor        string
	Live          bool
}

func (restoreView) PageTitle() string { return "Restore plan" }

func (s *Server) restorePage(r *http.Request, sess *session) (string, any, error) {
	cv, err := s.connectorName(r, sess)
	if err != nil {
		return "", nil, err
	}
	v := restoreView{ID: cv.ID, Name: cv.Config.Name, RID: r.PathValue("rid"), Cursor: r.URL.Query().Get("cursor")}
	base := "/api/v1" + connectorPath(r) + "/restores/" + url.PathEscape(v.RID)
	if err := s.call(r, sess, http.MethodGet, base, nil, &v.R); err != nil {
		return "", nil, err
	}
	for k, n := range v.R.Planned.ByKind {
		v.Kinds = append(v.Kinds, countRow{string(k), n})
	}
	for k, n := range v.R.Applied.ByOutcome {
		v.Outcomes = append(v.Outcomes, countRow{string(k), n})
	}
	sort.Slice(v.Kinds, func(i, j int) bool { return v.Kinds[i].Type < v.Kinds[j].Type })
	sort.Slice(v.Outcomes, func(i, j int) bool { return v.Outcomes[i].Type < v.Outcomes[j].Type })
	st := string(v.R.Status)
	v.Live = st == "planning" || st == "applying"
	if st != "planning" {
		if err := s.call(r, sess, http.MethodGet, base+"/actions"+queryString("cursor", v.Cursor, "limit", "25"), nil, &v.Actions); err != nil {
			return "", nil, err
		}
	}
	return "restore", v, nil
}

func (s *Server) applyRestore(_ http.ResponseWriter, r *http.Request, sess *session) (string, error) {
	return s.restoreAction(r, sess, "apply")
}

func (s *Server) cancelRestore(_ http.ResponseWriter, r *http.Request, sess *session) (string, error) {
	return s.restoreAction(r, sess, "cancel")
}

func (s *Server) restoreAction(r *http.Request, sess *session, action string) (string, error) {
	page := connectorPath(r) + "/restores/" + url.PathEscape(r.PathValue("rid"))
	if err := s.call(r, sess, http.MethodPost, "/api/v1"+page+"/"+action, nil, nil); err != nil {
		return "", err
	}
	return page, nil
}
