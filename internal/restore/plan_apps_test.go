package restore

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// A hard-deleted application and its service principal, a policy that
// names the app, the app's federated credential, an app role assignment
// and a delegated grant, as a restore of the applications scope sees them.
var (
	appSnap = obj(map[string]any{"id": "a-old", "appId": "appid-old", "displayName": "Payroll", "uniqueName": nil,
		"keyCredentials":      []any{map[string]any{"keyId": "k1", "key": "MIIB", "type": "AsymmetricX509Cert", "usage": "Verify"}},
		"passwordCredentials": []any{map[string]any{"keyId": "p1", "hint": "abc", "secretText": nil}},
		"createdDateTime":     "2025-01-01T00:00:00Z"})
	spSnap = obj(map[string]any{"id": "sp-old", "appId": "appid-old", "displayName": "Payroll", "accountEnabled": true,
		"appRoleAssignmentRequired": true})
	policySnap = obj(map[string]any{"id": "pol", "displayName": "MFA for Payroll", "state": "enabled",
		"conditions": map[string]any{"applications": map[string]any{"includeApplications": []any{"appid-old"}},
			"users": map[string]any{"includeUsers": []any{"All"}, "excludeUsers": []any{"u-admin"}}}})
	fics      = obj(map[string]any{"value": []any{map[string]any{"id": "f1", "name": "deploy", "issuer": "https://i", "subject": "s", "audiences": []any{"a"}}}})
	assigned  = obj(map[string]any{"value": []any{map[string]any{"id": "ar1", "principalId": "u-1", "resourceId": "sp-old", "appRoleId": "role-1", "principalDisplayName": "U"}}})
	grantSnap = obj(map[string]any{"id": "g1", "clientId": "sp-old", "resourceId": "sp-graph", "consentType": "AllPrincipals", "principalId": nil, "scope": "User.Read"})
)

func TestPlannerRemapsARecreatedApplication(t *testing.T) {
	var out planned
	ids := NewIDMap()
	p := NewPlanner(DefaultOptions(), Selection{}, nil, ids, out.emit)
	for _, err := range []error{
		p.Object("application", "a-old", appSnap, nil),
		p.Object("servicePrincipal", "sp-old", spSnap, nil),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	if !p.NamesRecreated(policySnap) {
		t.Fatal("a policy naming the re-created app's appId is not planned")
	}
	if err := p.Object("conditionalAccessPolicy", "pol", policySnap, policySnap); err != nil {
		t.Fatal(err)
	}
	p.Child("application.federatedIdentityCredentials", "a-old", fics, nil)
	p.Child("servicePrincipal.appRoleAssignedTo", "sp-old", assigned, nil)
	p.Child("oauth2PermissionGrant", "g1", grantSnap, nil)
	if _, err := p.Finish(); err != nil {
		t.Fatal(err)
	}
	want := []string{"add_child:application.federatedIdentityCredentials:f1", "add_child:oauth2PermissionGrant:g1",
		"add_child:servicePrincipal.appRoleAssignedTo:ar1", "recreate:application:a-old", "recreate:servicePrincipal:sp-old",
		"revert:conditionalAccessPolicy:pol", "skip:application:a-old"}
	if got := out.kinds(); !slices.Equal(got, want) {
		t.Fatalf("actions\n got %v\nwant %v", got, want)
	}
	byKey := map[string]Action{}
	for _, a := range out.actions {
		byKey[string(a.Kind)+":"+a.ID] = a
	}
	app := decode(byKey["recreate:a-old"].Object)
	if app["uniqueName"] != "entravault-restore-a-old" || byKey["recreate:a-old"].AltID != "appid-old" {
		t.Errorf("the app is re-created without its upsert key or its appId to map: %v", byKey["recreate:a-old"])
	}
	for _, never := range []string{"appId", "passwordCredentials", "id", "createdDateTime"} {
		if _, ok := app[never]; ok {
			t.Errorf("re-creating an app sends %s", never)
		}
	}
	if keys, _ := app["keyCredentials"].([]any); len(keys) != 1 || keys[0].(map[string]any)["key"] != "MIIB" {
		t.Errorf("the certificate's public key is not re-added: %v", app["keyCredentials"])
	}
	if s := byKey["skip:a-old"]; s.Reason != SecretReason || len(s.Properties) != 1 {
		t.Errorf("the lost client secret is not reported: %+v", s)
	}
	if strings.Contains(string(byKey["skip:a-old"].Properties[0].After), "secretText\":\"") {
		t.Error("a secret in the plan")
	}

	// Apply maps the new ids; every reference follows them.
	ids.Set("a-old", "a-new")
	ids.Set("appid-old", "appid-new")
	ids.Set("sp-old", "sp-new")
	sp := RemapIDs(decode(byKey["recreate:sp-old"].Object), ids).(map[string]any)
	if sp["appId"] != "appid-new" {
		t.Errorf("the service principal is created for appId %v", sp["appId"])
	}
	var after any
	_ = json.Unmarshal(byKey["revert:pol"].Properties[0].After, &after)
	if b, _ := json.Marshal(RemapIDs(after, ids)); !strings.Contains(string(b), "appid-new") || strings.Contains(string(b), "appid-old") {
		t.Errorf("the policy is reverted to %s", b)
	}
	assignment := RemapIDs(decode(byKey["add_child:ar1"].Object), ids).(map[string]any)
	if assignment["resourceId"] != "sp-new" || assignment["principalId"] != "u-1" || byKey["add_child:ar1"].Owner != "sp-old" {
		t.Errorf("app role assignment %v under %s", assignment, byKey["add_child:ar1"].Owner)
	}
	if g := RemapIDs(decode(byKey["add_child:g1"].Object), ids).(map[string]any); g["clientId"] != "sp-new" || g["resourceId"] != "sp-graph" {
		t.Errorf("grant %v", g)
	}
}

// After the restore, the re-created twins (new ids, new appId, the upsert
// key as uniqueName, children with new ids) plan nothing but the secret.
func TestPlannerFindsARestoredApplicationDone(t *testing.T) {
	var out planned
	ids := NewIDMap()
	for old, n := range map[string]string{"a-old": "a-new", "appid-old": "appid-new", "sp-old": "sp-new"} {
		ids.Set(old, n)
	}
	p := NewPlanner(DefaultOptions(), Selection{}, nil, ids, out.emit)
	swap := func(raw []byte, kv ...string) []byte {
		s := string(raw)
		for i := 0; i < len(kv); i += 2 {
			s = strings.ReplaceAll(s, kv[i], kv[i+1])
		}
		return []byte(s)
	}
	appLive := swap(appSnap, "a-old", "a-new", "appid-old", "appid-new", `"uniqueName":null`, `"uniqueName":"entravault-restore-a-old"`,
		`"passwordCredentials":[{"hint":"abc","keyId":"p1","secretText":null}]`, `"passwordCredentials":[]`)
	for _, err := range []error{
		p.Object("application", "a-old", appSnap, appLive),
		p.Object("servicePrincipal", "sp-old", spSnap, swap(spSnap, "sp-old", "sp-new", "appid-old", "appid-new")),
		p.Object("conditionalAccessPolicy", "pol", policySnap, swap(policySnap, "appid-old", "appid-new")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	p.Child("application.federatedIdentityCredentials", "a-old", fics, swap(fics, "f1", "f2"))
	p.Child("servicePrincipal.appRoleAssignedTo", "sp-old", assigned, swap(assigned, "ar1", "ar2", "sp-old", "sp-new"))
	p.Child("oauth2PermissionGrant", "g1", grantSnap, nil)
	p.Child("oauth2PermissionGrant", "g2", nil, swap(grantSnap, "g1", "g2", "sp-old", "sp-new"))
	if _, err := p.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := out.kinds(); !slices.Equal(got, []string{"skip:application:a-old"}) {
		t.Fatalf("a restored application planned again: %v", got)
	}
	if s := out.actions[0]; len(s.Properties) != 1 || s.Properties[0].Name != "passwordCredentials" || s.Properties[0].Reason != SecretReason {
		t.Errorf("the skip: %+v", s)
	}
}

func TestPlannerUndeletesAnApplicationAndItsServicePrincipal(t *testing.T) {
	var out planned
	// The recycle bin lists an app without its certificate keys.
	binned := strings.ReplaceAll(string(appSnap), `"key":"MIIB",`, "")
	deleted := map[string]json.RawMessage{"a-old": json.RawMessage(binned), "sp-old": spSnap}
	p := NewPlanner(DefaultOptions(), Selection{}, deleted, NewIDMap(), out.emit)
	_ = p.Object("application", "a-old", appSnap, nil)
	_ = p.Object("servicePrincipal", "sp-old", spSnap, nil)
	p.Child("servicePrincipal.appRoleAssignedTo", "sp-old", assigned, nil) // they come back with it
	if _, err := p.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := out.kinds(); !slices.Equal(got, []string{"undelete:application:a-old", "undelete:servicePrincipal:sp-old"}) {
		t.Fatalf("got %v", got)
	}
}

// A role assignment scoped to a re-created application (or unit) matches
// its restored twin, scoped to the new id.
func TestRoleAssignmentScopesFollowTheIDMap(t *testing.T) {
	ids := NewIDMap()
	ids.Set("a-old", "a-new")
	ids.Set("au-old", "au-new")
	for in, want := range map[string]string{"/": "/", "/a-old": "/a-new", "/administrativeUnits/au-old": "/administrativeUnits/au-new", "/x": "/x"} {
		if got := ResolveScope(in, ids); got != want {
			t.Errorf("ResolveScope(%s) = %s, want %s", in, got, want)
		}
	}
	var out planned
	p := NewPlanner(DefaultOptions(), Selection{}, nil, ids, out.emit)
	p.RoleAssignment("ra-old", obj(map[string]any{"principalId": "u1", "roleDefinitionId": "r1", "directoryScopeId": "/a-old"}), nil)
	p.RoleAssignment("ra-new", nil, obj(map[string]any{"principalId": "u1", "roleDefinitionId": "r1", "directoryScopeId": "/a-new"}))
	if _, err := p.Finish(); err != nil {
		t.Fatal(err)
	}
	if len(out.actions) != 0 {
		t.Fatalf("a restored app-scoped role assignment planned again: %v", out.kinds())
	}
}

// An application selected by id comes back with its service principal and
// the service principal's app role assignments.
func TestSelectingAnApplicationSelectsItsServicePrincipal(t *testing.T) {
	var out planned
	p := NewPlanner(DefaultOptions(), Selection{IDs: []string{"a-old"}}, nil, NewIDMap(), out.emit)
	_ = p.Object("application", "a-old", appSnap, nil)
	_ = p.Object("servicePrincipal", "sp-old", spSnap, nil)
	_ = p.Object("user", "u-1", user("u-1", "1@x", "A"), nil)
	p.Child("servicePrincipal.appRoleAssignedTo", "sp-old", assigned, nil)
	if _, err := p.Finish(); err != nil {
		t.Fatal(err)
	}
	want := []string{"add_child:servicePrincipal.appRoleAssignedTo:ar1", "recreate:application:a-old", "recreate:servicePrincipal:sp-old",
		"skip:application:a-old"}
	if got := out.kinds(); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}

// A widened delegated grant and a retargeted federated credential are
// reverted by PATCH; the key properties, which no PATCH changes, match.
func TestPlannerRevertsChangedChildren(t *testing.T) {
	var out planned
	p := NewPlanner(DefaultOptions(), Selection{}, nil, NewIDMap(), out.emit)
	widened := strings.Replace(string(grantSnap), `"scope":"User.Read"`, `"scope":"User.Read Mail.ReadWrite"`, 1)
	p.Child("oauth2PermissionGrant", "g1", grantSnap, []byte(widened))
	p.Child("application.federatedIdentityCredentials", "a-old", fics, []byte(strings.Replace(string(fics), `"subject":"s"`, `"subject":"evil"`, 1)))
	if _, err := p.Finish(); err != nil {
		t.Fatal(err)
	}
	if got := out.kinds(); !slices.Equal(got, []string{"revert:application.federatedIdentityCredentials:f1", "revert:oauth2PermissionGrant:g1"}) {
		t.Fatalf("got %v", got)
	}
	for _, a := range out.actions {
		if len(a.Properties) != 1 || a.Owner == "" {
			t.Errorf("revert %+v", a)
		}
	}
	if g := out.actions[1]; g.Properties[0].Name != "scope" || string(g.Properties[0].After) != `"User.Read"` {
		t.Errorf("grant revert %+v", g.Properties)
	}
}

// An app role given since the snapshot is removed with remove_extra_links
// and reported without it.
func TestPlannerRemovesChildrenAddedSince(t *testing.T) {
	extra := strings.Replace(strings.Replace(string(assigned), `"ar1"`, `"ar9"`, 1), `"u-1"`, `"u-intruder"`, 1)
	both := strings.Replace(string(assigned), `}]}`, `},`+extra[len(`{"value":[`):], 1)
	for _, remove := range []bool{false, true} {
		var out planned
		opts := DefaultOptions()
		opts.RemoveExtraLinks = remove
		p := NewPlanner(opts, Selection{}, nil, NewIDMap(), out.emit)
		p.Child("servicePrincipal.appRoleAssignedTo", "sp-old", assigned, []byte(both))
		if _, err := p.Finish(); err != nil {
			t.Fatal(err)
		}
		want := "skip:servicePrincipal.appRoleAssignedTo:ar9"
		if remove {
			want = "remove_child:servicePrincipal.appRoleAssignedTo:ar9"
		}
		if got := out.kinds(); !slices.Equal(got, []string{want}) {
			t.Errorf("remove_extra_links %v: got %v", remove, got)
		}
	}
}

// An application deleted for good is re-created with a new appId: its
// service principal, still in the recycle bin, cannot serve it, and is
// re-created for the new appId instead.
func TestPlannerRecreatesTheServicePrincipalOfARecreatedApp(t *testing.T) {
	var out planned
	p := NewPlanner(DefaultOptions(), Selection{}, map[string]json.RawMessage{"sp-old": spSnap}, NewIDMap(), out.emit)
	_ = p.Object("application", "a-old", appSnap, nil)
	_ = p.Object("servicePrincipal", "sp-old", spSnap, nil)
	if _, err := p.Finish(); err != nil {
		t.Fatal(err)
	}
	want := []string{"recreate:application:a-old", "recreate:servicePrincipal:sp-old", "skip:application:a-old"}
	if got := out.kinds(); !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
}
