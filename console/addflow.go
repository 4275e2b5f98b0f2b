package console

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/connector"
)

// The seed's order: Add connector (kind) → Sign in (requirements, the
// tenant) → the tenant's sign-in and consent page → back here to
// configure → Create. The API's sign-in-first session (POST
// /api/v1/consent/sign-in) makes the order possible: the connector is
// created only at Create, already consented.

type addView struct {
	Kind string
}

func (addView) PageTitle() string { return "Add connector" }

func (s *Server) addConnectorPage(r *http.Request, sess *session) (string, any, error) {
	kind := r.URL.Query().Get("kind")
	if kind != string(connector.KindDirectory) && kind != string(connector.KindActivityLogs) {
		kind = ""
	}
	return "add", addView{Kind: kind}, nil
}

// startConsent asks the API for a sign-in link and sends the browser to
// the tenant's sign-in page; the API's callback returns it to configure.
func (s *Server) startConsent(_ http.ResponseWriter, r *http.Request, sess *session) (string, error) {
	kind := r.PostFormValue("kind")
	req := api.SignInRequest{Tenant: strings.TrimSpace(r.PostFormValue("tenant")), Kind: connector.Kind(kind),
		ReturnTo: "/connectors/new/configure?kind=" + urlEscape(kind)}
	var res api.SignInResponse
	if err := s.call(r, sess, http.MethodPost, "/api/v1/consent/sign-in", req, &res); err != nil {
		return "", err
	}
	return res.ConsentURL, nil
}

// grantInfo is what a consent grant says, read for display only: the API
// checks the grant's signature when the connector is created.
type grantInfo struct {
	Tenant   string `json:"t"`
	TenantID string `json:"tid"`
	AdminUPN string `json:"upn"`
	Kind     string `json:"k"`
}

func readGrant(grant string) (grantInfo, bool) {
	var g grantInfo
	payload, _, ok := strings.Cut(grant, ".")
	b, err := base64.RawURLEncoding.DecodeString(payload)
	return g, ok && err == nil && json.Unmarshal(b, &g) == nil && g.Tenant != ""
}

// settingsView is the configure and edit form.
type settingsView struct {
	ID, Kind, Tenant, AdminUPN, Grant string
	Form                              url.Values
	Error, SignInError                string
	Editing                           bool
	// Picks are search results from the newest backup (edit only): groups
	// for the "gq" search, administrative units for "uq".
	Groups, Units         []api.ObjectSummary
	GroupQuery, UnitQuery string
}

func (v settingsView) PageTitle() string {
	if v.Editing {
		return "Edit connector"
	}
	return "Configure connector"
}

// Has reports a ticked box or chosen option.
func (v settingsView) Has(field, value string) bool {
	for _, got := range v.Form[field] {
		if got == value {
			return true
		}
	}
	return false
}

func (v settingsView) IsLogs() bool { return v.Kind == string(connector.KindActivityLogs) }

func (s *Server) configurePage(r *http.Request, sess *session) (string, any, error) {
	q := r.URL.Query()
	v := settingsView{Kind: q.Get("kind"), Grant: q.Get("grant"), SignInError: q.Get("error")}
	if v.Kind != string(connector.KindActivityLogs) {
		v.Kind = string(connector.KindDirectory)
	}
	if g, ok := readGrant(v.Grant); ok {
		v.Tenant, v.AdminUPN = g.Tenant, g.AdminUPN
	} else if v.SignInError == "" {
		v.SignInError = "The sign-in did not complete. Start again from Add connector."
	}
	v.Form = defaultForm(v.Kind, v.Tenant)
	if v.GroupQuery = q.Get("gq"); v.GroupQuery != "" && v.Grant != "" {
		v.Groups = s.searchTenant(r, sess, v.Grant, "group", v.GroupQuery)
	}
	if v.UnitQuery = q.Get("uq"); v.UnitQuery != "" && v.Grant != "" {
		v.Units = s.searchTenant(r, sess, v.Grant, "administrativeUnit", v.UnitQuery)
	}
	return "settings", v, nil
}

// searchTenant finds groups or units by name in the tenant just consented
// (before Create there is no backup to search): the API reads them live
// on a worker.
func (s *Server) searchTenant(r *http.Request, sess *session, grant, typ, q string) []api.ObjectSummary {
	var res api.DirectorySearchResponse
	body := api.DirectorySearchRequest{ConsentGrant: grant, Type: typ, Query: q}
	if s.call(r, sess, http.MethodPost, "/api/v1/consent/directory-search", body, &res) != nil {
		return nil
	}
	out := make([]api.ObjectSummary, 0, len(res.Results))
	for _, o := range res.Results {
		out = append(out, api.ObjectSummary{ID: o.ID, DisplayName: o.DisplayName})
	}
	return out
}

func defaultForm(kind, tenant string) url.Values {
	if kind == string(connector.KindActivityLogs) {
		return url.Values{"name": {tenant + " activity logs"}, "sign_ins": {"on"}, "directory_audits": {"on"}, "log_span_n": {"7"},
			"log_span_unit": {"d"}, "interval": {"6h"}, "retention_days": {"30"}}
	}
	return url.Values{"name": {tenant}, "users": {"on"}, "groups_mode": {"all"}, "groups_members": {"on"}, "aus_mode": {"all"},
		"roles": {"on"}, "applications": {"on"}, "pol_ca": {"on"}, "pol_nl": {"on"}, "pol_am": {"on"}, "pol_az": {"on"},
		"interval": {"24h"}, "retention_days": {"30"}}
}

// createConnector creates the connector with the grant; a refusal shows
// the form again with what was typed and the API's reason.
func (s *Server) createConnector(w http.ResponseWriter, r *http.Request, sess *session) (string, error) {
	v := settingsView{Kind: r.PostFormValue("kind"), Grant: r.PostFormValue("grant"), Form: r.PostForm}
	g, _ := readGrant(v.Grant)
	v.Tenant, v.AdminUPN = g.Tenant, g.AdminUPN
	body := formBody(r.PostForm, v.Kind)
	body["name"], body["tenant"], body["kind"], body["consent_grant"] = r.PostFormValue("name"), g.Tenant, v.Kind, v.Grant
	var res api.CreateConnectorResponse
	if err := s.call(r, sess, http.MethodPost, "/api/v1/connectors", body, &res); err != nil {
		return s.formAgain(w, r, sess, v, err)
	}
	return "/connectors/" + res.ID + "?created=1", nil
}

// formAgain shows the settings form with the API's refusal; other errors
// go to the error page.
func (s *Server) formAgain(w http.ResponseWriter, r *http.Request, sess *session, v settingsView, err error) (string, error) {
	var ae *apiError
	if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
		return "", err
	}
	v.Error = ae.Message
	s.render(w, r, http.StatusBadRequest, "settings", sess, v)
	return "", nil
}

// formBody is the JSON of the settings a form sets (not name, tenant or
// kind).
func formBody(f url.Values, kind string) map[string]any {
	on := func(k string) bool { return f.Get(k) == "on" }
	sc := connector.Scopes{}
	if kind == string(connector.KindActivityLogs) {
		sc.SignIns, sc.DirectoryAudits = on("sign_ins"), on("directory_audits")
	} else {
		sc.Users, sc.Roles, sc.Applications = on("users"), on("roles"), on("applications")
		if m := f.Get("groups_mode"); m != "off" && m != "" {
			sc.Groups = &connector.GroupScope{All: m == "all", Members: on("groups_members")}
			if m == "some" {
				sc.Groups.Include = lines(f["groups_include"])
			}
		}
		if m := f.Get("aus_mode"); m != "off" && m != "" {
			sc.AdministrativeUnits = &connector.AdminUnitScope{All: m == "all"}
			if m == "some" {
				sc.AdministrativeUnits.Include = lines(f["aus_include"])
			}
		}
		if p := (connector.PolicyScope{ConditionalAccess: on("pol_ca"), NamedLocations: on("pol_nl"), AuthenticationMethods: on("pol_am"), Authorization: on("pol_az")}); p != (connector.PolicyScope{}) {
			sc.Policies = &p
		}
	}
	days, _ := strconv.Atoi(f.Get("retention_days"))
	body := map[string]any{
		"scopes":    sc,
		"schedule":  connector.Schedule{Interval: f.Get("interval")},
		"retention": connector.Retention{Days: days},
		"access":    lines(f["access"]),
	}
	if kind == string(connector.KindActivityLogs) {
		body["initial_log_span"] = f.Get("log_span_n") + f.Get("log_span_unit")
	}
	return body
}

// lines splits text areas (one entry a line or comma) and checkbox lists.
func lines(vals []string) []string {
	out := []string{}
	for _, v := range vals {
		for _, l := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == ',' || r == '\r' }) {
			if l = strings.TrimSpace(l); l != "" {
				out = append(out, l)
			}
		}
	}
	return out
}

// configForm is the form of an existing connector's settings.
func configForm(c connector.Config) url.Values {
	f := url.Values{"name": {c.Name}, "interval": {c.Schedule.Interval}, "retention_days": {strconv.Itoa(c.Retention.Days)},
		"access": {strings.Join(c.Access, "\n")}}
	set := func(k string, b bool) {
		if b {
			f.Set(k, "on")
		}
	}
	sc := c.Scopes
	set("users", sc.Users)
	set("roles", sc.Roles)
	set("applications", sc.Applications)
	set("sign_ins", sc.SignIns)
	set("directory_audits", sc.DirectoryAudits)
	f.Set("groups_mode", "off")
	if g := sc.Groups; g != nil {
		f.Set("groups_mode", map[bool]string{true: "all", false: "some"}[g.All])
		f.Set("groups_include", strings.Join(g.Include, "\n"))
		set("groups_members", g.Members)
	}
	f.Set("aus_mode", "off")
	if a := sc.AdministrativeUnits; a != nil {
		f.Set("aus_mode", map[bool]string{true: "all", false: "some"}[a.All])
		f.Set("aus_include", strings.Join(a.Include, "\n"))
	}
	if p := sc.Policies; p != nil {
		set("pol_ca", p.ConditionalAccess)
		set("pol_nl", p.NamedLocations)
		set("pol_am", p.AuthenticationMethods)
		set("pol_az", p.Authorization)
	}
	if n := strings.TrimRight(c.InitialLogSpan, "hd"); n != "" {
		f.Set("log_span_n", n)
		f.Set("log_span_unit", c.InitialLogSpan[len(n):])
	}
	return f
}

func (s *Server) editPage(r *http.Request, sess *session) (string, any, error) {
	var cv connectorView
	if err := s.call(r, sess, http.MethodGet, "/api/v1"+connectorPath(r), nil, &cv); err != nil {
		return "", nil, err
	}
	v := settingsView{ID: cv.ID, Kind: string(cv.Config.Kind), Tenant: cv.Config.Tenant, Editing: true, Form: configForm(cv.Config)}
	if v.GroupQuery = r.URL.Query().Get("gq"); v.GroupQuery != "" {
		v.Groups = s.findObjects(r, sess, connector.ScopeGroups, "group", v.GroupQuery)
	}
	if v.UnitQuery = r.URL.Query().Get("uq"); v.UnitQuery != "" {
		v.Units = s.findObjects(r, sess, connector.ScopeAdministrativeUnits, "administrativeUnit", v.UnitQuery)
	}
	return "settings", v, nil
}

// findObjects searches the newest snapshot of scope for objects of typ,
// so an operator can pick groups or units by name from what the tenant
// holds.
func (s *Server) findObjects(r *http.Request, sess *session, scope connector.Scope, typ, q string) []api.ObjectSummary {
	var snaps api.SnapshotList
	if s.call(r, sess, http.MethodGet, "/api/v1"+connectorPath(r)+"/snapshots"+queryString("scope", string(scope), "limit", "1"), nil, &snaps) != nil ||
		len(snaps.Snapshots) == 0 {
		return nil
	}
	var objs api.ObjectList
	path := "/api/v1" + connectorPath(r) + "/snapshots/" + url.PathEscape(snaps.Snapshots[0].ID) + "/objects" + queryString("type", typ, "q", q, "limit", "50")
	if s.call(r, sess, http.MethodGet, path, nil, &objs) != nil {
		return nil
	}
	return objs.Objects
}

func (s *Server) saveEdit(w http.ResponseWriter, r *http.Request, sess *session) (string, error) {
	kind := r.PostFormValue("kind")
	body := formBody(r.PostForm, kind)
	body["name"] = r.PostFormValue("name")
	if kind == string(connector.KindActivityLogs) {
		delete(body, "initial_log_span") // only the first backup reads it
	}
	var cv connectorView
	if err := s.call(r, sess, http.MethodGet, "/api/v1"+connectorPath(r), nil, &cv); err != nil {
		return "", err
	}
	keepUnshown(body, cv.Config)
	if err := s.call(r, sess, http.MethodPatch, "/api/v1"+connectorPath(r), body, nil); err != nil {
		v := settingsView{ID: r.PathValue("id"), Kind: kind, Tenant: r.PostFormValue("tenant"), Editing: true, Form: r.PostForm}
		return s.formAgain(w, r, sess, v, err)
	}
	return connectorPath(r) + "?notice=" + urlEscape("Settings saved."), nil
}

// keepUnshown keeps what the form does not show: the schedule's full
// resync and the retention rules other than days (set through the API),
// so saving the form never drops them. Retention is sent only when its
// days changed: an operator may not shorten it, and should not be refused
// for a field left alone.
func keepUnshown(body map[string]any, cur connector.Config) {
	sched := cur.Schedule
	sched.Interval = body["schedule"].(connector.Schedule).Interval
	body["schedule"] = sched
	ret := cur.Retention
	if days := body["retention"].(connector.Retention).Days; days != ret.Days {
		ret.Days = days
		body["retention"] = ret
	} else {
		delete(body, "retention")
	}
}
