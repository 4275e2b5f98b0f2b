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
	admin    = Principal{Name: "root", IDs: []string{"apikey:0000000000000001"}, Role: RoleAdmin, Method: MethodAPIKey}
	operator = Principal{Name: "alice@contoso.com", IDs: []string{"oid:tid-1/oid-alice"}, Role: RoleOperator, Method: MethodOIDC}
	viewer   = Principal{Name: "auditor", IDs: []string{"apikey:00000000000000aa"}, Role: RoleViewer, Method: MethodAPIKey}
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
		{"listed by tenant and oid", operator, []string{"bob", "oid:tid-1/oid-alice"}, true},
		{"listed by tenant and oid in another case", operator, []string{"OID:TID-1/OID-ALICE"}, true},
		{"listed with surrounding spaces", operator, []string{" oid:tid-1/oid-alice "}, true},
		{"listed by API key id", viewer, []string{"apikey:00000000000000AA"}, true},
		// Names are mutable: they admit nobody, whoever holds them now.
		{"upn is not an ID", operator, []string{"alice@contoso.com"}, false},
		{"bare oid without tenant is not an ID", operator, []string{"oid-alice"}, false},
		{"oid in another tenant", operator, []string{"oid:tid-2/oid-alice"}, false},
		{"API key name is not an ID", viewer, []string{"auditor"}, false},
		{"not listed", operator, []string{"bob", "oid:tid-1/oid-bob"}, false},
		{"empty access list", operator, nil, false},
		{"empty entry does not match a principal without IDs", nobody, []string{"", " "}, false},
		{"prefix is not a match", operator, []string{"oid:tid-1/oid-ali"}, false},
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
	access := []string{"oid:tid-1/oid-alice", "apikey:00000000000000aa"}
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
		{"listed operator unchanged", operator, []string{"OID:tid-1/oid-alice"}, []string{"OID:tid-1/oid-alice"}},
		{"unlisted operator added by ID", operator, []string{"alice@contoso.com"}, []string{"alice@contoso.com", "oid:tid-1/oid-alice"}},
		{"empty list", operator, nil, []string{"oid:tid-1/oid-alice"}},
		{"API key added by ID", viewer, nil, []string{"apikey:00000000000000aa"}},
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
	ctx := context.Background()
	s := TestKeyStore(t)
	tok := TestToken(t, s, "alice@contoso.com", RoleOperator)
	p, err := s.Authenticate(ctx, tok)
	access, rerr := ResolveAccess(ctx, s, []string{"Alice@Contoso.com"})
	if err != nil || rerr != nil || !CanSee(p, access) || CanSee(p, []string{"alice@contoso.com"}) || !p.CanWrite() {
		t.Fatalf("principal %+v, %v; access %q, %v", p, err, access, rerr)
	}
}

func TestResolveAccess(t *testing.T) {
	ctx := context.Background()
	s := TestKeyStore(t)
	_, ci := mustCreate(t, s, "ci", RoleOperator)
	_, gone := mustCreate(t, s, "gone", RoleViewer)
	if err := s.Revoke(ctx, gone.ID); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		in      []string
		want    []string
		wantErr bool
	}{
		{"IDs kept, lower-cased", []string{"apikey:00000000000000AA", " OID:Tid-1/Oid-Alice "}, []string{"apikey:00000000000000aa", "oid:tid-1/oid-alice"}, false},
		{"live key name becomes its ID", []string{"CI"}, []string{"apikey:" + ci.ID}, false},
		{"duplicates dropped", []string{"ci", "apikey:" + ci.ID}, []string{"apikey:" + ci.ID}, false},
		{"empty entries left for validation", []string{""}, []string{""}, false},
		{"revoked key's name", []string{"gone"}, nil, true},
		{"unknown name", []string{"nobody"}, nil, true},
		{"a upn is never resolved", []string{"alice@contoso.com"}, nil, true},
		{"a bare oid is not an ID", []string{"00000000-0000-0000-0000-00000000a11c"}, nil, true},
		{"malformed key ID", []string{"apikey:../x"}, nil, true},
		{"oid without tenant", []string{"oid:/x"}, nil, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ResolveAccess(ctx, s, tc.in)
			if tc.wantErr {
				if !errors.Is(err, ErrUnresolved) {
					t.Fatalf("ResolveAccess = %q, %v; want ErrUnresolved", got, err)
				}
				return
			}
			if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("ResolveAccess = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	if _, err := ResolveAccess(ctx, nil, []string{"ci"}); !errors.Is(err, ErrUnresolved) {
		t.Fatalf("no key store: %v, want ErrUnresolved", err)
	}
}

// TestAccessNameReuse is issue 15 item 3 for API keys: a connector shared
// with "ops-bob" stays shared with that key only; a new key given the name
// after the first is revoked does not inherit its access, neither through
// the list as resolved when written nor through a list still holding the
// name.
func TestAccessNameReuse(t *testing.T) {
	ctx := context.Background()
	s := TestKeyStore(t)
	oldTok, old := mustCreate(t, s, "ops-bob", RoleOperator)
	access, err := ResolveAccess(ctx, s, []string{"ops-bob"})
	if err != nil {
		t.Fatal(err)
	}
	if p, err := s.Authenticate(ctx, oldTok); err != nil || !CanSee(p, access) {
		t.Fatalf("the listed key: %+v, %v", p, err)
	}
	if err := s.Revoke(ctx, old.ID); err != nil {
		t.Fatal(err)
	}
	newTok, _ := mustCreate(t, s, "ops-bob", RoleOperator)
	p, err := s.Authenticate(ctx, newTok)
	if err != nil {
		t.Fatal(err)
	}
	if CanSee(p, access) || Authorize(p, access, false) == nil {
		t.Fatalf("the new ops-bob %+v sees a connector listed for the old one (%q)", p, access)
	}
	if CanSee(p, []string{"ops-bob"}) {
		t.Fatal("a stored name entry admits whoever holds the name now")
	}
}
