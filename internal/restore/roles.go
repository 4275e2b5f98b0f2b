package restore

import (
	"encoding/json"
	"sort"
	"strings"
)

// roleAssignment is a directory role assignment as Graph lists it.
type roleAssignment struct {
	ID               string `json:"id"`
	PrincipalID      string `json:"principalId"`
	RoleDefinitionID string `json:"roleDefinitionId"`
	DirectoryScopeID string `json:"directoryScopeId"`
}

func roleAssignmentOf(id string, raw []byte) roleAssignment {
	var ra roleAssignment
	_ = json.Unmarshal(raw, &ra)
	ra.ID = id
	if ra.DirectoryScopeID == "" {
		ra.DirectoryScopeID = "/"
	}
	return ra
}

// RoleAssignmentBody is what POST roleManagement/directory/roleAssignments
// takes; apply maps the principal and an administrative-unit scope
// through the id map.
type RoleAssignmentBody struct {
	PrincipalID      string `json:"principalId"`
	RoleDefinitionID string `json:"roleDefinitionId"`
	DirectoryScopeID string `json:"directoryScopeId"`
}

type roleDiff struct{ snap, live []roleAssignment }

// actions matches the snapshot's and the tenant's differing assignments by
// (principal through the id map, role, scope): what only the snapshot has
// is added, what only the tenant has is removed with remove_extra_links.
func (d roleDiff) actions(p *Planner) []Action {
	key := func(principal string, ra roleAssignment) string {
		return principal + "|" + ra.RoleDefinitionID + "|" + ResolveScope(ra.DirectoryScopeID, p.idmap)
	}
	live := map[string]roleAssignment{}
	for _, ra := range d.live {
		live[key(ra.PrincipalID, ra)] = ra
	}
	matched := map[string]bool{}
	var out []Action
	for _, ra := range d.snap {
		k := key(p.idmap.Resolve(ra.PrincipalID), ra)
		if _, ok := live[k]; ok {
			matched[k] = true
			continue
		}
		if !p.selected(RoleAssignmentType, ra.ID) && !p.selected(RoleAssignmentType, ra.PrincipalID) {
			continue
		}
		a := Action{Kind: AddRole, Type: RoleAssignmentType, ID: ra.ID, Name: ra.RoleDefinitionID + " → " + ra.PrincipalID,
			Object: mustJSON(RoleAssignmentBody{ra.PrincipalID, ra.RoleDefinitionID, ra.DirectoryScopeID})}
		if !p.opts.Links {
			a.Kind, a.Reason = Skip, "missing role assignment; option links is off"
		}
		out = append(out, a)
	}
	for k, ra := range live {
		if matched[k] || (!p.selected(RoleAssignmentType, ra.ID) && !p.selected(RoleAssignmentType, ra.PrincipalID)) {
			continue
		}
		a := Action{Kind: RemoveRole, Type: RoleAssignmentType, ID: ra.ID, Name: ra.RoleDefinitionID + " → " + ra.PrincipalID,
			Object: mustJSON(RoleAssignmentBody{ra.PrincipalID, ra.RoleDefinitionID, ra.DirectoryScopeID})}
		if !p.opts.RemoveExtraLinks || !p.opts.Links {
			a.Kind, a.Reason = Skip, "role assignment added since the snapshot; option remove_extra_links is off"
		}
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ResolveScope maps the object a directory scope names (an administrative
// unit, an application) through the id map.
func ResolveScope(scope string, m *IDMap) string {
	if au, ok := strings.CutPrefix(scope, "/administrativeUnits/"); ok {
		return "/administrativeUnits/" + m.Resolve(au)
	}
	if id, ok := strings.CutPrefix(scope, "/"); ok && id != "" {
		return "/" + m.Resolve(id)
	}
	return scope
}
