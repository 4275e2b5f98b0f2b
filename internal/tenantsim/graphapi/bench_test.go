package graphapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/entravault/entravault/internal/tenantsim/model"
)

func allRoles(string) (Caller, error) {
	return Caller{AppID: "bench", TenantID: "t", Roles: []string{"Directory.Read.All", "AuditLog.Read.All"}}, nil
}

// BenchmarkUsersPages serves /users?$top=999 pages of a 100k-user tenant,
// following nextLinks; pages/s is the figure in docs/benchmarks.md.
func BenchmarkUsersPages(b *testing.B) {
	tn := model.Generate(1, model.Sizes{Users: 100_000, LogsPerDay: 10}, true, time.Now)
	s := New(Config{Tenant: tn, Verify: allRoles, Throttle: ThrottleConfig{Disabled: true}})
	url := "http://sim/v1.0/users?$top=999"
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		req := httptest.NewRequest("GET", url, nil)
		req.Header.Set("Authorization", "Bearer x")
		w := httptest.NewRecorder()
		s.ServeHTTP(w, req)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d", w.Code)
		}
		url = nextLink(w.Body.String()) // a full decode would dominate the measurement
		if url == "" {
			url = "http://sim/v1.0/users?$top=999"
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "pages/s")
}

func nextLink(body string) string {
	const key = `"@odata.nextLink":"`
	i := strings.Index(body, key)
	if i < 0 {
		return ""
	}
	rest := body[i+len(key):]
	var s string
	_ = json.Unmarshal([]byte(`"`+rest[:strings.IndexByte(rest, '"')]+`"`), &s)
	return s
}

func TestFilterParsing(t *testing.T) {
	obj := map[string]any{"id": "a", "displayName": "Adele Vance", "createdDateTime": "2024-03-01T10:00:00.1234567Z",
		"status": map[string]any{"errorCode": 0}}
	cases := []struct {
		name, filter string
		want, bad    bool
	}{
		{"eq string case-insensitive", "displayName eq 'adele vance'", true, false},
		{"time range", "createdDateTime ge 2024-01-01T00:00:00Z and createdDateTime le 2024-12-31T00:00:00Z", true, false},
		{"time outside", "createdDateTime ge 2025-01-01T00:00:00Z", false, false},
		{"in", "id in ('b','a')", true, false},
		{"startswith", "startswith(displayName,'Ad')", true, false},
		{"nested", "status/errorCode eq 0", true, false},
		{"or", "id eq 'x' or id eq 'a'", true, false},
		{"missing value", "id eq", false, true},
		{"unterminated", "id eq 'a", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := parseFilter(c.filter)
			if (err != nil) != c.bad {
				t.Fatalf("err %v", err)
			}
			if err == nil && e.eval(obj) != c.want {
				t.Fatalf("eval = %v", !c.want)
			}
		})
	}
}

func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	tn := model.Generate(4, model.Sizes{Users: 50}, true, time.Now)
	cases := map[string]any{
		"user":    tn.Render(model.MakeRef(model.KindUser, 7)),
		"group":   tn.Render(model.MakeRef(model.KindGroup, 1)),
		"policy":  tn.Render(model.MakeRef(model.KindCAPolicy, 2)),
		"sign-in": tn.RenderSignIn(3),
		"escapes": map[string]any{"s": "quote\" tab\t nl\n ctl\x01 é ☃", "f": 1.5, "n": nil, "l": []string{"a"}},
		"org":     tn.RenderOrganization(),
		"skus":    tn.RenderSubscribedSkus(),
	}
	for name, v := range cases {
		t.Run(name, func(t *testing.T) {
			var a, b any
			if err := json.Unmarshal(appendJSON(nil, v), &a); err != nil {
				t.Fatal(err)
			}
			want, _ := json.Marshal(v)
			_ = json.Unmarshal(want, &b)
			ja, _ := json.Marshal(a)
			jb, _ := json.Marshal(b)
			if string(ja) != string(jb) {
				t.Fatalf("differs:\n%s\n%s", ja, jb)
			}
		})
	}
}

func TestRoutesAndRoles(t *testing.T) {
	tn := model.Generate(1, model.Sizes{Users: 30}, false, time.Now)
	cases := []struct {
		name, method, path string
		roles              []string
		status             int
	}{
		{"delta with parens", "GET", "/v1.0/users/delta()", []string{"User.Read.All"}, 200},
		{"sp by appId", "GET", "/v1.0/servicePrincipals(appId='" + model.GraphAppID + "')", []string{"Application.Read.All"}, 200},
		{"directoryRoles rejects top", "GET", "/v1.0/directoryRoles?$top=5", []string{"Directory.Read.All"}, 400},
		{"percent-encoded top", "GET", "/v1.0/users?%24top=5", []string{"User.Read.All"}, 200},
		{"groups need a group role", "GET", "/v1.0/groups", []string{"User.Read.All"}, 403},
		{"write needs ReadWrite", "DELETE", "/v1.0/users/" + tn.Users[5].ID.String(), []string{"User.Read.All"}, 403},
		{"unknown segment", "GET", "/v1.0/nothing", []string{"User.Read.All"}, 400},
		{"wrong method", "PUT", "/v1.0/users", []string{"User.ReadWrite.All"}, 405},
		{"endsWith needs ConsistencyLevel", "GET", "/v1.0/users?$filter=endswith(mail,'@example.com')", []string{"User.Read.All"}, 400},
		{"signInActivity needs premium", "GET", "/v1.0/users?$select=id,signInActivity", []string{"User.Read.All", "AuditLog.Read.All"}, 403},
		{"signInActivity needs AuditLog.Read.All", "GET", "/v1.0/users?$select=signInActivity", []string{"User.Read.All"}, 403},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New(Config{Tenant: tn, Throttle: ThrottleConfig{Disabled: true},
				Verify: func(string) (Caller, error) { return Caller{AppID: "a", Roles: c.roles}, nil }})
			req := httptest.NewRequest(c.method, "http://sim"+c.path, nil)
			req.Header.Set("Authorization", "Bearer x")
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code != c.status {
				t.Fatalf("status %d, want %d: %s", w.Code, c.status, w.Body.String())
			}
			if w.Code >= 400 && !strings.Contains(w.Body.String(), `"innerError"`) {
				t.Fatal("error body without innerError")
			}
		})
	}
}

func TestSignInActivityPageLimit(t *testing.T) {
	tn := model.Generate(1, model.Sizes{Users: 30}, true, time.Now)
	s := New(Config{Tenant: tn, Verify: allRoles, Throttle: ThrottleConfig{Disabled: true}})
	for _, c := range []struct {
		name   string
		top    string
		status int
	}{{"500 allowed", "500", 200}, {"501 refused", "501", 400}} {
		t.Run(c.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "http://sim/v1.0/users?$select=signInActivity&$top="+c.top, nil)
			req.Header.Set("Authorization", "Bearer x")
			w := httptest.NewRecorder()
			s.ServeHTTP(w, req)
			if w.Code != c.status {
				t.Fatalf("status %d", w.Code)
			}
			if c.status == 200 && !strings.Contains(w.Body.String(), "lastSignInDateTime") {
				t.Fatal("no signInActivity in the page")
			}
		})
	}
}

// TestConcurrentReadsAndChurn runs with -race in CI: readers page and
// delta while writers churn.
func TestConcurrentReadsAndChurn(t *testing.T) {
	tn := model.Generate(1, model.Sizes{Users: 300}, true, time.Now)
	s := New(Config{Tenant: tn, Verify: allRoles})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 20; i++ {
			tn.Lock()
			tn.Churn(2)
			tn.Unlock()
		}
	}()
	var wg sync.WaitGroup
	for _, path := range []string{"/v1.0/users?$top=50", "/v1.0/groups/delta()", "/v1.0/auditLogs/signIns?$top=10"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				req := httptest.NewRequest("GET", "http://sim"+path, nil)
				req.Header.Set("Authorization", "Bearer x")
				w := httptest.NewRecorder()
				s.ServeHTTP(w, req)
				if w.Code != 200 && w.Code != 429 {
					t.Errorf("%s: %d", path, w.Code)
				}
			}
		}()
	}
	wg.Wait()
	<-done
	if s.Counters().Total.Requests != 60 {
		t.Fatalf("counted %d requests", s.Counters().Total.Requests)
	}
}
