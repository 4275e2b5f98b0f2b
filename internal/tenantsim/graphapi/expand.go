package graphapi

import (
	"strings"

	"github.com/entravault/entravault/internal/tenantsim/model"
)

// Graph's limits on $expand over directory objects (known issue 13635 and
// the query-parameters page): a page holds at most 100 objects whatever
// $top asks, and an expanded relationship at most 20 items, without a
// nextLink to the rest.
const (
	expandMaxPage  = 100
	expandMaxItems = 20
)

// expansion is a parsed $expand=prop or $expand=prop($select=a,b).
type expansion struct {
	prop    string
	selects []string
}

// parseExpand reads the one relationship a directory-object list may
// expand; kinds lists what the collection can expand.
func parseExpand(c *reqCtx, typeName string, props ...string) (*expansion, *graphError) {
	s, ok := param(c.q.raw, "expand")
	if !ok || s == "" {
		return nil, nil
	}
	if strings.Contains(s, ",") && !strings.Contains(s, "(") || strings.Count(s, "(") > 1 {
		return nil, errf(400, "Request_UnsupportedQuery", "Only one relationship can be expanded in a single request.")
	}
	prop, opts, _ := strings.Cut(s, "(")
	prop = strings.TrimSpace(prop)
	known := false
	for _, p := range props {
		known = known || p == prop
	}
	if !known {
		return nil, errf(400, "BadRequest", "Could not find a property named '"+prop+"' on type '"+typeName+"'.")
	}
	e := &expansion{prop: prop}
	opts = strings.TrimSuffix(strings.TrimSpace(opts), ")")
	if opts != "" {
		name, list, _ := strings.Cut(opts, "=")
		if !strings.EqualFold(strings.TrimPrefix(name, "$"), "select") {
			return nil, errf(400, "Request_UnsupportedQuery", "Only $select is supported inside $expand.")
		}
		for _, f := range strings.Split(list, ",") {
			if f = strings.TrimSpace(f); f != "" {
				e.selects = append(e.selects, f)
			}
		}
	}
	return e, nil
}

// expandMembers adds the expanded members or owners to each listed object
// and caps the page as Graph does.
func (s *Server) expandMembers(c *reqCtx, src source, e *expansion) source {
	q := *c.q
	if q.top == 0 || q.top > expandMaxPage {
		q.top = expandMaxPage
	}
	c.q = &q
	nested := &query{selects: e.selects}
	idOnly := len(e.selects) == 1 && e.selects[0] == "id"
	src.decorate = func(i int, o model.Obj) {
		list := s.t.Members(model.MakeRef(src.kind, int32(i)), e.prop == "owners")
		items := make([]any, 0, min(len(list), expandMaxItems))
		for _, m := range list[:min(len(list), expandMaxItems)] {
			if idOnly {
				items = append(items, s.ref(m, ""))
			} else {
				items = append(items, nested.project(s.t.Render(m)))
			}
		}
		o[e.prop] = items
	}
	return src
}
