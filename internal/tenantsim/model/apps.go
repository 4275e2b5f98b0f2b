package model

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

// AppRoleAssignment grants an app role of a service principal (the
// resource) to a user, group or service principal.
type AppRoleAssignment struct {
	ID        ID
	Principal Ref
	Resource  int32 // service principal index
	AppRole   string
	Created   int64
}

// Grant is a delegated permission grant (oauth2PermissionGrant): the client
// service principal may call the resource on behalf of one user or, with
// Principal -1, of every user (consentType AllPrincipals).
type Grant struct {
	ID        ID
	Client    int32 // service principal index
	Resource  int32 // service principal index
	Principal int32 // user index, -1 = AllPrincipals
	Scope     string
}

// lobApp reports a line-of-business application: not one of the apps the
// simulator signs in with.
func lobApp(i int32) bool { return i > RestoreApp }

// genAppGrants gives line-of-business apps what real ones have: an app
// role, owners on their service principal, a certificate on every other
// app, a federated credential on every third, two users assigned to the
// app role and a delegated grant to Microsoft Graph. Everything derives
// from the apps' ids, so the main random stream is untouched. Generation
// adds app i's service principal at index i.
func (t *Tenant) genAppGrants() {
	graph, _ := t.SPByAppID(GraphAppID)
	for i := int32(0); i < int32(len(t.Apps)); i++ {
		a, sp := &t.Apps[i], &t.SPs[i]
		if !lobApp(i) {
			continue
		}
		sp.Owners = slices.Clone(a.Owners)
		if i%2 == 1 {
			a.Keys = []Obj{genKey(a)}
		}
		if i%3 == 0 {
			a.FICs = []Obj{{"id": newIDFrom(a.ID, 25).String(), "name": "deploy", "issuer": "https://token.actions.githubusercontent.com",
				"subject": fmt.Sprintf("repo:contoso/app-%d:environment:prod", i), "audiences": []any{"api://AzureADTokenExchange"},
				"description": nil}}
		}
		if n := int32(len(t.Users)); n > 3 {
			for k := range int32(2) {
				u := MakeRef(KindUser, 3+(i*7+k*13)%(n-3))
				t.AppRoleAssignments = append(t.AppRoleAssignments, AppRoleAssignment{ID: newIDFrom(sp.ID, byte(27+k)),
					Principal: u, Resource: i, AppRole: newIDFrom(a.ID, 21).String(), Created: a.Created})
			}
		}
		t.Grants = append(t.Grants, Grant{ID: newIDFrom(sp.ID, 29), Client: i, Resource: graph, Principal: -1, Scope: "User.Read openid profile"})
	}
}

// genKey makes a certificate credential; its "key" stands for the DER of
// a public certificate.
func genKey(a *App) Obj {
	der := append([]byte("sim-cert:"), a.ID[:]...)
	thumb := newIDFrom(a.ID, 31)
	return Obj{"customKeyIdentifier": strings.ToUpper(fmt.Sprintf("%x", thumb[:])), "displayName": "CN=app-" + a.ID.String()[:8],
		"endDateTime": ts(a.Created + 365*86400), "key": base64.StdEncoding.EncodeToString(der), "keyId": newIDFrom(a.ID, 23).String(),
		"startDateTime": ts(a.Created), "type": "AsymmetricX509Cert", "usage": "Verify"}
}

// genAppPolicy adds a conditional-access policy that names the first
// line-of-business application by appId, as policies scoped to one app do.
func (t *Tenant) genAppPolicy() {
	if len(t.Apps) <= int(RestoreApp)+1 {
		return
	}
	app := t.Apps[RestoreApp+1].AppID.String()
	d := Doc{Meta: Meta{ID: newIDFrom(t.ID, 41), Created: t.created + 6*86400}}
	d.Props = map[string]any{"displayName": "Require MFA for " + t.appName(RestoreApp+1), "state": "enabled",
		"createdDateTime": ts(d.Created), "modifiedDateTime": ts(d.Created), "templateId": nil, "sessionControls": nil,
		"conditions": map[string]any{"clientAppTypes": []any{"all"}, "userRiskLevels": []any{}, "signInRiskLevels": []any{},
			"servicePrincipalRiskLevels": []any{}, "platforms": nil, "devices": nil, "clientApplications": nil, "locations": nil,
			"applications": map[string]any{"includeApplications": []any{app}, "excludeApplications": []any{}, "includeUserActions": []any{},
				"includeAuthenticationContextClassReferences": []any{}, "applicationFilter": nil},
			"users": map[string]any{"includeUsers": []any{"All"}, "excludeUsers": []any{t.Users[AdminUser].ID.String()},
				"includeGroups": []any{}, "excludeGroups": []any{}, "includeRoles": []any{}, "excludeRoles": []any{},
				"includeGuestsOrExternalUsers": nil, "excludeGuestsOrExternalUsers": nil}},
		"grantControls": map[string]any{"operator": "OR", "builtInControls": []any{"mfa"}, "customAuthenticationFactors": []any{},
			"termsOfUse": []any{}, "authenticationStrength": nil}}
	t.CAPolicies = append(t.CAPolicies, d)
	t.byID[d.ID] = MakeRef(KindCAPolicy, int32(len(t.CAPolicies)-1))
}

// appRoles are the app roles an application defines.
func (t *Tenant) appRoles(i int32) []any {
	if v, ok := t.over[MakeRef(KindApp, i)]["appRoles"].([]any); ok {
		return v
	}
	if !lobApp(i) || t.Apps[i].Custom {
		return []any{}
	}
	return []any{Obj{"allowedMemberTypes": []any{"User"}, "description": "Reads the app's data", "displayName": "Reader",
		"id": newIDFrom(t.Apps[i].ID, 21).String(), "isEnabled": true, "origin": "Application", "value": "Reader"}}
}

// AppKeys are app i's certificate credentials with their public keys.
func (t *Tenant) AppKeys(i int32) []any {
	out := make([]any, len(t.Apps[i].Keys))
	for k, c := range t.Apps[i].Keys {
		out[k] = c
	}
	return out
}

// withoutKeys is how lists and delta show certificate credentials: no key.
func withoutKeys(keys []Obj) []any {
	out := make([]any, len(keys))
	for k, c := range keys {
		o := make(Obj, len(c))
		for p, v := range c {
			o[p] = v
		}
		o["key"] = nil
		out[k] = o
	}
	return out
}

// setKeys replaces app i's certificate credentials, as a PATCH of
// keyCredentials does.
func (t *Tenant) setKeys(i int32, v any) {
	list, _ := v.([]any)
	keys := make([]Obj, 0, len(list))
	for _, c := range list {
		if o, ok := c.(map[string]any); ok {
			keys = append(keys, o)
		}
	}
	t.Apps[i].Keys = keys
}

// appByUniqueName finds a live or deleted application by uniqueName.
func (t *Tenant) appByUniqueName(name string) bool {
	for i := range t.Apps {
		if t.over[MakeRef(KindApp, int32(i))]["uniqueName"] == name && t.Apps[i].State != Gone {
			return true
		}
	}
	return false
}

// createApp adds an application registration; Entra assigns its appId.
// Nothing else comes with it: a service principal is created apart.
func (t *Tenant) createApp(meta Meta, props map[string]any) (Ref, error) {
	if name, ok := props["uniqueName"].(string); ok && t.appByUniqueName(name) {
		return 0, fmt.Errorf("%w: Another object with the same value for property uniqueName already exists.", ErrConflict)
	}
	t.Apps = append(t.Apps, App{Meta: meta, N: uint32(len(t.Apps)), AppID: newID(t.rng)})
	return MakeRef(KindApp, int32(len(t.Apps)-1)), nil
}

// CreateSP adds the service principal of a live application (or of a
// Microsoft application) by appId; an application has at most one.
func (t *Tenant) CreateSP(props map[string]any) (Ref, error) {
	appID, _ := props["appId"].(string)
	if appID == "" {
		return 0, fmt.Errorf("%w: A value is required for property 'appId' of resource 'ServicePrincipal'.", ErrInvalid)
	}
	if _, ok := t.SPByAppID(appID); ok {
		return 0, fmt.Errorf("%w: The service principal cannot be created, updated, or restored because the service principal name %s is already in use.", ErrConflict, appID)
	}
	sp := SP{Meta: Meta{ID: newID(t.rng), Created: t.Now().Unix()}, App: -1, First: -1}
	for i := range t.Apps {
		if t.Apps[i].AppID.String() == appID && t.IsLive(MakeRef(KindApp, int32(i))) {
			sp.App = int32(i)
		}
	}
	for i, fp := range firstParty {
		if fp.AppID == appID {
			sp.First = int32(i)
		}
	}
	if sp.App < 0 && sp.First < 0 {
		return 0, fmt.Errorf("%w: The appId '%s' of the service principal does not reference a valid application object.", ErrInvalid, appID)
	}
	body := stored(KindSP, props)
	delete(body, "appId")
	if err := checkProps(KindSP, body, false, false); err != nil {
		return 0, err
	}
	t.addSP(sp)
	r := MakeRef(KindSP, int32(len(t.SPs)-1))
	t.apply(r, body)
	t.record(r, OpUpsert, 0)
	return r, nil
}

// spOfApp is the live service principal of app i.
func (t *Tenant) spOfApp(i int32) (Ref, bool) {
	for k := range t.SPs {
		if t.SPs[k].App == i && t.SPs[k].State != Gone {
			return MakeRef(KindSP, int32(k)), true
		}
	}
	return 0, false
}

// FICs lists app i's federated identity credentials.
func (t *Tenant) FICs(i int32) []Obj { return t.Apps[i].FICs }

// maxFICs is Graph's limit of federated credentials per application.
const maxFICs = 20

// AddFIC adds a federated identity credential to a live application.
func (t *Tenant) AddFIC(r Ref, props map[string]any) (Obj, error) {
	if r.Kind() != KindApp || !t.IsLive(r) {
		return nil, ErrNotFound
	}
	for _, p := range []string{"name", "issuer", "subject", "audiences"} {
		if props[p] == nil {
			return nil, fmt.Errorf("%w: A value is required for property '%s' of resource 'FederatedIdentityCredential'.", ErrInvalid, p)
		}
	}
	a := &t.Apps[r.Index()]
	if len(a.FICs) >= maxFICs {
		return nil, fmt.Errorf("%w: An application can have at most %d federated identity credentials.", ErrInvalid, maxFICs)
	}
	if slices.ContainsFunc(a.FICs, func(f Obj) bool { return f["name"] == props["name"] }) {
		return nil, fmt.Errorf("%w: FederatedIdentityCredential with name %v already exists.", ErrConflict, props["name"])
	}
	f := Obj{"id": newID(t.rng).String(), "description": nil}
	for _, p := range []string{"name", "issuer", "subject", "audiences", "description"} {
		if v, ok := props[p]; ok {
			f[p] = v
		}
	}
	a.FICs = append(a.FICs, f)
	return f, nil
}

// FIC finds federated identity credential id of live application r.
func (t *Tenant) FIC(r Ref, id string) (Obj, error) {
	if r.Kind() != KindApp || !t.IsLive(r) {
		return nil, ErrNotFound
	}
	for _, f := range t.Apps[r.Index()].FICs {
		if f["id"] == id {
			return f, nil
		}
	}
	return nil, ErrNotFound
}

// UpdateFIC patches a federated identity credential; its name is fixed.
func (t *Tenant) UpdateFIC(r Ref, id string, props map[string]any) error {
	f, err := t.FIC(r, id)
	if err != nil {
		return err
	}
	for k := range props {
		if k != "issuer" && k != "subject" && k != "audiences" && k != "description" {
			return &PropError{Err: ErrReadOnly, Props: []string{k}}
		}
	}
	for k, v := range props {
		f[k] = v
	}
	return nil
}

// UpdateGrant changes the scope of a delegated permission grant, the only
// property Graph lets a PATCH change.
func (t *Tenant) UpdateGrant(id ID, props map[string]any) error {
	for k := range props {
		if k != "scope" {
			return &PropError{Err: ErrReadOnly, Props: []string{k}}
		}
	}
	for _, i := range t.LiveGrants() {
		if t.Grants[i].ID == id {
			t.Grants[i].Scope, _ = props["scope"].(string)
			return nil
		}
	}
	return ErrNotFound
}

// AppRoleAssignedTo lists the indexes of the live assignments of service
// principal sp's app roles.
func (t *Tenant) AppRoleAssignedTo(sp int32) []int {
	var out []int
	for i, a := range t.AppRoleAssignments {
		if a.Resource == sp && t.IsLive(a.Principal) {
			out = append(out, i)
		}
	}
	return out
}

// RenderAppRoleAssignment renders appRoleAssignment i.
func (t *Tenant) RenderAppRoleAssignment(i int) Obj {
	a := t.AppRoleAssignments[i]
	res := MakeRef(KindSP, a.Resource)
	principal := t.Render(a.Principal)
	return Obj{"id": a.ID.String(), "appRoleId": a.AppRole, "createdDateTime": ts(a.Created), "deletedDateTime": nil,
		"principalDisplayName": principal["displayName"], "principalId": t.Meta(a.Principal).ID.String(),
		"principalType":       strings.TrimPrefix(a.Principal.Kind().ODataType(), "#microsoft.graph."),
		"resourceDisplayName": t.Render(res)["displayName"], "resourceId": t.Meta(res).ID.String()}
}

// AddAppRoleAssignment assigns app role appRole of service principal sp to
// principal, refusing an unknown role, a missing principal or a duplicate.
func (t *Tenant) AddAppRoleAssignment(sp Ref, principal, appRole string) (int, error) {
	if sp.Kind() != KindSP || !t.IsLive(sp) {
		return 0, ErrNotFound
	}
	pid, ok := ParseID(principal)
	p, found := t.byID[pid]
	if !ok || !found || !t.IsLive(p) || (p.Kind() != KindUser && p.Kind() != KindGroup && p.Kind() != KindSP) {
		return 0, ErrRefMissing
	}
	roles, _ := t.Render(sp)["appRoles"].([]any)
	if !slices.ContainsFunc(roles, func(r any) bool { o, _ := r.(Obj); return o["id"] == appRole }) && appRole != zeroGUID {
		return 0, fmt.Errorf("%w: Permission being assigned was not found on application.", ErrInvalid)
	}
	for _, i := range t.AppRoleAssignedTo(sp.Index()) {
		if a := t.AppRoleAssignments[i]; a.Principal == p && a.AppRole == appRole {
			return 0, fmt.Errorf("%w: Permission being assigned already exists on the object.", ErrConflict)
		}
	}
	t.AppRoleAssignments = append(t.AppRoleAssignments, AppRoleAssignment{ID: newID(t.rng), Principal: p, Resource: sp.Index(),
		AppRole: appRole, Created: t.Now().Unix()})
	return len(t.AppRoleAssignments) - 1, nil
}

// zeroGUID is the default app role: access without a specific role.
const zeroGUID = "00000000-0000-0000-0000-000000000000"

// RemoveAppRoleAssignment deletes an app role assignment of sp by id.
func (t *Tenant) RemoveAppRoleAssignment(sp Ref, id ID) error {
	for _, i := range t.AppRoleAssignedTo(sp.Index()) {
		if t.AppRoleAssignments[i].ID == id {
			t.AppRoleAssignments = slices.Delete(t.AppRoleAssignments, i, i+1)
			return nil
		}
	}
	return ErrNotFound
}

// LiveGrants lists the indexes of grants between live service principals
// (and for a live user).
func (t *Tenant) LiveGrants() []int {
	var out []int
	for i, g := range t.Grants {
		if t.IsLive(MakeRef(KindSP, g.Client)) && t.IsLive(MakeRef(KindSP, g.Resource)) &&
			(g.Principal < 0 || t.IsLive(MakeRef(KindUser, g.Principal))) {
			out = append(out, i)
		}
	}
	return out
}

// RenderGrant renders oauth2PermissionGrant i.
func (t *Tenant) RenderGrant(i int) Obj {
	g := t.Grants[i]
	o := Obj{"id": g.ID.String(), "clientId": t.SPs[g.Client].ID.String(), "resourceId": t.SPs[g.Resource].ID.String(),
		"consentType": "AllPrincipals", "principalId": nil, "scope": g.Scope}
	if g.Principal >= 0 {
		o["consentType"], o["principalId"] = "Principal", t.Users[g.Principal].ID.String()
	}
	return o
}

// AddGrant creates a delegated permission grant from a POST body.
func (t *Tenant) AddGrant(props map[string]any) (int, error) {
	str := func(k string) string { s, _ := props[k].(string); return s }
	sp := func(k string) (int32, error) {
		id, ok := ParseID(str(k))
		r, found := t.byID[id]
		if !ok || !found || r.Kind() != KindSP || !t.IsLive(r) {
			return 0, ErrRefMissing
		}
		return r.Index(), nil
	}
	client, err := sp("clientId")
	if err != nil {
		return 0, err
	}
	resource, err := sp("resourceId")
	if err != nil {
		return 0, err
	}
	g := Grant{ID: newID(t.rng), Client: client, Resource: resource, Principal: -1, Scope: str("scope")}
	switch str("consentType") {
	case "AllPrincipals":
	case "Principal":
		id, ok := ParseID(str("principalId"))
		r, found := t.byID[id]
		if !ok || !found || r.Kind() != KindUser || !t.IsLive(r) {
			return 0, ErrRefMissing
		}
		g.Principal = r.Index()
	default:
		return 0, fmt.Errorf("%w: Invalid value specified for property 'consentType' of resource 'OAuth2PermissionGrant'.", ErrInvalid)
	}
	for _, i := range t.LiveGrants() {
		if o := t.Grants[i]; o.Client == g.Client && o.Resource == g.Resource && o.Principal == g.Principal {
			return 0, fmt.Errorf("%w: Permission entry already exists.", ErrConflict)
		}
	}
	t.Grants = append(t.Grants, g)
	return len(t.Grants) - 1, nil
}

// RemoveGrant deletes a delegated permission grant by id.
func (t *Tenant) RemoveGrant(id ID) error {
	for i, g := range t.Grants {
		if g.ID == id {
			t.Grants = slices.Delete(t.Grants, i, i+1)
			return nil
		}
	}
	return ErrNotFound
}
