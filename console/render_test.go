package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/entravault/entravault/api"
	"github.com/entravault/entravault/internal/restore"
	"github.com/entravault/entravault/workflows"
)

// TestPagesRender draws the pages whose data has optional parts (a
// template error shows only when such data reaches it) with those parts
// filled, and checks what each must say.
func TestPagesRender(t *testing.T) {
	s, err := New(Config{API: http.NotFoundHandler(), SessionKey: make([]byte, 32)})
	if err != nil {
		t.Fatal(err)
	}
	target := api.ConnectorListItem{ID: "c-0000000000000002", ConnectorSummary: workflows.ConnectorSummary{Name: "Fabrikam", Tenant: "fabrikam.com"}}
	cases := []struct {
		page string
		data any
		want []string
	}{
		{"restores", restoresView{ID: "c-0000000000000001", Name: "Contoso", Types: restore.SelectableTypes,
			Targets: []api.ConnectorListItem{target}}, []string{"another tenant: Fabrikam (fabrikam.com)", `name="domain_map"`}},
		{"restore", restoreView{ID: "c-0000000000000001", Name: "Contoso", RID: "r-1", R: api.RestoreView{RestoreState: workflows.RestoreState{
			Status: workflows.RestorePlanned, Target: &workflows.RestoreTarget{ConnectorID: target.ID, TenantID: "t-2",
				Domains: restore.DomainMap{"contoso.com": "fabrikam.com"}}}}}, []string{"Into another tenant", "contoso.com → fabrikam.com"}},
		{"settings", settingsView{Kind: "directory", Tenant: "contoso.com", Grant: "g", Form: url.Values{}, GroupQuery: "Sal",
			Groups: []api.ObjectSummary{{ID: "g1", DisplayName: "Sales"}}}, []string{"Sales", `name="grant" value="g"`}},
		{"settings", settingsView{ID: "c-1", Kind: "directory", Editing: true, Form: url.Values{}, UnitQuery: "Lon"},
			[]string{"No unit in the newest backup matches"}},
	}
	for _, c := range cases {
		w := httptest.NewRecorder()
		s.render(w, httptest.NewRequest("GET", "/", nil), http.StatusOK, c.page, &session{CSRF: "x"}, c.data)
		body := w.Body.String()
		if w.Code != http.StatusOK {
			t.Errorf("%s: %d %s", c.page, w.Code, body)
			continue
		}
		for _, want := range c.want {
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %q", c.page, want)
			}
		}
	}
}
