package tenantsim

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// token gets an app-only token with a client secret straight from the
// token endpoint.
func token(t *testing.T, s *Simulator, app AppCredentials) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {app.ClientID},
		"client_secret": {app.ClientSecret}, "scope": {"https://graph.microsoft.com/.default"}}
	resp, err := s.HTTPClient().PostForm(s.AuthorityHost()+s.Credentials().TenantID+"/oauth2/v2.0/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		t.Fatalf("token: status %d err %v", resp.StatusCode, err)
	}
	return body.AccessToken
}

func get(t *testing.T, tok, u string, out any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %v: %.200s", u, err, b)
		}
	}
	return resp.StatusCode
}

type page struct {
	Value    []map[string]any `json:"value"`
	Next     string           `json:"@odata.nextLink"`
	Delta    string           `json:"@odata.deltaLink"`
	Count    *int             `json:"@odata.count"`
	ErrorObj *struct {
		Code string `json:"code"`
	} `json:"error"`
}

func TestRawPagingAndErrors(t *testing.T) {
	s := NewTest(t, Options{Seed: 7, Users: 250, Premium: true})
	tok := token(t, s, s.Credentials().BackupApp)
	seen := map[string]bool{}
	u := s.GraphURL() + "/users?$top=100"
	pages := 0
	for u != "" {
		var p page
		if st := get(t, tok, u, &p); st != 200 {
			t.Fatalf("status %d for %s", st, u)
		}
		for _, v := range p.Value {
			seen[v["id"].(string)] = true
		}
		if p.Next != "" && !strings.HasPrefix(p.Next, s.GraphURL()) {
			t.Fatalf("nextLink %q not absolute to the simulator", p.Next)
		}
		u = p.Next
		pages++
	}
	if want := 250 - 2; len(seen) != want || pages != 3 { // two users wait in the recycle bin
		t.Fatalf("got %d users in %d pages, want %d in 3", len(seen), pages, want)
	}
	cases := []struct {
		name, path, tok, code string
		status                int
	}{
		{"no token", "/users", "", "InvalidAuthenticationToken", 401},
		{"bad token", "/users", "x.y.z", "InvalidAuthenticationToken", 401},
		{"no role", "/users", token(t, s, s.Credentials().NoRolesApp), "Authorization_RequestDenied", 403},
		{"unknown id", "/users/00000000-0000-4000-8000-000000000000", tok, "Request_ResourceNotFound", 404},
		{"top too big", "/users?$top=1000", tok, "Request_UnsupportedQuery", 400},
		{"bad filter", "/users?$filter=id%20eq", tok, "BadRequest", 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p page
			st := get(t, c.tok, s.GraphURL()+c.path, &p)
			if st != c.status || p.ErrorObj == nil || p.ErrorObj.Code != c.code {
				t.Fatalf("status %d error %+v, want %d %s", st, p.ErrorObj, c.status, c.code)
			}
		})
	}
}

func post(t *testing.T, u, body string) int {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(body))
	if body != "" {
		req.Method = "PUT"
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestControlAPIAndDeltaOfEveryKind(t *testing.T) {
	s := NewTest(t, Options{Seed: 21, Users: 400, Applications: 20, AdministrativeUnits: 10, Premium: true,
		Throttle: ThrottleConfig{Disabled: true}})
	tok := token(t, s, s.Credentials().BackupApp)
	sim := strings.TrimSuffix(s.GraphURL(), "/v1.0") + "/_sim"
	round := func(link string) (items []map[string]any, delta string) {
		for link != "" {
			var p page
			if st := get(t, tok, link, &p); st != 200 {
				t.Fatalf("%s: %d %+v", link, st, p.ErrorObj)
			}
			items = append(items, p.Value...)
			link, delta = p.Next, p.Delta
		}
		return items, delta
	}
	kinds := []string{"/users/delta()", "/groups/delta", "/directory/administrativeUnits/delta()", "/applications/delta()", "/servicePrincipals/delta"}
	links := map[string]string{}
	for _, k := range kinds {
		items, d := round(s.GraphURL() + k)
		if len(items) == 0 || d == "" {
			t.Fatalf("%s: %d items, deltaLink %q", k, len(items), d)
		}
		links[k] = d
	}
	if st := post(t, sim+"/churn?percent=20", ""); st != 200 {
		t.Fatalf("churn: %d", st)
	}
	for _, k := range kinds {
		items, _ := round(links[k])
		if len(items) == 0 {
			t.Fatalf("%s: no changes after churn", k)
		}
	}

	// Logs appended now are the newest sign-ins.
	var before page
	get(t, tok, s.GraphURL()+"/auditLogs/signIns?$top=1", &before)
	if st := post(t, sim+"/logs?count=3", ""); st != 200 {
		t.Fatalf("logs: %d", st)
	}
	var after page
	get(t, tok, s.GraphURL()+"/auditLogs/signIns?$top=1", &after)
	if after.Value[0]["id"] == before.Value[0]["id"] {
		t.Fatal("appended sign-in is not the newest")
	}

	// Expiring delta tokens turns the next round into syncStateNotFound.
	if st := post(t, sim+"/delta/expire", ""); st != 204 {
		t.Fatalf("expire: %d", st)
	}
	var p page
	if st := get(t, tok, links["/users/delta()"], &p); st != 400 || p.ErrorObj.Code != "syncStateNotFound" {
		t.Fatalf("after expire: %d %+v", st, p.ErrorObj)
	}

	// Faults: invalid JSON bodies and counters.
	if st := post(t, sim+"/faults", `{"InvalidJSONRate":1}`); st != 200 {
		t.Fatalf("faults: %d", st)
	}
	req, _ := http.NewRequest("GET", s.GraphURL()+"/organization", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if json.Valid(b) {
		t.Fatal("invalid-JSON fault sent valid JSON")
	}
	post(t, sim+"/faults", `{}`)
	var counters struct {
		Total  struct{ Requests int } `json:"total"`
		Routes map[string]struct {
			Requests int `json:"requests"`
		} `json:"routes"`
	}
	get(t, "", sim+"/counters", &counters)
	if counters.Routes["GET users/delta"].Requests == 0 || counters.Total.Requests < 10 {
		t.Fatalf("counters %+v", counters)
	}
}

func TestCredentialsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	a := NewTest(t, Options{Seed: 4, Users: 30, DataDir: dir})
	first := a.Credentials()
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := NewTest(t, Options{Seed: 4, Users: 30, DataDir: dir})
	second := b.Credentials()
	if first.BackupApp.ClientSecret != second.BackupApp.ClientSecret || first.Admins[0].Password != second.Admins[0].Password ||
		first.TenantID != second.TenantID {
		t.Fatal("credentials changed across a restart with the same data folder")
	}
	var served Credentials
	get(t, "", strings.TrimSuffix(b.GraphURL(), "/v1.0")+"/_sim/credentials", &served)
	if served.BackupApp.ClientID != second.BackupApp.ClientID || served.GraphURL != b.GraphURL() {
		t.Fatalf("served credentials %+v", served)
	}
	token(t, b, second.BackupApp) // the reused secret still signs in
}

func TestStateFileSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	opts := Options{Seed: 6, Users: 80, DataDir: dir, StateFile: dir + "/state.json", Throttle: ThrottleConfig{Disabled: true}}
	a := NewTest(t, opts)
	tok := token(t, a, a.Credentials().BackupApp)
	_, link := func() ([]map[string]any, string) {
		var p page
		get(t, tok, a.GraphURL()+"/users/delta", &p)
		for p.Next != "" {
			next := p.Next
			p = page{}
			get(t, tok, next, &p)
		}
		return p.Value, p.Delta
	}()
	a.Churn(20)
	stateA := stateDump(t, a)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	b := NewTest(t, opts)
	if stateDump(t, b) != stateA {
		t.Fatal("tenant state differs after restart with a state file")
	}
	// The delta link from before the restart still works and shows the churn.
	tok = token(t, b, b.Credentials().BackupApp)
	link = strings.Replace(link, strings.TrimSuffix(a.GraphURL(), "/v1.0"), strings.TrimSuffix(b.GraphURL(), "/v1.0"), 1)
	var p page
	if st := get(t, tok, link, &p); st != 200 || len(p.Value) == 0 {
		t.Fatalf("delta after restart: %d, %d items", st, len(p.Value))
	}
}

func stateDump(t *testing.T, s *Simulator) string {
	t.Helper()
	resp, err := http.Get(strings.TrimSuffix(s.GraphURL(), "/v1.0") + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
