package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

var (
	admin    = Principal{Name: "root", IDs: []string{"root", "apikey:0000000000000001"}, Role: RoleAdmin, Method: MethodAPIKey}
	operator = Principal{Name: "alice@contoso.com", IDs: []string{"oid-alice", "sub-alice", "alice@contoso.com"}, Role: RoleOperator, Method: MethodOIDC}
	viewer   = Principal{Name: "auditor", IDs: []string{"auditor", "apikey:00000000000000aa"}, Role: RoleViewer, Method: MethodAPIKey}
	nobody   = Principal{Name: "ghost", Role: RoleViewer}
)

func TestCanSee(t *testing.T) {
	cases := []struct {
		name   string
		p      Principal
		access []string
		want   bool
	}{
		{"admin sees a connector with no access list", admin, nil, true},
		{"admin sees a connector listing others", admin, []string{"bob"}, true},
		{"listed by upn", operator, []string{"bob", "alice@contoso.com"}, true},
		{"listed by upn in another case", operator, []string{"ALICE@Contoso.COM"}, true},
		{"listed by oid", operator, []string{"oid-alice"}, true},
		{"listed with surrounding spaces", operator, []string{" oid-alice "}, true},
		{"listed by API key name", viewer, []string{"auditor"}, true},
		{"listed by API key id", viewer, []string{"apikey:00000000000000AA"}, true},
		{"not listed", operator, []string{"bob", "oid-bob"}, false},
		{"empty access list", operator, nil, false},
		{"empty entry does not match a principal without IDs", nobody, []string{"", " "}, false},
		{"prefix is not a match", operator, []string{"alice"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := CanSee(tc.p, tc.access); got != tc.want {
				t.Fatalf("CanSee = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestRoles(t *testing.T) {
	cases := []struct {
		p                 Principal
		isAdmin, canWrite bool
	}{
		{admin, true, true},
		{operator, false, true},
		{viewer, false, false},
		{Principal{}, false, false},
	}
	for _, tc := range cases {
		t.Run(string(tc.p.Role)+"/"+tc.p.Name, func(t *testing.T) {
			if tc.p.IsAdmin() != tc.isAdmin || tc.p.CanWrite() != tc.canWrite {
				t.Fatalf("IsAdmin=%v CanWrite=%v, want %v %v", tc.p.IsAdmin(), tc.p.CanWrite(), tc.isAdmin, tc.canWrite)
			}
		})
	}
}

func TestAuthorize(t *testing.T) {
	access := []string{"alice@contoso.com", "auditor"}
	cases := []struct {
		name       string
		p          Principal
		access     []string
		write      bool
		wantStatus int // 0: allowed
		wantErr    error
	}{
		{"admin reads", admin, nil, false, 0, nil},
		{"admin writes", admin, nil, true, 0, nil},
		{"listed operator reads", operator, access, false, 0, nil},
		{"listed operator writes", operator, access, true, 0, nil},
		{"listed viewer reads", viewer, access, false, 0, nil},
		{"listed viewer writes: 403", viewer, access, true, http.StatusForbidden, ErrReadOnly},
		{"unlisted operator reads: 404", operator, []string{"bob"}, false, http.StatusNotFound, ErrNotVisible},
		{"unlisted operator writes: 404", operator, []string{"bob"}, true, http.StatusNotFound, ErrNotVisible},
		{"unlisted viewer writes: 404, not 403", viewer, []string{"bob"}, true, http.StatusNotFound, ErrNotVisible},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Authorize(tc.p, tc.access, tc.write)
			if tc.wantStatus == 0 {
				if err != nil {
					t.Fatalf("err = %v, want nil", err)
				}
				return
			}
			var he *echo.HTTPError
			if !errors.As(err, &he) || he.Code != tc.wantStatus || !errors.Is(err, tc.wantErr) {
				t.Fatalf("err = %v, want HTTP %d matching %v", err, tc.wantStatus, tc.wantErr)
			}
		})
	}
}

func TestParseRole(t *testing.T) {
	cases := []struct {
		in   string
		want Role
		err  error
	}{
		{"admin", RoleAdmin, nil},
		{"Operator", RoleOperator, nil},
		{" viewer ", RoleViewer, nil},
		{"root", "", ErrInvalidRole},
		{"", "", ErrInvalidRole},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseRole(tc.in)
			if got != tc.want || !errors.Is(err, tc.err) {
				t.Fatalf("ParseRole(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
			}
		})
	}
}

func TestRequireWrite(t *testing.T) {
	for _, tc := range []struct {
		p    Principal
		want error
	}{{admin, nil}, {operator, nil}, {viewer, ErrReadOnly}} {
		t.Run(string(tc.p.Role), func(t *testing.T) {
			err := RequireWrite(tc.p)
			var he *echo.HTTPError
			if !errors.Is(err, tc.want) || (err != nil && (!errors.As(err, &he) || he.Code != http.StatusForbidden)) {
				t.Fatalf("err = %v, want %v as 403", err, tc.want)
			}
		})
	}
}

func TestEnsureListed(t *testing.T) {
	cases := []struct {
		name   string
		p      Principal
		access []string
		want   []string
	}{
		{"admin is not added", admin, []string{"bob"}, []string{"bob"}},
		{"listed operator unchanged", operator, []string{"ALICE@contoso.com"}, []string{"ALICE@contoso.com"}},
		{"unlisted operator added by first ID", operator, []string{"bob"}, []string{"bob", "oid-alice"}},
		{"empty list", operator, nil, []string{"oid-alice"}},
		{"API key added by name", viewer, nil, []string{"auditor"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]string(nil), tc.access...)
			got := EnsureListed(tc.p, in)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") || !CanSee(tc.p, got) {
				t.Fatalf("EnsureListed = %q, want %q", got, tc.want)
			}
			if strings.Join(in, ",") != strings.Join(tc.access, ",") {
				t.Fatal("input slice modified")
			}
		})
	}
}

// TestHelpers checks the exported test constructors work end to end.
func TestHelpers(t *testing.T) {
	s := TestKeyStore(t)
	tok := TestToken(t, s, "alice@contoso.com", RoleOperator)
	p, err := s.Authenticate(context.Background(), tok)
	if err != nil || !CanSee(p, []string{"Alice@Contoso.com"}) || !p.CanWrite() {
		t.Fatalf("principal %+v, %v", p, err)
	}
}
