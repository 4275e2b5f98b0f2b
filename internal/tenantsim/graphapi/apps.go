package graphapi

import (
	"net/http"

	"github.com/entravault/entravault/internal/tenantsim/model"
)

// Permissions of what service principals are granted.
var (
	appRoleAssignmentWrite = []string{"AppRoleAssignment.ReadWrite.All"}
	grantsRead             = []string{"DelegatedPermissionGrant.Read.All", "DelegatedPermissionGrant.ReadWrite.All",
		"Directory.Read.All", "Directory.ReadWrite.All"}
	grantsWrite = []string{"DelegatedPermissionGrant.ReadWrite.All"}
)

// appRoutes are the endpoints of applications and service principals
// beyond those every directory kind has.
func appRoutes() []route {
	return []route{
		{"POST", "applications", identity, 1, createKind(model.KindApp, "applications")},
		{"PATCH", "applications/{id}", identity, 1, patchKind(model.KindApp)},
		{"DELETE", "applications/{id}", identity, 1, deleteKind(model.KindApp)},
		{"GET", "applications/{id}/owners", identity, 1, listMembers(model.KindApp, true)},
		{"POST", "applications/{id}/owners/$ref", identity, 1, addMember(model.KindApp, true)},
		{"DELETE", "applications/{id}/owners/{mid}/$ref", identity, 1, removeMember(model.KindApp, true)},
		{"GET", "applications/{id}/federatedIdentityCredentials", identity, 1, listFICs},
		{"POST", "applications/{id}/federatedIdentityCredentials", identity, 1, addFIC},
		{"GET", "applications/{id}/federatedIdentityCredentials/{fid}", identity, 1, getFIC},
		{"PATCH", "applications/{id}/federatedIdentityCredentials/{fid}", identity, 1, patchFIC},

		{"POST", "servicePrincipals", identity, 1, createSP},
		{"PATCH", "servicePrincipals/{id}", identity, 1, patchKind(model.KindSP)},
		{"DELETE", "servicePrincipals/{id}", identity, 1, deleteKind(model.KindSP)},
		{"GET", "servicePrincipals/{id}/owners", identity, 1, listMembers(model.KindSP, true)},
		{"POST", "servicePrincipals/{id}/owners/$ref", identity, 1, addMember(model.KindSP, true)},
		{"DELETE", "servicePrincipals/{id}/owners/{mid}/$ref", identity, 1, removeMember(model.KindSP, true)},
		{"GET", "servicePrincipals/{id}/appRoleAssignedTo", identity, 1, listAppRoleAssignedTo},
		{"POST", "servicePrincipals/{id}/appRoleAssignedTo", identity, 1, addAppRoleAssignment},
		{"DELETE", "servicePrincipals/{id}/appRoleAssignedTo/{aid}", identity, 1, removeAppRoleAssignment},

		{"GET", "oauth2PermissionGrants", identity, 1, listGrants},
		{"GET", "oauth2PermissionGrants/{id}", identity, 1, listGrants},
		{"POST", "oauth2PermissionGrants", identity, 1, addGrant},
		{"PATCH", "oauth2PermissionGrants/{id}", identity, 1, patchGrant},
		{"DELETE", "oauth2PermissionGrants/{id}", identity, 1, removeGrant},
	}
}

// withKeys gives a single read of an application that selects
// keyCredentials the certificates' public keys; lists and delta leave
// them out, as Graph does.
func withKeys(s *Server, c *reqCtx, r model.Ref, o model.Obj) {
	if hasSelect(c.q, "keyCredentials") {
		o["keyCredentials"] = s.t.AppKeys(r.Index())
	}
}

// created answers a create with the new object.
func (s *Server) created(c *reqCtx, context string, o model.Obj) *graphError {
	o["@odata.context"] = c.base + "/$metadata#" + context + "/$entity"
	return s.writeJSON(c, http.StatusCreated, o)
}

// reading serves a read: Graph's permission check, then read under the
// tenant's read lock.
func reading(roles []string, read func(s *Server, c *reqCtx) *graphError) handler {
	return func(s *Server, c *reqCtx) *graphError {
		if e := need(c, roles...); e != nil {
			return e
		}
		s.t.RLock()
		defer s.t.RUnlock()
		return read(s, c)
	}
}

// writing serves a write: Graph's permission check, the JSON body (nil
// for a DELETE), then write under the tenant's write lock.
func writing(roles []string, write func(s *Server, c *reqCtx, body map[string]any) *graphError) handler {
	return func(s *Server, c *reqCtx) *graphError {
		if e := need(c, roles...); e != nil {
			return e
		}
		var body map[string]any
		if c.r.Method != http.MethodDelete {
			var e *graphError
			if body, e = readBody(c); e != nil {
				return e
			}
		}
		s.t.Lock()
		defer s.t.Unlock()
		return write(s, c, body)
	}
}

// noContent answers a write that returns nothing, or its refusal.
func noContent(c *reqCtx, err error, id string) *graphError {
	if err != nil {
		return modelErr(err, id)
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// under runs fn on the live owner of kind k named in the path.
func under(k model.Kind, fn func(s *Server, c *reqCtx, r model.Ref) *graphError) func(*Server, *reqCtx) *graphError {
	return func(s *Server, c *reqCtx) *graphError {
		r, e := s.find(c.segs[1], k)
		if e != nil {
			return e
		}
		return fn(s, c, r)
	}
}

func ficContext(c *reqCtx) string {
	return "applications('" + c.segs[1] + "')/federatedIdentityCredentials"
}

var listFICs = reading(appsRead, under(model.KindApp, func(s *Server, c *reqCtx, r model.Ref) *graphError {
	fics := s.t.FICs(r.Index())
	return s.list(c, source{n: len(fics), context: ficContext(c), at: func(i int) model.Obj { return cloneObj(fics[i]) }})
}))

var addFIC = writing(appsWrite, func(s *Server, c *reqCtx, body map[string]any) *graphError {
	return under(model.KindApp, func(s *Server, c *reqCtx, r model.Ref) *graphError {
		f, err := s.t.AddFIC(r, body)
		if err != nil {
			return modelErr(err, c.segs[1])
		}
		return s.created(c, ficContext(c), cloneObj(f))
	})(s, c)
})

var getFIC = reading(appsRead, under(model.KindApp, func(s *Server, c *reqCtx, r model.Ref) *graphError {
	f, err := s.t.FIC(r, c.segs[3])
	if err != nil {
		return modelErr(err, c.segs[3])
	}
	o := c.q.project(cloneObj(f))
	o["@odata.context"] = c.base + "/$metadata#" + ficContext(c) + "/$entity"
	return s.writeJSON(c, http.StatusOK, o)
}))

var patchFIC = writing(appsWrite, func(s *Server, c *reqCtx, body map[string]any) *graphError {
	return under(model.KindApp, func(s *Server, c *reqCtx, r model.Ref) *graphError {
		return noContent(c, s.t.UpdateFIC(r, c.segs[3], body), c.segs[3])
	})(s, c)
})

var createSP = writing(appsWrite, func(s *Server, c *reqCtx, body map[string]any) *graphError {
	r, err := s.t.CreateSP(body)
	if err != nil {
		return modelErr(err, "")
	}
	return s.created(c, "servicePrincipals", s.t.Render(r))
})

func assignedContext(c *reqCtx) string {
	return "servicePrincipals('" + c.segs[1] + "')/appRoleAssignedTo"
}

var listAppRoleAssignedTo = reading(appsRead, under(model.KindSP, func(s *Server, c *reqCtx, r model.Ref) *graphError {
	list := s.t.AppRoleAssignedTo(r.Index())
	return s.list(c, source{n: len(list), context: assignedContext(c),
		at: func(i int) model.Obj { return s.t.RenderAppRoleAssignment(list[i]) }})
}))

// addAppRoleAssignment assigns an app role of the service principal in the
// path, which the body must name as its resourceId.
var addAppRoleAssignment = writing(appRoleAssignmentWrite, func(s *Server, c *reqCtx, body map[string]any) *graphError {
	return under(model.KindSP, func(s *Server, c *reqCtx, r model.Ref) *graphError {
		principal := stringOf(body["principalId"])
		if stringOf(body["resourceId"]) != s.t.Meta(r).ID.String() {
			return errf(400, "Request_BadRequest", "The resourceId of the assignment must be the service principal it is added to.")
		}
		if e := s.notReplicated(principal); e != nil {
			return e
		}
		i, err := s.t.AddAppRoleAssignment(r, principal, stringOf(body["appRoleId"]))
		if err != nil {
			return modelErr(err, principal)
		}
		return s.created(c, assignedContext(c), s.t.RenderAppRoleAssignment(i))
	})(s, c)
})

var removeAppRoleAssignment = writing(appRoleAssignmentWrite, func(s *Server, c *reqCtx, _ map[string]any) *graphError {
	return under(model.KindSP, func(s *Server, c *reqCtx, r model.Ref) *graphError {
		id, _ := model.ParseID(c.segs[3])
		return noContent(c, s.t.RemoveAppRoleAssignment(r, id), c.segs[3])
	})(s, c)
})

var listGrants = reading(grantsRead, func(s *Server, c *reqCtx) *graphError {
	list := s.t.LiveGrants()
	return s.one(c, 1, source{n: len(list), context: "oauth2PermissionGrants",
		at: func(i int) model.Obj { return s.t.RenderGrant(list[i]) }}, idOf)
})

var addGrant = writing(grantsWrite, func(s *Server, c *reqCtx, body map[string]any) *graphError {
	for _, k := range []string{"clientId", "resourceId", "principalId"} {
		if e := s.notReplicated(stringOf(body[k])); e != nil {
			return e
		}
	}
	i, err := s.t.AddGrant(body)
	if err != nil {
		return modelErr(err, "")
	}
	return s.created(c, "oauth2PermissionGrants", s.t.RenderGrant(i))
})

var patchGrant = writing(grantsWrite, func(s *Server, c *reqCtx, body map[string]any) *graphError {
	id, _ := model.ParseID(c.segs[1])
	return noContent(c, s.t.UpdateGrant(id, body), c.segs[1])
})

var removeGrant = writing(grantsWrite, func(s *Server, c *reqCtx, _ map[string]any) *graphError {
	id, _ := model.ParseID(c.segs[1])
	return noContent(c, s.t.RemoveGrant(id), c.segs[1])
})

// notReplicated refuses a reference to an object created less than the
// consistency delay ago, as Entra does while it replicates.
func (s *Server) notReplicated(id string) *graphError {
	if mid, ok := model.ParseID(id); ok && s.replicating(mid) {
		return errRefMissing(id)
	}
	return nil
}

func stringOf(v any) string { s, _ := v.(string); return s }

func cloneObj(o model.Obj) model.Obj {
	out := make(model.Obj, len(o))
	for k, v := range o {
		out[k] = v
	}
	return out
}
