package console

import (
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/connector"
)

const pageSize = 20

// pager slices a list the API answers whole into pages of pageSize.
type pager struct {
	Page, Pages, Total int
	Keep               template.URL // the list's other parameters, "&status=active" (built by queryString, escaped)
}

func newPager(r *http.Request, total int) (p pager, from, to int) {
	p.Total, p.Pages = total, max(1, (total+pageSize-1)/pageSize)
	p.Page, _ = strconv.Atoi(r.URL.Query().Get("page"))
	p.Page = min(max(p.Page, 1), p.Pages)
	from = (p.Page - 1) * pageSize
	return p, from, min(from+pageSize, total)
}

// Prev and Next are page numbers, 0 when there is none.
func (p pager) Prev() int {
	if p.Page > 1 {
		return p.Page - 1
	}
	return 0
}

func (p pager) Next() int {
	if p.Page < p.Pages {
		return p.Page + 1
	}
	return 0
}

type connectorRow struct {
	api.ConnectorListItem
	LastBackup, NextBackup time.Time
}

type connectorsView struct {
	Rows   []connectorRow
	Pager  pager
	Status string
}

func (connectorsView) PageTitle() string { return "Connectors" }

func (s *Server) connectorsPage(r *http.Request, sess *session) (string, any, error) {
	var list struct {
		Connectors []api.ConnectorListItem `json:"connectors"`
	}
	status := r.URL.Query().Get("status")
	if err := s.call(r, sess, http.MethodGet, "/api/v1/connectors"+queryString("status", status), nil, &list); err != nil {
		return "", nil, err
	}
	p, from, to := newPager(r, len(list.Connectors))
	p.Keep = template.URL(strings.Replace(queryString("status", status), "?", "&", 1))
	v := connectorsView{Pager: p, Status: status}
	for _, it := range list.Connectors[from:to] {
		row := connectorRow{ConnectorListItem: it}
		var cv connectorView
		if s.call(r, sess, http.MethodGet, "/api/v1/connectors/"+it.ID, nil, &cv) == nil {
			// The list comes from search attributes, which lag a moment
			// behind the connector itself.
			row.Status = cv.Status
			row.LastBackup, row.NextBackup = cv.lastAndNext()
		}
		v.Rows = append(v.Rows, row)
	}
	return "connectors", v, nil
}

// verifyReport is the verification report as the API shows it.
type verifyReport struct {
	OK     bool `json:"ok"`
	Checks []struct {
		Name   string `json:"name"`
		OK     bool   `json:"ok"`
		Detail string `json:"detail"`
	} `json:"checks"`
	MissingPermissions []string  `json:"missing_permissions"`
	CheckedAt          time.Time `json:"checked_at"`
	Restore            []struct {
		Type  string `json:"type"`
		Ready bool   `json:"ready"`
	} `json:"restore"`
}

type connectorView struct {
	api.ConnectorView
	Report *verifyReport `json:"verification,omitempty"`
}

// lastAndNext is the newest backup end and the soonest next run over the
// connector's scopes.
func (cv connectorView) lastAndNext() (last, next time.Time) {
	for _, st := range cv.Scopes {
		if st == nil {
			continue
		}
		if st.LastEnd.After(last) {
			last = st.LastEnd
		}
		if !st.NextRun.IsZero() && (next.IsZero() || st.NextRun.Before(next)) {
			next = st.NextRun
		}
	}
	return last, next
}

type scopeRow struct {
	Scope            connector.Scope
	LastStart        time.Time
	LastStatus       string
	NextRun          time.Time
	LastSnapshot     string
	Running          *api.RunView
	ProgressObjects  int
	ProgressPages    int
	ProgressThrottle int
	ProgressWaitedMs int64
}

type connectorPageView struct {
	C          connectorView
	Scopes     []scopeRow
	Runs       []api.RunView
	RunsPager  pager
	Live       bool // something is running: the page refreshes itself
	TemporalUI string
	Created    bool
}

func (v connectorPageView) PageTitle() string { return v.C.Config.Name }

func (s *Server) connectorPage(r *http.Request, sess *session) (string, any, error) {
	id := r.PathValue("id")
	var v connectorPageView
	if err := s.call(r, sess, http.MethodGet, "/api/v1/connectors/"+url.PathEscape(id), nil, &v.C); err != nil {
		return "", nil, err
	}
	var runs struct {
		Runs []api.RunView `json:"runs"`
	}
	if err := s.call(r, sess, http.MethodGet, "/api/v1/connectors/"+url.PathEscape(id)+"/runs", nil, &runs); err != nil {
		return "", nil, err
	}
	p, from, to := newPager(r, len(runs.Runs))
	v.Runs, v.RunsPager = runs.Runs[from:to], p
	v.Scopes = scopeRows(v.C, runs.Runs)
	v.Live = v.C.Status == connector.StatusVerifying || v.C.Status == connector.StatusAwaitingConsent
	for _, sc := range v.Scopes {
		v.Live = v.Live || sc.Running != nil
	}
	v.TemporalUI = s.temporalUI(id)
	v.Created = r.URL.Query().Get("created") != ""
	return "connector", v, nil
}

func scopeRows(cv connectorView, runs []api.RunView) []scopeRow {
	var rows []scopeRow
	for _, sc := range cv.Config.Scopes.Enabled() {
		row := scopeRow{Scope: sc}
		if st := cv.Scopes[sc]; st != nil {
			row.LastStart, row.LastStatus, row.NextRun, row.LastSnapshot = st.LastStart, st.LastStatus, st.NextRun, st.LastSnapshot
		}
		for i := range runs {
			if runs[i].Scope == sc && runs[i].Status == "running" {
				row.Running = &runs[i]
				if pr := runs[i].Progress; pr != nil {
					row.ProgressObjects, row.ProgressPages, row.ProgressThrottle, row.ProgressWaitedMs = pr.Objects, pr.Pages, pr.Throttled, pr.WaitedMs
				}
				break
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// temporalUI links to the connector's workflows in the Temporal web UI;
// a run's link is the same list narrowed to its workflow.
func (s *Server) temporalUI(connectorID string) string {
	if s.cfg.TemporalUIURL == "" {
		return ""
	}
	ns := s.cfg.Namespace
	if ns == "" {
		ns = "default"
	}
	return strings.TrimSuffix(s.cfg.TemporalUIURL, "/") + "/namespaces/" + url.PathEscape(ns) + "/workflows?query=" +
		url.QueryEscape("ConnectorId = '"+connectorID+"'")
}

// RunLink is the Temporal UI list filtered by the connector and the run's
// workflow id.
func (v connectorPageView) RunLink(workflowID string) string {
	if v.TemporalUI == "" {
		return ""
	}
	return v.TemporalUI + url.QueryEscape(" AND WorkflowId = '"+workflowID+"'")
}

// --- the connector's buttons ---

func connectorPath(r *http.Request) string { return "/connectors/" + url.PathEscape(r.PathValue("id")) }

func (s *Server) runNow(_ http.ResponseWriter, r *http.Request, sess *session) (string, error) {
	body := map[string]string{}
	if sc := r.PostFormValue("scope"); sc != "" {
		body["scope"] = sc
	}
	if err := s.call(r, sess, http.MethodPost, "/api/v1"+connectorPath(r)+"/backups", body, nil); err != nil {
		return "", err
	}
	return connectorPath(r) + "?notice=" + urlEscape("Backup started."), nil
}

func (s *Server) verifyAgain(_ http.ResponseWriter, r *http.Request, sess *session) (string, error) {
	if err := s.call(r, sess, http.MethodPost, "/api/v1"+connectorPath(r)+"/verify", nil, nil); err != nil {
		return "", err
	}
	return connectorPath(r) + "?notice=" + urlEscape("Verification started."), nil
}

// renewConsent sends the browser to the tenant's sign-in page.
func (s *Server) renewConsent(_ http.ResponseWriter, r *http.Request, sess *session) (string, error) {
	var res api.CreateConnectorResponse
	if err := s.call(r, sess, http.MethodPost, "/api/v1"+connectorPath(r)+"/consent", nil, &res); err != nil {
		return "", err
	}
	return res.ConsentURL, nil
}

// restoreConsent sends the browser to the tenant's admin-consent page
// for the restore application's write permissions.
func (s *Server) restoreConsent(_ http.ResponseWriter, r *http.Request, sess *session) (string, error) {
	var res api.RestoreConsentResponse
	if err := s.call(r, sess, http.MethodPost, "/api/v1"+connectorPath(r)+"/restore-consent", nil, &res); err != nil {
		return "", err
	}
	return res.ConsentURL, nil
}

func (s *Server) deleteConnector(_ http.ResponseWriter, r *http.Request, sess *session) (string, error) {
	path := "/api/v1" + connectorPath(r)
	if r.PostFormValue("purge") == "on" {
		path += "?purge=true"
	}
	var res struct {
		PurgeAt *time.Time `json:"purge_at"`
	}
	if err := s.call(r, sess, http.MethodDelete, path, nil, &res); err != nil {
		return "", err
	}
	msg := "Connector deleted. Its snapshots stay under retention."
	if res.PurgeAt != nil {
		msg = "Connector deleted. Its snapshots will be removed at " + when(*res.PurgeAt) + " unless an administrator cancels the purge."
	}
	return "/connectors?notice=" + urlEscape(msg), nil
}

var wrapperRE = regexp.MustCompile(`\((type|retryable|workflowType|workflowID|runID|activityType|activityID|scheduledEventID|startedEventID|initiatedEventID|identity): [^)]*\)|activity error|child workflow execution error|workflow execution error`)

// plainError turns a run's error chain into its last, human part, with
// what to do for the causes an operator can fix.
func plainError(raw string) string {
	if raw == "" {
		return ""
	}
	s := strings.TrimSpace(wrapperRE.ReplaceAllString(raw, ""))
	s = strings.Trim(strings.ReplaceAll(s, ": :", ":"), ": ")
	low := strings.ToLower(raw)
	switch {
	case strings.Contains(low, "restore") && (strings.Contains(low, "authorization_requestdenied") || strings.Contains(low, "restore permissions")):
		return "The tenant has not granted the restore application's write permissions: on the connector, choose Grant restore permissions. (" + s + ")"
	case strings.Contains(low, "consent") || strings.Contains(low, "authorization_requestdenied") || strings.Contains(low, "403"):
		return "The tenant no longer grants the permissions this backup needs: renew consent. (" + s + ")"
	case strings.Contains(low, "throttl") || strings.Contains(low, "429"):
		return "Microsoft Graph kept throttling the requests; the next run continues. (" + s + ")"
	case strings.Contains(low, "timeout") || strings.Contains(low, "deadline"):
		return "The run took too long and was stopped; the next run resumes. (" + s + ")"
	}
	return s
}
