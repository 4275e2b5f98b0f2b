package model

import (
	"bufio"
	"encoding/json"
	"io"
	"slices"
	"strings"
)

// WriteState writes the whole tenant as canonical JSON: objects of each
// type sorted by id with sorted keys, relationships as sorted id lists, role
// assignments, consent grants and logs. It is the ground truth backups are
// checked against. The caller must hold at least RLock.
func (t *Tenant) WriteState(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	enc := json.NewEncoder(bw)
	enc.SetEscapeHTML(false)
	first := true
	field := func(name string, v any) error {
		if !first {
			bw.WriteByte(',')
		}
		first = false
		bw.WriteString(`"` + name + `":`)
		return enc.Encode(v) // trailing newline is valid JSON whitespace
	}
	// objects streams one kind, sorted by id.
	objects := func(name string, k Kind, state State) error {
		var refs []Ref
		for i := 0; i < t.Len(k); i++ {
			r := MakeRef(k, int32(i))
			if t.StateOf(r) == state {
				refs = append(refs, r)
			}
		}
		t.sortRefs(refs)
		if !first {
			bw.WriteByte(',')
		}
		first = false
		bw.WriteString(`"` + name + `":[`)
		for j, r := range refs {
			if j > 0 {
				bw.WriteByte(',')
			}
			if err := enc.Encode(t.Render(r)); err != nil {
				return err
			}
		}
		bw.WriteByte(']')
		return nil
	}
	bw.WriteByte('{')
	steps := []func() error{
		func() error { return field("tenantId", t.ID.String()) },
		func() error { return field("domain", t.Domain) },
		func() error { return field("premium", t.Premium) },
		func() error { return field("organization", t.RenderOrganization()) },
		func() error { return field("subscribedSkus", t.RenderSubscribedSkus()) },
		func() error { return objects("users", KindUser, Live) },
		func() error { return objects("groups", KindGroup, Live) },
		func() error { return objects("administrativeUnits", KindAU, Live) },
		func() error { return objects("applications", KindApp, Live) },
		func() error { return objects("servicePrincipals", KindSP, Live) },
		func() error { return field("applicationKeyCredentials", t.appKeyCredentials()) },
		func() error { return field("oauth2PermissionGrants", t.liveGrants()) },
		func() error { return objects("conditionalAccessPolicies", KindCAPolicy, Live) },
		func() error { return objects("namedLocations", KindNamedLocation, Live) },
		func() error { return objects("deletedUsers", KindUser, SoftDeleted) },
		func() error { return objects("deletedGroups", KindGroup, SoftDeleted) },
		func() error { return objects("deletedAdministrativeUnits", KindAU, SoftDeleted) },
		func() error { return objects("deletedApplications", KindApp, SoftDeleted) },
		func() error { return field("authenticationMethodsPolicy", t.AuthMethodsPolicy) },
		func() error { return field("authorizationPolicy", t.AuthorizationPolicy) },
		func() error { return field("relationships", t.relationships()) },
		func() error {
			return field("roleDefinitions", t.renderAll(len(RoleDefinitions), t.RenderRoleDefinition))
		},
		func() error { return field("roleAssignments", t.liveRoleAssignments()) },
		func() error { return field("consentGrants", t.consentGrants()) },
		func() error { return field("signIns", t.renderAll(len(t.SignIns), t.RenderSignIn)) },
		func() error { return field("directoryAudits", t.renderAll(len(t.Audits), t.RenderAudit)) },
	}
	for _, s := range steps {
		if err := s(); err != nil {
			return err
		}
	}
	bw.WriteString("}\n")
	return bw.Flush()
}

func (t *Tenant) sortRefs(refs []Ref) {
	slices.SortFunc(refs, func(a, b Ref) int {
		x, y := t.Meta(a).ID, t.Meta(b).ID
		return strings.Compare(string(x[:]), string(y[:]))
	})
}

func (t *Tenant) idList(refs []Ref) []string {
	out := make([]string, 0, len(refs))
	for _, r := range refs {
		out = append(out, t.Meta(r).ID.String())
	}
	slices.Sort(out)
	return out
}

// Relationships are the links between objects in the state dump.
type Relationships struct {
	GroupMembers              map[string][]string `json:"groupMembers"`
	GroupOwners               map[string][]string `json:"groupOwners"`
	AdministrativeUnitMembers map[string][]string `json:"administrativeUnitMembers"`
	Managers                  map[string]string   `json:"managers"`
	DirectoryRoleMembers      map[string][]string `json:"directoryRoleMembers"`
	// What a restore of applications needs besides the objects.
	ApplicationOwners            map[string][]string `json:"applicationOwners"`
	ServicePrincipalOwners       map[string][]string `json:"servicePrincipalOwners"`
	FederatedIdentityCredentials map[string][]string `json:"federatedIdentityCredentials"` // ids, by application
	AppRoleAssignedTo            map[string][]string `json:"appRoleAssignedTo"`            // ids, by service principal
}

func (t *Tenant) relationships() Relationships {
	rel := Relationships{GroupMembers: map[string][]string{}, GroupOwners: map[string][]string{},
		AdministrativeUnitMembers: map[string][]string{}, Managers: map[string]string{}, DirectoryRoleMembers: map[string][]string{},
		ApplicationOwners: map[string][]string{}, ServicePrincipalOwners: map[string][]string{},
		FederatedIdentityCredentials: map[string][]string{}, AppRoleAssignedTo: map[string][]string{}}
	for i := range t.Groups {
		r := MakeRef(KindGroup, int32(i))
		if !t.IsLive(r) {
			continue
		}
		if m := t.Members(r, false); len(m) > 0 {
			rel.GroupMembers[t.Groups[i].ID.String()] = t.idList(m)
		}
		if o := t.Members(r, true); len(o) > 0 {
			rel.GroupOwners[t.Groups[i].ID.String()] = t.idList(o)
		}
	}
	for i := range t.AUs {
		r := MakeRef(KindAU, int32(i))
		if t.IsLive(r) {
			if m := t.Members(r, false); len(m) > 0 {
				rel.AdministrativeUnitMembers[t.AUs[i].ID.String()] = t.idList(m)
			}
		}
	}
	for i := range t.Users {
		if t.IsLive(MakeRef(KindUser, int32(i))) {
			if m, ok := t.Manager(int32(i)); ok {
				rel.Managers[t.Users[i].ID.String()] = t.Users[m].ID.String()
			}
		}
	}
	for _, i := range t.ActiveRoles() {
		rel.DirectoryRoleMembers[RoleDefinitions[i].TemplateID] = t.idList(t.RoleMembers(i))
	}
	t.appRelationships(&rel)
	return rel
}

// appRelationships adds the owners, federated credentials and app role
// assignments of live applications and service principals.
func (t *Tenant) appRelationships(rel *Relationships) {
	put := func(m map[string][]string, id string, ids []string) {
		if len(ids) > 0 {
			slices.Sort(ids)
			m[id] = ids
		}
	}
	for i := range t.Apps {
		r := MakeRef(KindApp, int32(i))
		if !t.IsLive(r) {
			continue
		}
		id := t.Apps[i].ID.String()
		put(rel.ApplicationOwners, id, t.idList(t.Members(r, true)))
		var fics []string
		for _, f := range t.Apps[i].FICs {
			fics = append(fics, f["id"].(string))
		}
		put(rel.FederatedIdentityCredentials, id, fics)
	}
	for i := range t.SPs {
		r := MakeRef(KindSP, int32(i))
		if !t.IsLive(r) {
			continue
		}
		id := t.SPs[i].ID.String()
		put(rel.ServicePrincipalOwners, id, t.idList(t.Members(r, true)))
		var assigned []string
		for _, a := range t.AppRoleAssignedTo(int32(i)) {
			assigned = append(assigned, t.AppRoleAssignments[a].ID.String())
		}
		put(rel.AppRoleAssignedTo, id, assigned)
	}
}

// appKeyCredentials are the certificate credentials of live applications
// with their public keys, as a single read that selects them shows them.
func (t *Tenant) appKeyCredentials() []Obj {
	out := []Obj{}
	for i := range t.Apps {
		if t.IsLive(MakeRef(KindApp, int32(i))) {
			out = append(out, Obj{"@odata.type": KindApp.ODataType(), "id": t.Apps[i].ID.String(), "keyCredentials": t.AppKeys(int32(i))})
		}
	}
	slices.SortFunc(out, func(a, b Obj) int { return strings.Compare(a["id"].(string), b["id"].(string)) })
	return out
}

func (t *Tenant) liveGrants() []Obj {
	out := []Obj{}
	for _, i := range t.LiveGrants() {
		out = append(out, t.RenderGrant(i))
	}
	slices.SortFunc(out, func(a, b Obj) int { return strings.Compare(a["id"].(string), b["id"].(string)) })
	return out
}

func (t *Tenant) renderAll(n int, render func(int) Obj) []Obj {
	out := make([]Obj, n)
	for i := range out {
		out[i] = render(i)
	}
	return out
}

func (t *Tenant) liveRoleAssignments() []Obj {
	var out []Obj
	for i, a := range t.RoleAssignments {
		if t.IsLive(a.Principal) {
			out = append(out, t.RenderRoleAssignment(i))
		}
	}
	slices.SortFunc(out, func(a, b Obj) int { return strings.Compare(a["id"].(string), b["id"].(string)) })
	return out
}

// consentGrants lists the roles granted per app (tenant-wide admin consent).
func (t *Tenant) consentGrants() []Obj {
	out := []Obj{}
	for _, id := range sortedKeys(t.granted) {
		roles := slices.Clone(t.granted[id])
		slices.Sort(roles)
		out = append(out, Obj{"clientId": id, "resourceAppId": GraphAppID, "roles": toAny(roles)})
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
