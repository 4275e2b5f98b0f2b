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
	if len(seen) != 250 || pages != 3 {
		t.Fatalf("got %d users in %d pages, want 250 in 3", len(seen), pages)
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
