package model

import (
	"fmt"
	"slices"
	"strings"
)

// RoleByID finds a built-in role by its roleDefinitionId (the template id).
func RoleByID(id string) (int, bool) {
	i := slices.IndexFunc(RoleDefinitions, func(d RoleDefinition) bool { return strings.EqualFold(d.TemplateID, id) })
	return i, i >= 0
}

// AddRoleAssignment assigns a built-in role to a live principal at a
// directory scope ("" = "/"), as POST roleManagement/directory/roleAssignments
// does, and returns the new assignment's index.
func (t *Tenant) AddRoleAssignment(principalID, roleID, scope string) (int, error) {
	for _, p := range [][2]string{{"principalId", principalID}, {"roleDefinitionId", roleID}} {
		if p[1] == "" {
			return 0, fmt.Errorf("%w: A value is required for property '%s' of resource 'UnifiedRoleAssignment'.", ErrInvalid, p[0])
		}
	}
	role, ok := RoleByID(roleID)
	if !ok {
		return 0, fmt.Errorf("%w: The role definition '%s' was not found.", ErrInvalid, roleID)
	}
	id, _ := ParseID(principalID)
	p, ok := t.byID[id]
	if !ok || !t.IsLive(p) {
		return 0, ErrRefMissing
	}
	switch k := p.Kind(); {
	case k == KindGroup && t.Render(p)["isAssignableToRole"] != true:
		return 0, fmt.Errorf("%w: Only groups with isAssignableToRole set can be assigned a directory role.", ErrInvalid)
	case k != KindUser && k != KindGroup && k != KindSP:
		return 0, fmt.Errorf("%w: The principal '%s' cannot be assigned a directory role.", ErrInvalid, principalID)
	}
	if scope == "" {
		scope = "/"
	}
	if err := t.checkScope(scope); err != nil {
		return 0, err
	}
	for _, a := range t.RoleAssignments {
		if a.Principal == p && a.Role == role && a.Scope() == scope {
			return 0, fmt.Errorf("%w: A conflicting object with one or more of the specified property values is present in the directory.", ErrConflict)
		}
	}
	t.RoleAssignments = append(t.RoleAssignments, RoleAssignment{ID: newID(t.rng), Principal: p, Role: role, DirectoryScope: scope})
	return len(t.RoleAssignments) - 1, nil
}

// checkScope accepts "/", "/administrativeUnits/{live unit}" and
// "/{live application}".
func (t *Tenant) checkScope(scope string) error {
	if scope == "/" {
		return nil
	}
	k, rest := KindApp, strings.TrimPrefix(scope, "/")
	if au, ok := strings.CutPrefix(scope, "/administrativeUnits/"); ok {
		k, rest = KindAU, au
	}
	id, _ := ParseID(rest)
	if r, ok := t.byID[id]; ok && r.Kind() == k && t.IsLive(r) {
		return nil
	}
	return fmt.Errorf("%w: Invalid value specified for property 'directoryScopeId' of resource 'UnifiedRoleAssignment'.", ErrInvalid)
}

// RemoveRoleAssignment deletes the assignment with id (of a live principal).
func (t *Tenant) RemoveRoleAssignment(id ID) error {
	i := slices.IndexFunc(t.RoleAssignments, func(a RoleAssignment) bool { return a.ID == id && t.IsLive(a.Principal) })
	if i < 0 {
		return ErrNotFound
	}
	t.RoleAssignments = slices.Delete(t.RoleAssignments, i, i+1)
	return nil
}
