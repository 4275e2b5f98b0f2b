package model

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Incident kinds: damage a restore has to repair.
const (
	IncidentSoftDeleteUsers       = "soft_delete_users"
	IncidentHardDeleteUsers       = "hard_delete_users"
	IncidentDeleteGroups          = "delete_groups"
	IncidentTamperUsers           = "tamper_users"
	IncidentRemoveRoleAssignments = "remove_role_assignments"
	IncidentStripGroupLinks       = "strip_group_links"
	IncidentMixed                 = "mixed"

	IncidentDeleteApps               = "delete_applications"      // with their service principals, to the recycle bin
	IncidentHardDeleteApps           = "hard_delete_applications" // with their service principals, for good
	IncidentRemoveAppRoleAssignments = "remove_app_role_assignments"
	IncidentDeleteCAPolicies         = "delete_ca_policies"
	IncidentWeakenCAPolicies         = "weaken_ca_policies"     // enforced ones turned off
	IncidentDeleteNamedLocations     = "delete_named_locations" // ones a policy uses
	IncidentWeakenAuthMethods        = "weaken_auth_methods"    // method configurations turned off or loosened
)

// IncidentKinds are the kinds mixed applies, in this order (stripping
// links last, after the deletions that read the membership index).
var IncidentKinds = []string{IncidentSoftDeleteUsers, IncidentHardDeleteUsers, IncidentDeleteGroups,
	IncidentTamperUsers, IncidentRemoveRoleAssignments, IncidentStripGroupLinks}

// AppPolicyIncidentKinds damage applications and conditional access; mixed
// leaves them alone (a directory backup need not hold them).
var AppPolicyIncidentKinds = []string{IncidentDeleteApps, IncidentHardDeleteApps, IncidentRemoveAppRoleAssignments,
	IncidentDeleteCAPolicies, IncidentWeakenCAPolicies, IncidentDeleteNamedLocations, IncidentWeakenAuthMethods}

// Incident damages about pct percent (0 < pct <= 100, at least one) of the
// objects a kind applies to and returns, by kind, the ids it changed (role
// assignment ids for remove_role_assignments, group ids for
// strip_group_links). mixed applies every kind to pct/6 percent. The
// sign-in accounts (AdminUser, SecAdminUser, RegularUser), their links and
// roles, and applications are never touched. It draws from the tenant's
// random stream, so it is deterministic for a given tenant history.
func (t *Tenant) Incident(kind string, pct float64) (map[string][]string, error) {
	if !(pct > 0 && pct <= 100) {
		return nil, fmt.Errorf("%w: percent must be in (0,100]", ErrInvalid)
	}
	kinds := []string{kind}
	if kind == IncidentMixed {
		kinds, pct = IncidentKinds, pct/float64(len(IncidentKinds))
	} else if !slices.Contains(IncidentKinds, kind) && !slices.Contains(AppPolicyIncidentKinds, kind) {
		return nil, fmt.Errorf("%w: unknown incident kind %q (want one of %v, %v or %s)", ErrInvalid, kind, IncidentKinds,
			AppPolicyIncidentKinds, IncidentMixed)
	}
	t.buildMemberOf()
	defer func() { t.memberOf = nil }()
	out := map[string][]string{}
	for _, k := range kinds {
		out[k] = t.incident(k, pct)
	}
	return out, nil
}

// removePicked deletes the picked indexes (ascending) of list and returns
// the ids of what it deleted, in list order.
func removePicked[T any](list *[]T, picked []int, id func(T) ID) []string {
	ids := make([]string, len(picked))
	for j := len(picked) - 1; j >= 0; j-- { // from the end: indexes stay valid
		ids[j] = id((*list)[picked[j]]).String()
		*list = slices.Delete(*list, picked[j], picked[j]+1)
	}
	return ids
}

func protected(r Ref) bool {
	return r.Kind() == KindUser && (r.Index() == AdminUser || r.Index() == SecAdminUser || r.Index() == RegularUser)
}

// pick draws ceil(pct%) of the candidates with the tenant's random stream.
func (t *Tenant) pick(cands []int, pct float64) []int {
	n := int(math.Ceil(float64(len(cands)) * pct / 100))
	for i := 0; i < n; i++ {
		j := i + t.rng.IntN(len(cands)-i)
		cands[i], cands[j] = cands[j], cands[i]
	}
	out := cands[:n]
	slices.Sort(out)
	return out
}

// live lists the indexes of live, unprotected objects of kind k for which
// keep holds.
func (t *Tenant) live(k Kind, keep func(Ref) bool) []int {
	var out []int
	for i := 0; i < t.Len(k); i++ {
		if r := MakeRef(k, int32(i)); t.IsLive(r) && !protected(r) && keep(r) {
			out = append(out, i)
		}
	}
	return out
}

func (t *Tenant) incident(kind string, pct float64) []string {
	if kind == IncidentWeakenAuthMethods {
		return t.weakenAuthMethods(pct)
	}
	if slices.Contains(AppPolicyIncidentKinds, kind) {
		return t.appPolicyIncident(kind, pct)
	}
	ids := []string{}
	k := KindUser
	switch kind {
	case IncidentDeleteGroups, IncidentStripGroupLinks:
		k = KindGroup
	case IncidentRemoveRoleAssignments:
		var cands []int
		for i, a := range t.RoleAssignments {
			if t.IsLive(a.Principal) && !protected(a.Principal) {
				cands = append(cands, i)
			}
		}
		return removePicked(&t.RoleAssignments, t.pick(cands, pct), func(a RoleAssignment) ID { return a.ID })
	}
	keep := func(Ref) bool { return true }
	switch kind {
	case IncidentDeleteGroups: // Graph writes Microsoft 365 and security groups only, not Exchange's
		keep = t.graphWritable
	case IncidentStripGroupLinks:
		keep = func(g Ref) bool {
			return t.graphWritable(g) && len(t.strippable(g, false))+len(t.strippable(g, true)) > 0
		}
	}
	for _, i := range t.pick(t.live(k, keep), pct) {
		r := MakeRef(k, int32(i))
		ids = append(ids, t.Meta(r).ID.String())
		switch kind {
		case IncidentSoftDeleteUsers, IncidentDeleteGroups:
			_ = t.Delete(r) // users and Microsoft 365 groups go to the recycle bin
		case IncidentHardDeleteUsers:
			t.purgeLive(r)
		case IncidentTamperUsers:
			t.tamper(r)
		case IncidentStripGroupLinks:
			for _, owners := range []bool{false, true} {
				list := t.memberList(r, owners)
				*list = slices.DeleteFunc(*list, func(m Ref) bool { // one pass: groups can be huge
					if !t.IsLive(m) || protected(m) {
						return false // hidden links come back with their object
					}
					if !owners {
						t.record(r, OpMemberRemove, m)
					}
					return true
				})
			}
		}
	}
	return ids
}

// graphWritable: a Microsoft 365 or security group (mail-enabled security
// groups and distribution lists belong to Exchange).
func (t *Tenant) graphWritable(g Ref) bool {
	typ := t.Groups[g.Index()].Type
	return typ == GroupM365 || typ == GroupSecurity
}

// strippable lists the live members (owners) of g an incident may remove.
func (t *Tenant) strippable(g Ref, owners bool) []Ref {
	return slices.DeleteFunc(t.Members(g, owners), protected)
}

// tamper changes writable attributes of user r, each to another value.
func (t *Tenant) tamper(r Ref) {
	o := t.Render(r)
	other := func(list []string, cur any) string {
		v := list[t.rng.IntN(len(list))]
		if v == cur {
			v = list[(slices.Index(list, v)+1)%len(list)]
		}
		return v
	}
	name, _ := o["displayName"].(string)
	t.setOver(r, map[string]any{"displayName": name + " (old)", "jobTitle": other(jobTitles, o["jobTitle"]),
		"department": other(departments, o["department"]), "officeLocation": other(cities(), o["officeLocation"]),
		"mobilePhone": fmt.Sprintf("+1 555 01%02d", t.rng.IntN(100))})
	t.record(r, OpUpsert, 0)
}

func cities() []string {
	out := make([]string, len(offices))
	for i, o := range offices {
		out[i] = o.City + " annex"
	}
	return out
}

// appPolicyIncident damages applications or conditional access. The apps
// the simulator signs in with are never touched.
func (t *Tenant) appPolicyIncident(kind string, pct float64) []string {
	ids := []string{}
	switch kind {
	case IncidentRemoveAppRoleAssignments:
		var cands []int
		for i, a := range t.AppRoleAssignments {
			if t.IsLive(a.Principal) && t.IsLive(MakeRef(KindSP, a.Resource)) {
				cands = append(cands, i)
			}
		}
		return removePicked(&t.AppRoleAssignments, t.pick(cands, pct), func(a AppRoleAssignment) ID { return a.ID })
	case IncidentDeleteApps, IncidentHardDeleteApps:
		for _, i := range t.pick(t.live(KindApp, func(r Ref) bool { return lobApp(r.Index()) }), pct) {
			r := MakeRef(KindApp, int32(i))
			ids = append(ids, t.Meta(r).ID.String())
			if sp, ok := t.spOfApp(r.Index()); ok {
				ids = append(ids, t.Meta(sp).ID.String())
			}
			if kind == IncidentDeleteApps {
				_ = t.Delete(r)
			} else {
				t.purgeLive(r)
			}
		}
		return ids
	}
	k, keep := KindCAPolicy, func(Ref) bool { return true }
	switch kind {
	case IncidentWeakenCAPolicies:
		keep = func(r Ref) bool { return t.CAPolicies[r.Index()].Props["state"] == "enabled" }
	case IncidentDeleteNamedLocations:
		k, keep = KindNamedLocation, t.locationInUse
	}
	for _, i := range t.pick(t.live(k, keep), pct) {
		r := MakeRef(k, int32(i))
		ids = append(ids, t.Meta(r).ID.String())
		if kind == IncidentWeakenCAPolicies {
			_ = t.Update(r, map[string]any{"state": "disabled"})
		} else {
			_ = t.Delete(r)
		}
	}
	return ids
}

// locationInUse reports whether a live policy names location r.
func (t *Tenant) locationInUse(r Ref) bool {
	id := t.Meta(r).ID.String()
	for i, p := range t.CAPolicies {
		if !t.IsLive(MakeRef(KindCAPolicy, int32(i))) {
			continue
		}
		cond, _ := p.Props["conditions"].(map[string]any)
		loc, _ := cond["locations"].(map[string]any)
		for _, k := range []string{"includeLocations", "excludeLocations"} {
			if list, _ := loc[k].([]any); slices.Contains(list, any(id)) {
				return true
			}
		}
	}
	return false
}

// weakenAuthMethods turns off pct% of the enabled authentication method
// configurations and loosens what else they enforce (attestation, one-time
// passes), as an attacker lowering the bar would.
func (t *Tenant) weakenAuthMethods(pct float64) []string {
	configs, _ := t.AuthMethodsPolicy["authenticationMethodConfigurations"].([]any)
	var enabled []int
	for i, c := range configs {
		if m, _ := c.(map[string]any); m["state"] == "enabled" {
			enabled = append(enabled, i)
		}
	}
	var ids []string
	for _, i := range t.pick(enabled, pct) {
		m := configs[i].(map[string]any)
		m["state"] = "disabled"
		for _, loosen := range []string{"isAttestationEnforced", "isUsableOnce"} {
			if _, ok := m[loosen]; ok {
				m[loosen] = false
			}
		}
		ids = append(ids, m["id"].(string))
	}
	return ids
}

// AuthMethodConfig is the configuration of one authentication method, by
// id (nil if none).
func (t *Tenant) AuthMethodConfig(id string) map[string]any {
	configs, _ := t.AuthMethodsPolicy["authenticationMethodConfigurations"].([]any)
	for _, c := range configs {
		if m, _ := c.(map[string]any); m != nil && strings.EqualFold(fmt.Sprint(m["id"]), id) {
			return m
		}
	}
	return nil
}
