package model

import (
	"fmt"
	"math"
	"slices"
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
)

// IncidentKinds are the kinds mixed applies, in this order (stripping
// links last, after the deletions that read the membership index).
var IncidentKinds = []string{IncidentSoftDeleteUsers, IncidentHardDeleteUsers, IncidentDeleteGroups,
	IncidentTamperUsers, IncidentRemoveRoleAssignments, IncidentStripGroupLinks}

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
	} else if !slices.Contains(IncidentKinds, kind) {
		return nil, fmt.Errorf("%w: unknown incident kind %q (want one of %v or %s)", ErrInvalid, kind, IncidentKinds, IncidentMixed)
	}
	t.buildMemberOf()
	defer func() { t.memberOf = nil }()
	out := map[string][]string{}
	for _, k := range kinds {
		out[k] = t.incident(k, pct)
	}
	return out, nil
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
		picked := t.pick(cands, pct)
		for j := len(picked) - 1; j >= 0; j-- { // from the end: indexes stay valid
			ids = append(ids, t.RoleAssignments[picked[j]].ID.String())
			t.RoleAssignments = slices.Delete(t.RoleAssignments, picked[j], picked[j]+1)
		}
		slices.Reverse(ids)
		return ids
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
