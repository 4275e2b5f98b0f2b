package restore

import (
	"slices"
	"testing"
)

func TestDomainMapRewrite(t *testing.T) {
	m := DomainMap{"contoso.com": "fabrikam.com"}
	got := string(m.Rewrite([]byte(`{"userPrincipalName":"ada@Contoso.com","otherMails":["ada@contoso.com.evil","x@contoso.com"],"n":1.50}`)))
	want := `{"n":1.50,"otherMails":["ada@contoso.com.evil","x@fabrikam.com"],"userPrincipalName":"ada@fabrikam.com"}`
	if got != want {
		t.Errorf("Rewrite = %s, want %s", got, want)
	}
	if err := (DomainMap{"contoso": "x"}).Validate(); err == nil {
		t.Error("a map of non-domains validated")
	}
}

// TestMatcher: twins by UPN, then name; two candidates are returned, not
// chosen; a matched application maps its appId, so its service principal
// matches by it; an id map entry wins and takes its target.
func TestMatcher(t *testing.T) {
	idmap := NewIDMap()
	idmap.Set("u-old", "u-target-known")
	m := NewMatcher(idmap)
	for _, o := range []struct{ typ, id, raw string }{
		{"user", "u-b1", `{"userPrincipalName":"ADA@fabrikam.com","displayName":"Ada"}`},
		{"user", "u-target-known", `{"userPrincipalName":"bob@fabrikam.com"}`},
		{"administrativeUnit", "au-1", `{"displayName":"London"}`},
		{"administrativeUnit", "au-2", `{"displayName":"London"}`},
		{"application", "app-b", `{"uniqueName":"payroll","displayName":"Payroll","appId":"appid-b"}`},
		{"servicePrincipal", "sp-b", `{"appId":"appid-b","displayName":"Payroll"}`},
	} {
		m.AddTarget(o.typ, o.id, []byte(o.raw))
	}
	match := func(typ, id, raw string) []string {
		c, _ := m.Match(typ, id, []byte(raw))
		return c
	}
	match("user", "u-a1", `{"userPrincipalName":"ada@fabrikam.com","displayName":"Someone else"}`)
	match("user", "u-old", `{"userPrincipalName":"bob@fabrikam.com"}`)
	match("user", "u-a2", `{"userPrincipalName":"eve@fabrikam.com","displayName":"Ada"}`) // people by UPN only
	if c := match("administrativeUnit", "au-a", `{"displayName":"london"}`); !slices.Equal(c, []string{"au-1", "au-2"}) {
		t.Errorf("ambiguous unit: candidates %v", c)
	}
	match("application", "app-a", `{"uniqueName":"payroll","appId":"appid-a"}`)
	match("servicePrincipal", "sp-a", `{"appId":"appid-a"}`)
	want := map[string]string{"u-a1": "u-b1", "app-a": "app-b", "appid-a": "appid-b", "sp-a": "sp-b"}
	if got := m.Added(); len(got) != len(want) {
		t.Fatalf("Added = %v, want %v", got, want)
	}
	for old, n := range want {
		if m.Added()[old] != n || idmap.Resolve(old) != n {
			t.Errorf("%s → %s (id map %s), want %s", old, m.Added()[old], idmap.Resolve(old), n)
		}
	}
	if idmap.Resolve("u-a2") != "u-a2" || idmap.Resolve("au-a") != "au-a" {
		t.Error("an object without a unique twin was matched")
	}
}
