package graphapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/entravault/entravault/internal/tenantsim/model"
)

// modelErr maps model errors to Graph errors.
func modelErr(err error, id string) *graphError {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, model.ErrNotFound):
		return errNotFound(id)
	case errors.Is(err, model.ErrConflict):
		return errf(400, "Request_BadRequest", "Another object with the same value for property already exists, or one or more added object references already exist.")
	case errors.Is(err, model.ErrNotRestorable):
		return errf(400, "Request_BadRequest", "Security groups cannot be restored.")
	}
	return errf(400, "Request_BadRequest", strings.TrimPrefix(err.Error(), "model: "))
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
		r, err := s.t.Create(k, body)
		if err != nil {
			return modelErr(err, "")
		}
		// Graph accepts members@odata.bind / owners@odata.bind on group create.
		for _, key := range []string{"members@odata.bind", "owners@odata.bind"} {
			list, _ := body[key].([]any)
			for _, v := range list {
				if m, ok := s.bindRef(v); ok {
					_ = s.t.AddMember(r, m, key == "owners@odata.bind")
				}
			}
		}
		o := s.t.Render(r)
		o["@odata.context"] = c.base + "/$metadata#" + context + "/$entity"
		return s.writeJSON(c, http.StatusCreated, o)
	}
}

// bindRef resolves an @odata.id / @odata.bind URL to an object.
func (s *Server) bindRef(v any) (model.Ref, bool) {
	str, _ := v.(string)
	str = strings.TrimSuffix(str, "/$ref")
	if i := strings.LastIndex(str, "/"); i >= 0 {
		str = str[i+1:]
	}
	str = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(str, "directoryObjects("), "'"), "')")
	id, ok := model.ParseID(str)
	if !ok {
		return 0, false
	}
	return s.t.Lookup(id)
}

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
		if err := s.t.Update(r, body); err != nil {
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
	if k == model.KindAU {
		return ausWrite
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
		m, ok := s.bindRef(body["@odata.id"])
		if !ok {
			return errNotFound("@odata.id")
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
	m, ok := s.bindRef(body["@odata.id"])
	if !ok || m.Kind() != model.KindUser {
		return errNotFound("@odata.id")
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
