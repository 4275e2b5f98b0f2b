package graphapi

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/entravault/entravault/internal/tenantsim/model"
)

// modelErr maps model errors to Graph errors (messages as Graph words them).
func modelErr(err error, id string) *graphError {
	var pe *model.PropError
	errors.As(err, &pe)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, model.ErrReadOnly):
		return errf(400, "Request_BadRequest", "Property '"+pe.Props[0]+"' is read-only and cannot be set.")
	case errors.Is(err, model.ErrUnknownProperty):
		return errf(400, "Request_BadRequest", "Invalid property '"+pe.Props[0]+"'.")
	case errors.Is(err, model.ErrSynced):
		e := errf(400, "Request_BadRequest", "Unable to update the specified properties for objects that have originated within an external service.")
		e.details = []any{map[string]any{"code": "AzureActiveDirectoryCannotUpdateObjectsOriginatedInExternalService",
			"message": "Unable to update the specified properties for on-premises mastered Directory Sync objects.", "target": strings.Join(pe.Props, ",")}}
		return e
	case errors.Is(err, model.ErrLinkExists):
		return errf(400, "Request_BadRequest", "One or more added object references already exist for the following modified properties: '"+
			strings.Join(pe.Props, "', '")+"'.")
	case errors.Is(err, model.ErrRefMissing):
		return errRefMissing(id)
	case errors.Is(err, model.ErrNotFound):
		return errNotFound(id)
	case errors.Is(err, model.ErrNotRestorable):
		return errf(400, "Request_BadRequest", "Security groups cannot be restored.")
	}
	// The model's message after its sentinel is Graph's.
	msg := err.Error()
	if parts := strings.SplitN(msg, ": ", 3); len(parts) == 3 {
		msg = parts[2]
	}
	return errf(400, "Request_BadRequest", msg)
}

func idSeg(c *reqCtx, k model.Kind) string {
	switch k {
	case model.KindAU:
		return c.segs[2]
	case model.KindCAPolicy, model.KindNamedLocation:
		return c.segs[3]
	}
	return c.segs[1]
}

func createKind(k model.Kind, context string) handler {
	return func(s *Server, c *reqCtx) *graphError {
		if e := need(c, writeRoles(k)...); e != nil {
			return e
		}
		body, e := readBody(c)
		if e != nil {
			return e
		}
		s.t.Lock()
		defer s.t.Unlock()
		// Graph accepts members@odata.bind / owners@odata.bind on group
		// create; resolved first, so a missing one creates nothing.
		var members, owners []model.Ref
		if k == model.KindGroup {
			if members, owners, e = s.binds(body); e != nil {
				return e
			}
		}
		r, err := s.t.Create(k, body)
		if err != nil {
			return modelErr(err, "")
		}
		if err := s.t.AddLinks(r, members, owners); err != nil {
			return modelErr(err, "")
		}
		if d := s.faults.consistencyDelay(); d > 0 {
			s.born[s.t.Meta(r).ID] = s.now()
		}
		o := s.t.Render(r)
		o["@odata.context"] = c.base + "/$metadata#" + context + "/$entity"
		return s.writeJSON(c, http.StatusCreated, o)
	}
}

// maxBinds is Graph's limit of references added by one request.
const maxBinds = 20

// binds takes members@odata.bind and owners@odata.bind out of a group
// body and resolves them.
func (s *Server) binds(body map[string]any) (members, owners []model.Ref, e *graphError) {
	n := 0
	for _, key := range []string{"members@odata.bind", "owners@odata.bind"} {
		v, ok := body[key]
		if !ok {
			continue
		}
		delete(body, key)
		list, ok := v.([]any)
		if n += len(list); !ok || n > maxBinds {
			return nil, nil, errf(400, "Request_BadRequest", fmt.Sprintf("Invalid value for %s: an array of at most %d references in all is allowed.", key, maxBinds))
		}
		for _, v := range list {
			m, e := s.linkTarget(v)
			if e != nil {
				return nil, nil, e
			}
			if key == "owners@odata.bind" {
				owners = append(owners, m)
			} else {
				members = append(members, m)
			}
		}
	}
	return members, owners, nil
}

// linkTarget resolves an @odata.id / @odata.bind URL to the live object a
// link may name: one that does not exist, or was created less than the
// consistency delay ago, is refused as Entra does while it replicates.
func (s *Server) linkTarget(v any) (model.Ref, *graphError) {
	str, _ := v.(string)
	str = strings.TrimSuffix(str, "/$ref")
	if i := strings.LastIndex(str, "/"); i >= 0 {
		str = str[i+1:]
	}
	str = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(str, "directoryObjects("), "'"), "')")
	id, ok := model.ParseID(str)
	if !ok {
		return 0, errf(400, "Request_BadRequest", "Invalid object identifier '"+str+"'.")
	}
	r, ok := s.t.Lookup(id)
	if !ok || !s.t.IsLive(r) || s.replicating(id) {
		return 0, errRefMissing(str)
	}
	return r, nil
}

// replicating reports whether id was created less than the consistency
// delay ago; the caller holds the tenant's write lock.
func (s *Server) replicating(id model.ID) bool {
	born, ok := s.born[id]
	if ok && s.now().Sub(born) >= s.faults.consistencyDelay() {
		delete(s.born, id)
		ok = false
	}
	return ok
}

// hasProps reports whether a body sets properties, not only annotations.
func hasProps(body map[string]any) bool {
	for k := range body {
		if !strings.HasPrefix(k, "@odata.") {
			return true
		}
	}
	return false
}

// patchKind updates properties and, on groups, adds members@odata.bind and
// owners@odata.bind: everything or, when any part is refused, nothing.
func patchKind(k model.Kind) handler {
	return func(s *Server, c *reqCtx) *graphError {
		if e := need(c, writeRoles(k)...); e != nil {
			return e
		}
		body, e := readBody(c)
		if e != nil {
			return e
		}
		s.t.Lock()
		defer s.t.Unlock()
		id := idSeg(c, k)
		r, e := s.find(id, k)
		if e != nil {
			return e
		}
		var members, owners []model.Ref
		if k == model.KindGroup {
			if members, owners, e = s.binds(body); e != nil {
				return e
			}
		}
		if err := s.t.CheckLinks(r, members, owners); err != nil {
			return modelErr(err, id)
		}
		if len(members)+len(owners) == 0 || hasProps(body) {
			if err := s.t.Update(r, body); err != nil {
				return modelErr(err, id)
			}
		}
		if err := s.t.AddLinks(r, members, owners); err != nil {
			return modelErr(err, id)
		}
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func deleteKind(k model.Kind) handler {
	return func(s *Server, c *reqCtx) *graphError {
		if e := need(c, writeRoles(k)...); e != nil {
			return e
		}
		s.t.Lock()
		defer s.t.Unlock()
		id := idSeg(c, k)
		r, e := s.find(id, k)
		if e != nil {
			return e
		}
		if err := s.t.Delete(r); err != nil {
			return modelErr(err, id)
		}
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func memberRoles(k model.Kind, owners bool) []string {
	switch k {
	case model.KindAU:
		return ausWrite
	case model.KindApp, model.KindSP:
		return appsWrite
	}
	if owners {
		return groupsWrite
	}
	return membersWrite
}

func addMember(k model.Kind, owners bool) handler {
	return func(s *Server, c *reqCtx) *graphError {
		if e := need(c, memberRoles(k, owners)...); e != nil {
			return e
		}
		body, e := readBody(c)
		if e != nil {
			return e
		}
		s.t.Lock()
		defer s.t.Unlock()
		id := idSeg(c, k)
		r, e := s.find(id, k)
		if e != nil {
			return e
		}
		m, e := s.linkTarget(body["@odata.id"])
		if e != nil {
			return e
		}
		if err := s.t.AddMember(r, m, owners); err != nil {
			return modelErr(err, id)
		}
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func removeMember(k model.Kind, owners bool) handler {
	return func(s *Server, c *reqCtx) *graphError {
		if e := need(c, memberRoles(k, owners)...); e != nil {
			return e
		}
		s.t.Lock()
		defer s.t.Unlock()
		id := idSeg(c, k)
		r, e := s.find(id, k)
		if e != nil {
			return e
		}
		mid := c.segs[len(c.segs)-2]
		pm, ok := model.ParseID(mid)
		if !ok {
			return errNotFound(mid)
		}
		m, ok := s.t.Lookup(pm)
		if !ok {
			return errNotFound(mid)
		}
		if err := s.t.RemoveMember(r, m, owners); err != nil {
			return modelErr(err, mid)
		}
		c.w.WriteHeader(http.StatusNoContent)
		return nil
	}
}

func putManager(s *Server, c *reqCtx) *graphError {
	if e := need(c, usersWrite...); e != nil {
		return e
	}
	body, e := readBody(c)
	if e != nil {
		return e
	}
	s.t.Lock()
	defer s.t.Unlock()
	r, e := s.find(c.segs[1], model.KindUser)
	if e != nil {
		return e
	}
	m, e := s.linkTarget(body["@odata.id"])
	if e != nil {
		return e
	}
	if m.Kind() != model.KindUser {
		return errf(400, "Request_BadRequest", "Unsupported referenced-object resource identifier for link property 'manager'.")
	}
	if err := s.t.SetManager(r.Index(), m.Index()); err != nil {
		return modelErr(err, c.segs[1])
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func deleteManager(s *Server, c *reqCtx) *graphError {
	if e := need(c, usersWrite...); e != nil {
		return e
	}
	s.t.Lock()
	defer s.t.Unlock()
	r, e := s.find(c.segs[1], model.KindUser)
	if e != nil {
		return e
	}
	if _, ok := s.t.Manager(r.Index()); !ok {
		return errNotFound("manager")
	}
	_ = s.t.SetManager(r.Index(), -1)
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// deletedRef finds an object in the recycle bin.
func (s *Server) deletedRef(id string) (model.Ref, *graphError) {
	mid, ok := model.ParseID(id)
	if !ok {
		return 0, errNotFound(id)
	}
	r, ok := s.t.Lookup(mid)
	if !ok || s.t.StateOf(r) != model.SoftDeleted {
		return 0, errNotFound(id)
	}
	return r, nil
}

func restoreDeleted(s *Server, c *reqCtx) *graphError {
	s.t.Lock()
	defer s.t.Unlock()
	r, e := s.deletedRef(c.segs[2])
	if e != nil {
		return e
	}
	if e := need(c, writeRoles(r.Kind())...); e != nil {
		return e
	}
	if err := s.t.Restore(r); err != nil {
		return modelErr(err, c.segs[2])
	}
	o := s.t.Render(r)
	o["@odata.context"] = c.base + "/$metadata#directoryObjects/$entity"
	return s.writeJSON(c, 200, o)
}

func purgeDeleted(s *Server, c *reqCtx) *graphError {
	s.t.Lock()
	defer s.t.Unlock()
	r, e := s.deletedRef(c.segs[2])
	if e != nil {
		return e
	}
	if e := need(c, writeRoles(r.Kind())...); e != nil {
		return e
	}
	if err := s.t.PurgeDeleted(r); err != nil {
		return modelErr(err, c.segs[2])
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

func createRoleAssignment(s *Server, c *reqCtx) *graphError {
	if e := need(c, rolesWrite...); e != nil {
		return e
	}
	body, e := readBody(c)
	if e != nil {
		return e
	}
	str := func(key string) string { v, _ := body[key].(string); return v }
	s.t.Lock()
	defer s.t.Unlock()
	principal := str("principalId")
	if id, ok := model.ParseID(principal); ok && s.replicating(id) {
		return errRefMissing(principal)
	}
	i, err := s.t.AddRoleAssignment(principal, str("roleDefinitionId"), str("directoryScopeId"))
	if err != nil {
		return modelErr(err, principal)
	}
	o := s.t.RenderRoleAssignment(i)
	o["@odata.context"] = c.base + "/$metadata#roleManagement/directory/roleAssignments/$entity"
	return s.writeJSON(c, http.StatusCreated, o)
}

func deleteRoleAssignment(s *Server, c *reqCtx) *graphError {
	if e := need(c, rolesWrite...); e != nil {
		return e
	}
	s.t.Lock()
	defer s.t.Unlock()
	id, _ := model.ParseID(c.segs[3])
	if err := s.t.RemoveRoleAssignment(id); err != nil {
		return modelErr(err, c.segs[3])
	}
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}
