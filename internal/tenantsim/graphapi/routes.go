package graphapi

import (
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/entravault/entravault/internal/tenantsim/model"
)

type route struct {
	method, pattern string
	class           throttleClass
	cost            int // base resource units (identity class)
	h               handler
}

// routes lists every Graph endpoint the simulator serves. "{id}" matches one
// segment; "delta()" is normalised to "delta" before matching (graph.md §1).
var routes []route

func init() {
	routes = []route{
		{"GET", "users", identity, 2, listKind(model.KindUser, "users")},
		{"GET", "users/delta", identity, 2, deltaKind(model.KindUser, "users")},
		{"GET", "users/{id}", identity, 1, getKind(model.KindUser, "users")},
		{"GET", "users/{id}/manager", identity, 1, getManager},
		{"POST", "users", identity, 1, createKind(model.KindUser, "users")},
		{"PATCH", "users/{id}", identity, 1, patchKind(model.KindUser)},
		{"DELETE", "users/{id}", identity, 1, deleteKind(model.KindUser)},
		{"PUT", "users/{id}/manager/$ref", identity, 1, putManager},
		{"DELETE", "users/{id}/manager/$ref", identity, 1, deleteManager},

		{"GET", "groups", identity, 1, listKind(model.KindGroup, "groups")},
		{"GET", "groups/delta", identity, 1, deltaKind(model.KindGroup, "groups")},
		{"GET", "groups/{id}", identity, 1, getKind(model.KindGroup, "groups")},
		{"GET", "groups/{id}/members", identity, 3, listMembers(model.KindGroup, false)},
		{"GET", "groups/{id}/members/{cast}", identity, 3, listMembers(model.KindGroup, false)},
		{"GET", "groups/{id}/owners", identity, 1, listMembers(model.KindGroup, true)},
		{"POST", "groups", identity, 1, createKind(model.KindGroup, "groups")},
		{"PATCH", "groups/{id}", identity, 1, patchKind(model.KindGroup)},
		{"DELETE", "groups/{id}", identity, 1, deleteKind(model.KindGroup)},
		{"POST", "groups/{id}/members/$ref", identity, 1, addMember(model.KindGroup, false)},
		{"DELETE", "groups/{id}/members/{mid}/$ref", identity, 1, removeMember(model.KindGroup, false)},
		{"POST", "groups/{id}/owners/$ref", identity, 1, addMember(model.KindGroup, true)},
		{"DELETE", "groups/{id}/owners/{mid}/$ref", identity, 1, removeMember(model.KindGroup, true)},

		{"GET", "directory/administrativeUnits", identity, 1, listKind(model.KindAU, "directory/administrativeUnits")},
		{"GET", "directory/administrativeUnits/delta", identity, 1, deltaKind(model.KindAU, "directory/administrativeUnits")},
		{"GET", "directory/administrativeUnits/{id}", identity, 1, getKind(model.KindAU, "directory/administrativeUnits")},
		{"GET", "directory/administrativeUnits/{id}/members", identity, 1, listMembers(model.KindAU, false)},
		{"POST", "directory/administrativeUnits", identity, 1, createKind(model.KindAU, "directory/administrativeUnits")},
		{"PATCH", "directory/administrativeUnits/{id}", identity, 1, patchKind(model.KindAU)},
		{"DELETE", "directory/administrativeUnits/{id}", identity, 1, deleteKind(model.KindAU)},
		{"POST", "directory/administrativeUnits/{id}/members/$ref", identity, 1, addMember(model.KindAU, false)},
		{"DELETE", "directory/administrativeUnits/{id}/members/{mid}/$ref", identity, 1, removeMember(model.KindAU, false)},

		{"GET", "directory/deletedItems/{cast}", identity, 1, listDeleted},
		{"GET", "directory/deletedItems/{id}", identity, 1, listDeleted},
		{"POST", "directory/deletedItems/{id}/restore", identity, 1, restoreDeleted},
		{"DELETE", "directory/deletedItems/{id}", identity, 1, purgeDeleted},

		{"GET", "applications", identity, 2, listKind(model.KindApp, "applications")},
		{"GET", "applications/delta", identity, 2, deltaKind(model.KindApp, "applications")},
		{"GET", "applications/{id}", identity, 1, getKindWith(model.KindApp, "applications", withKeys)},
		{"GET", "servicePrincipals", identity, 1, listKind(model.KindSP, "servicePrincipals")},
		{"GET", "servicePrincipals/delta", identity, 1, deltaKind(model.KindSP, "servicePrincipals")},
		{"GET", "servicePrincipals/{id}", identity, 1, getSP},

		{"GET", "identity/conditionalAccess/policies", conditionalAccess, 1, listKind(model.KindCAPolicy, "identity/conditionalAccess/policies")},
		{"GET", "identity/conditionalAccess/policies/{id}", conditionalAccess, 1, getKind(model.KindCAPolicy, "identity/conditionalAccess/policies")},
		{"POST", "identity/conditionalAccess/policies", conditionalAccess, 1, createKind(model.KindCAPolicy, "identity/conditionalAccess/policies")},
		{"PATCH", "identity/conditionalAccess/policies/{id}", conditionalAccess, 1, patchKind(model.KindCAPolicy)},
		{"DELETE", "identity/conditionalAccess/policies/{id}", conditionalAccess, 1, deleteKind(model.KindCAPolicy)},
		{"GET", "identity/conditionalAccess/namedLocations", conditionalAccess, 1, listKind(model.KindNamedLocation, "identity/conditionalAccess/namedLocations")},
		{"GET", "identity/conditionalAccess/namedLocations/{id}", conditionalAccess, 1, getKind(model.KindNamedLocation, "identity/conditionalAccess/namedLocations")},
		{"POST", "identity/conditionalAccess/namedLocations", conditionalAccess, 1, createKind(model.KindNamedLocation, "identity/conditionalAccess/namedLocations")},
		{"PATCH", "identity/conditionalAccess/namedLocations/{id}", conditionalAccess, 1, patchKind(model.KindNamedLocation)},
		{"DELETE", "identity/conditionalAccess/namedLocations/{id}", conditionalAccess, 1, deleteKind(model.KindNamedLocation)},

		{"GET", "policies/authenticationMethodsPolicy", identity, 1, singleton("policies/authenticationMethodsPolicy", authMRead, func(t *model.Tenant) model.Obj { return t.AuthMethodsPolicy })},
		{"GET", "policies/authorizationPolicy", identity, 1, singleton("policies/authorizationPolicy/$entity", authZRead, func(t *model.Tenant) model.Obj { return t.AuthorizationPolicy })},
		{"PATCH", "policies/authenticationMethodsPolicy", identity, 1, patchSingleton([]string{"Policy.ReadWrite.AuthenticationMethod"},
			authMWritable, func(t *model.Tenant) model.Obj { return t.AuthMethodsPolicy })},
		{"PATCH", "policies/authorizationPolicy", identity, 1, patchSingleton([]string{"Policy.ReadWrite.Authorization"},
			authZWritable, func(t *model.Tenant) model.Obj { return t.AuthorizationPolicy })},
		{"GET", "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{id}", identity, 1, getAuthMethodConfig},
		{"PATCH", "policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{id}", identity, 1, patchAuthMethodConfig},

		{"GET", "roleManagement/directory/roleDefinitions", identity, 1, listRoleDefinitions},
		{"GET", "roleManagement/directory/roleDefinitions/{id}", identity, 1, listRoleDefinitions},
		{"GET", "roleManagement/directory/roleAssignments", identity, 1, listRoleAssignments},
		{"GET", "roleManagement/directory/roleAssignments/{id}", identity, 1, listRoleAssignments},
		{"POST", "roleManagement/directory/roleAssignments", identity, 1, createRoleAssignment},
		{"DELETE", "roleManagement/directory/roleAssignments/{id}", identity, 1, deleteRoleAssignment},
		{"GET", "directoryRoles", identity, 1, listDirectoryRoles},
		{"GET", "directoryRoles/{id}", identity, 1, listDirectoryRoles},
		{"GET", "directoryRoles/{id}/members", identity, 1, listDirectoryRoleMembers},

		{"GET", "organization", identity, 1, listOrganization},
		{"GET", "organization/{id}", identity, 1, listOrganization},
		{"GET", "subscribedSkus", identity, 3, listSkus},

		{"GET", "auditLogs/signIns", reports, 1, listSignIns},
		{"GET", "auditLogs/signIns/{id}", reports, 1, listSignIns},
		{"GET", "auditLogs/directoryAudits", reports, 1, listAudits},
		{"GET", "auditLogs/directoryAudits/{id}", reports, 1, listAudits},
	}
	routes = append(routes, appRoutes()...)
}

// route finds the handler of a request, its route name for counters and
// its throttling class.
func (s *Server) route(method string, segs []string) (handler, string, throttleClass) {
	if len(segs) > 0 && strings.HasPrefix(segs[0], "servicePrincipals(") { // servicePrincipals(appId='…')
		key := strings.TrimSuffix(strings.TrimPrefix(segs[0], "servicePrincipals("), ")")
		segs = append([]string{"servicePrincipals", "(" + key + ")"}, segs[1:]...)
	}
	norm := make([]string, len(segs))
	for i, p := range segs {
		norm[i] = strings.TrimSuffix(p, "()")
	}
	var found *route
	for i := range routes {
		rt := &routes[i]
		if rt.method == method && matchPattern(rt.pattern, norm) {
			// Literal segments beat {id}: "users/delta" over "users/{id}".
			if found == nil || literalCount(rt.pattern) > literalCount(found.pattern) {
				found = rt
			}
		}
	}
	if found == nil {
		for i := range routes {
			if matchPattern(routes[i].pattern, norm) {
				return func(*Server, *reqCtx) *graphError { return errMethod }, routes[i].pattern, identity
			}
		}
		return nil, "unknown", identity
	}
	rt := *found
	return func(s *Server, c *reqCtx) *graphError {
		c.segs = segs
		return rt.h(s, c)
	}, rt.pattern, throttleClass{kind: rt.class.kind, cost: rt.cost, write: method != "GET"}
}

func matchPattern(p string, segs []string) bool {
	ps := strings.Split(p, "/")
	if len(ps) != len(segs) {
		return false
	}
	for i, x := range ps {
		if strings.HasPrefix(x, "{") {
			continue
		}
		if !strings.EqualFold(x, segs[i]) {
			return false
		}
	}
	return true
}

func literalCount(p string) int { return len(strings.Split(p, "/")) - strings.Count(p, "{") }

// listRefs lists refs, the filter already applied.
func (s *Server) listRefs(c *reqCtx, refs []model.Ref, context string) *graphError {
	q := *c.q
	q.filter = nil
	c.q = &q
	return s.list(c, s.refs(refs, context))
}

func listKind(k model.Kind, context string) handler {
	return func(s *Server, c *reqCtx) *graphError {
		if e := need(c, readRoles(k)...); e != nil {
			return e
		}
		// Advanced queries on directory objects need $count=true and
		// ConsistencyLevel: eventual (aad-advanced-queries.md).
		if k != model.KindCAPolicy && k != model.KindNamedLocation && !c.q.count {
			for _, op := range []string{"endswith", "ne", "not"} {
				if c.q.filter.uses(op) {
					name := map[string]string{"endswith": "endsWith", "ne": "ne", "not": "not"}[op]
					return errf(400, "Request_UnsupportedQuery", "Operator '"+name+"' is not supported because the required parameters might be missing. "+
						"Try adding $count=true query parameter and ConsistencyLevel:eventual header. Refer to https://aka.ms/graph-docs/advanced-queries for more information")
				}
			}
		}
		s.t.RLock()
		defer s.t.RUnlock()
		// Fast paths, no scan: filters on ids, and users by UPN (a
		// restore looks every re-created user up by it).
		if ids, ok := c.q.filter.idSet(); ok {
			var refs []model.Ref
			for _, id := range ids {
				if r, err := s.find(id, k); err == nil {
					refs = append(refs, r)
				}
			}
			return s.listRefs(c, refs, context)
		}
		if upns, ok := c.q.filter.valuesOf("userPrincipalName"); ok && k == model.KindUser {
			var refs []model.Ref
			for _, upn := range upns {
				if r, ok := s.t.UserByUPN(upn); ok {
					refs = append(refs, r)
				}
			}
			return s.listRefs(c, refs, context)
		}
		src := s.objects(k, context)
		if k == model.KindGroup || k == model.KindAU {
			typeName := "microsoft.graph.group"
			props := []string{"members", "owners"}
			if k == model.KindAU {
				typeName, props = "microsoft.graph.administrativeUnit", []string{"members"}
			}
			e, ge := parseExpand(c, typeName, props...)
			if ge != nil {
				return ge
			}
			if e != nil {
				src = s.expandMembers(c, src, e)
			}
		}
		if k == model.KindUser && hasSelect(c.q, "signInActivity") {
			// Graph: signInActivity needs AuditLog.Read.All and P1/P2, and
			// caps pages at 500.
			if !c.caller.has("AuditLog.Read.All") {
				return errMissingPermission("AuditLog.Read.All")
			}
			if !s.t.Premium {
				return errNonPremium
			}
			src.defTop, src.maxTop = 100, 500
			at := src.at
			src.at = func(i int) model.Obj {
				o := at(i)
				if o != nil {
					o["signInActivity"] = s.t.SignInActivity(int32(i))
				}
				return o
			}
		}
		return s.list(c, src)
	}
}

func getKind(k model.Kind, context string) handler { return getKindWith(k, context, nil) }

// getKindWith serves one object, which more (if not nil) adds to before
// the projection.
func getKindWith(k model.Kind, context string, more func(*Server, *reqCtx, model.Ref, model.Obj)) handler {
	return func(s *Server, c *reqCtx) *graphError {
		if e := need(c, readRoles(k)...); e != nil {
			return e
		}
		s.t.RLock()
		defer s.t.RUnlock()
		r, e := s.find(c.segs[len(c.segs)-1], k)
		if e != nil {
			return e
		}
		o := s.t.Render(r)
		if more != nil {
			more(s, c, r, o)
		}
		o = c.q.project(o)
		o["@odata.context"] = c.base + "/$metadata#" + context + "/$entity"
		return s.writeJSON(c, 200, o)
	}
}

func getSP(s *Server, c *reqCtx) *graphError {
	key := c.segs[1]
	if !strings.HasPrefix(key, "(") {
		return getKind(model.KindSP, "servicePrincipals")(s, c)
	}
	if e := need(c, appsRead...); e != nil {
		return e
	}
	appID := strings.Trim(strings.TrimPrefix(strings.Trim(key, "()"), "appId="), "'")
	s.t.RLock()
	defer s.t.RUnlock()
	i, ok := s.t.SPByAppID(appID)
	if !ok {
		return errNotFound(appID)
	}
	o := c.q.project(s.t.Render(model.MakeRef(model.KindSP, i)))
	o["@odata.context"] = c.base + "/$metadata#servicePrincipals/$entity"
	return s.writeJSON(c, 200, o)
}

func getManager(s *Server, c *reqCtx) *graphError {
	if e := need(c, usersRead...); e != nil {
		return e
	}
	s.t.RLock()
	defer s.t.RUnlock()
	r, e := s.find(c.segs[1], model.KindUser)
	if e != nil {
		return e
	}
	m, ok := s.t.Manager(r.Index())
	if !ok {
		return errNotFound("manager")
	}
	o := c.q.project(s.t.Render(model.MakeRef(model.KindUser, m)))
	o["@odata.context"] = c.base + "/$metadata#directoryObjects/$entity"
	return s.writeJSON(c, 200, o)
}

// castKind maps an OData cast segment to a kind (both spellings, graph.md §1).
func castKind(seg string) (model.Kind, bool) {
	switch strings.TrimPrefix(strings.TrimPrefix(seg, "microsoft."), "graph.") {
	case "user":
		return model.KindUser, true
	case "group":
		return model.KindGroup, true
	case "servicePrincipal":
		return model.KindSP, true
	case "application":
		return model.KindApp, true
	case "administrativeUnit":
		return model.KindAU, true
	}
	return 0, false
}

func listMembers(k model.Kind, owners bool) handler {
	return func(s *Server, c *reqCtx) *graphError {
		if e := need(c, readRoles(k)...); e != nil {
			return e
		}
		s.t.RLock()
		defer s.t.RUnlock()
		idx := 1
		if k == model.KindAU {
			idx = 2
		}
		r, e := s.find(c.segs[idx], k)
		if e != nil {
			return e
		}
		list := s.t.Members(r, owners)
		ctx := "directoryObjects"
		if len(c.segs) > idx+2 { // members/microsoft.graph.user
			ck, ok := castKind(c.segs[idx+2])
			if !ok || (ck != model.KindUser && ck != model.KindGroup && ck != model.KindSP) {
				return errf(400, "Request_UnsupportedQuery", "The type cast is not supported for this collection.")
			}
			var filtered []model.Ref
			for _, m := range list {
				if m.Kind() == ck {
					filtered = append(filtered, m)
				}
			}
			list, ctx = filtered, strings.TrimPrefix(ck.ODataType(), "#microsoft.graph.")+"s"
		}
		return s.list(c, s.refs(list, ctx))
	}
}

func singleton(context string, roles []string, get func(*model.Tenant) model.Obj) handler {
	return func(s *Server, c *reqCtx) *graphError {
		if e := need(c, roles...); e != nil {
			return e
		}
		s.t.RLock()
		defer s.t.RUnlock()
		o := c.q.project(get(s.t))
		out := make(model.Obj, len(o)+1)
		for k, v := range o {
			out[k] = v
		}
		out["@odata.context"] = c.base + "/$metadata#" + context
		return s.writeJSON(c, 200, out)
	}
}

// getAuthMethodConfig serves one authentication method's configuration.
func getAuthMethodConfig(s *Server, c *reqCtx) *graphError {
	if e := need(c, authMRead...); e != nil {
		return e
	}
	s.t.RLock()
	defer s.t.RUnlock()
	m := s.t.AuthMethodConfig(c.segs[3])
	if m == nil {
		return errf(404, "Request_ResourceNotFound", "Authentication method configuration '"+c.segs[3]+"' does not exist.")
	}
	out := model.Obj{"@odata.context": c.base + "/$metadata#policies/authenticationMethodsPolicy/authenticationMethodConfigurations/$entity"}
	for k, v := range c.q.project(m) {
		out[k] = v
	}
	out["@odata.type"] = m["@odata.type"] // derived types always say theirs
	return s.writeJSON(c, 200, out)
}

// patchAuthMethodConfig updates one method's configuration: its id and
// type cannot change, and the body must name the type (Graph's rule).
func patchAuthMethodConfig(s *Server, c *reqCtx) *graphError {
	if e := need(c, "Policy.ReadWrite.AuthenticationMethod"); e != nil {
		return e
	}
	body, e := readBody(c)
	if e != nil {
		return e
	}
	s.t.Lock()
	defer s.t.Unlock()
	m := s.t.AuthMethodConfig(c.segs[3])
	switch {
	case m == nil:
		return errf(404, "Request_ResourceNotFound", "Authentication method configuration '"+c.segs[3]+"' does not exist.")
	case body["@odata.type"] != m["@odata.type"]:
		return errf(400, "BadRequest", "The request body must name the configuration's @odata.type.")
	}
	for k, v := range body {
		if _, known := m[k]; !known || k == "id" {
			return errf(400, "Request_BadRequest", "Property '"+k+"' is read-only or unknown and cannot be set.")
		}
		m[k] = v
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// Properties a PATCH may set on the tenant's policy singletons; the
// authentication method configurations have endpoints of their own.
var (
	authMWritable = []string{"displayName", "description", "registrationEnforcement", "reportSuspiciousActivitySettings",
		"systemCredentialPreferences", "policyMigrationState"}
	authZWritable = []string{"displayName", "description", "allowInvitesFrom", "allowedToSignUpEmailBasedSubscriptions",
		"allowedToUseSSPR", "allowEmailVerifiedUsersToJoinOrganization", "allowUserConsentForRiskyApps", "blockMsolPowerShell",
		"guestUserRoleId", "defaultUserRolePermissions"}
)

// patchSingleton updates a policy singleton; any other property is
// refused, as Graph does, and a refused PATCH changes nothing.
func patchSingleton(roles, writable []string, get func(*model.Tenant) model.Obj) handler {
	return func(s *Server, c *reqCtx) *graphError {
		if e := need(c, roles...); e != nil {
			return e
		}
		body, e := readBody(c)
		if e != nil {
			return e
		}
		for k := range body {
			if !slices.Contains(writable, k) {
				return errf(400, "Request_BadRequest", "Property '"+k+"' is read-only or unknown and cannot be set.")
			}
		}
		s.t.Lock()
		defer s.t.Unlock()
		o := get(s.t)
		for k, v := range body {
			o[k] = v
		}
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

// one serves either the collection or, when the path has an id, one item.
func (s *Server) one(c *reqCtx, depth int, src source, idOf func(model.Obj) string) *graphError {
	if len(c.segs) <= depth {
		return s.list(c, src)
	}
	id := c.segs[depth]
	for i := 0; i < src.n; i++ {
		if o := src.at(i); o != nil && strings.EqualFold(idOf(o), id) {
			o = c.q.project(o)
			o["@odata.context"] = c.base + "/$metadata#" + src.context + "/$entity"
			return s.writeJSON(c, 200, o)
		}
	}
	return errNotFound(id)
}

func idOf(o model.Obj) string { s, _ := o["id"].(string); return s }

func listRoleDefinitions(s *Server, c *reqCtx) *graphError {
	if e := need(c, rolesRead...); e != nil {
		return e
	}
	src := source{n: len(model.RoleDefinitions), context: "roleManagement/directory/roleDefinitions",
		at: func(i int) model.Obj { return s.t.RenderRoleDefinition(i) }}
	return s.one(c, 3, src, idOf)
}

func listRoleAssignments(s *Server, c *reqCtx) *graphError {
	if e := need(c, rolesRead...); e != nil {
		return e
	}
	s.t.RLock()
	defer s.t.RUnlock()
	src := source{n: len(s.t.RoleAssignments), context: "roleManagement/directory/roleAssignments",
		at: func(i int) model.Obj {
			if !s.t.IsLive(s.t.RoleAssignments[i].Principal) {
				return nil
			}
			o := s.t.RenderRoleAssignment(i)
			if strings.Contains(c.r.URL.Query().Get("$expand"), "principal") {
				o["principal"] = s.t.Render(s.t.RoleAssignments[i].Principal)
			}
			return o
		}}
	return s.one(c, 3, src, idOf)
}

func listDirectoryRoles(s *Server, c *reqCtx) *graphError {
	if e := need(c, rolesRead...); e != nil {
		return e
	}
	s.t.RLock()
	defer s.t.RUnlock()
	active := s.t.ActiveRoles()
	src := source{n: len(active), context: "directoryRoles", noTop: true,
		at: func(i int) model.Obj { return s.t.RenderDirectoryRole(active[i]) }}
	return s.one(c, 1, src, idOf)
}

func listDirectoryRoleMembers(s *Server, c *reqCtx) *graphError {
	if e := need(c, rolesRead...); e != nil {
		return e
	}
	s.t.RLock()
	defer s.t.RUnlock()
	for _, i := range s.t.ActiveRoles() {
		if strings.EqualFold(s.t.DirRoleIDs[i].String(), c.segs[1]) || c.segs[1] == "roleTemplateId="+model.RoleDefinitions[i].TemplateID {
			return s.list(c, s.refs(s.t.RoleMembers(i), "directoryObjects"))
		}
	}
	return errNotFound(c.segs[1])
}

func listOrganization(s *Server, c *reqCtx) *graphError {
	if e := need(c, orgRead...); e != nil {
		return e
	}
	s.t.RLock()
	defer s.t.RUnlock()
	org := s.t.RenderOrganization()
	return s.one(c, 1, source{n: 1, context: "organization", at: func(int) model.Obj { return org }}, idOf)
}

func listSkus(s *Server, c *reqCtx) *graphError {
	if e := need(c, append([]string{"Organization.Read.All", "Organization.ReadWrite.All"}, "Directory.Read.All", "Directory.ReadWrite.All")...); e != nil {
		return e
	}
	if c.q.filter != nil {
		return errf(400, "Request_UnsupportedQuery", "Filter is not supported on this resource.")
	}
	s.t.RLock()
	defer s.t.RUnlock()
	skus := s.t.RenderSubscribedSkus()
	return s.list(c, source{n: len(skus), context: "subscribedSkus", noTop: true, at: func(i int) model.Obj { return skus[i] }})
}

// logSource lists log records newest first, narrowed by binary search to the
// time range of the filter.
func (s *Server) logSource(c *reqCtx, n int, at func(int) int64, render func(int) model.Obj, prop, context string) source {
	from, to := c.q.filter.timeRange(prop)
	lo, hi := 0, n
	if !from.IsZero() {
		lo = sort.Search(n, func(i int) bool { return at(i) >= from.UnixNano() })
	}
	if !to.IsZero() {
		hi = sort.Search(n, func(i int) bool { return at(i) > to.UnixNano() })
	}
	hi = max(hi, lo)
	return source{n: hi - lo, context: context, defTop: 1000, maxTop: 1000,
		at: func(i int) model.Obj { return render(hi - 1 - i) }}
}

func listSignIns(s *Server, c *reqCtx) *graphError {
	if !c.caller.has("AuditLog.Read.All") {
		return errMissingPermission("AuditLog.Read.All")
	}
	s.t.RLock()
	defer s.t.RUnlock()
	if !s.t.Premium {
		return errNonPremium
	}
	src := s.logSource(c, len(s.t.SignIns), s.t.SignInTime, s.t.RenderSignIn, "createdDateTime", "auditLogs/signIns")
	return s.one(c, 2, src, idOf)
}

func listAudits(s *Server, c *reqCtx) *graphError {
	if !c.caller.has("AuditLog.Read.All") {
		return errMissingPermission("AuditLog.Read.All")
	}
	s.t.RLock()
	defer s.t.RUnlock()
	src := s.logSource(c, len(s.t.Audits), s.t.AuditTime, s.t.RenderAudit, "activityDateTime", "auditLogs/directoryAudits")
	return s.one(c, 2, src, idOf)
}

// listDeleted serves directory/deletedItems/microsoft.graph.user (or
// graph.user, group, application, administrativeUnit) and deletedItems/{id}.
func listDeleted(s *Server, c *reqCtx) *graphError {
	s.t.RLock()
	defer s.t.RUnlock()
	k, isCast := castKind(c.segs[2])
	if !isCast {
		mid, ok := model.ParseID(c.segs[2])
		if !ok {
			return errf(400, "Request_BadRequest", "Invalid object identifier '"+c.segs[2]+"'.")
		}
		r, ok := s.t.Lookup(mid)
		if !ok || s.t.StateOf(r) != model.SoftDeleted {
			return errNotFound(c.segs[2])
		}
		if e := need(c, readRoles(r.Kind())...); e != nil {
			return e
		}
		o := c.q.project(s.t.Render(r))
		o["@odata.context"] = c.base + "/$metadata#directoryObjects/$entity"
		return s.writeJSON(c, 200, o)
	}
	if e := need(c, readRoles(k)...); e != nil {
		return e
	}
	t := s.t
	return s.list(c, source{n: t.Len(k), context: "directory/deletedItems/" + strings.TrimPrefix(k.ODataType(), "#"),
		at: func(i int) model.Obj {
			r := model.MakeRef(k, int32(i))
			if t.StateOf(r) != model.SoftDeleted {
				return nil
			}
			return t.Render(r)
		}})
}
