package graphapi

import (
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"

	"github.com/entravault/entravault/internal/tenantsim/model"
)

// deltaState is carried in $skiptoken (mid-round) and $deltatoken (between
// rounds). A round replays the change log window (Since, Upto]; the initial
// round lists every live object and ends at the log position it started at,
// so changes made while paging are replayed next round (clients tolerate
// replays, graph.md §3).
type deltaState struct {
	K      model.Kind `json:"k"`
	Since  uint64     `json:"s"`
	Upto   uint64     `json:"u"`
	Pos    int        `json:"p"`
	MOff   int        `json:"m"`
	Init   bool       `json:"i"`
	Issued int64      `json:"t"`           // unix nanos the round's delta token was issued
	Epoch  int        `json:"e,omitempty"` // tenant epoch Since and Upto were read in
}

func (d deltaState) encode() string {
	b, _ := json.Marshal(d)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeDelta(tok string, k model.Kind) (deltaState, bool) {
	var d deltaState
	b, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil || json.Unmarshal(b, &d) != nil || d.K != k {
		return d, false
	}
	return d, true
}

const (
	deltaPageObjects = 100
	deltaPageMembers = 1000
)

func (s *Server) expiredErr(c *reqCtx) *graphError {
	if s.cfg.DeltaExpiredGone {
		e := errf(410, "resyncRequired", "The delta token is no longer valid; a full resynchronization is required.")
		e.header = map[string]string{"Location": c.link("", "")}
		return e
	}
	return errSyncState
}

func deltaKind(k model.Kind, context string) handler {
	return func(s *Server, c *reqCtx) *graphError {
		if e := need(c, readRoles(k)...); e != nil {
			return e
		}
		if c.q.top > 0 {
			return errf(400, "Request_UnsupportedQuery", "$top is not supported with delta queries.")
		}
		s.t.RLock()
		defer s.t.RUnlock()
		now, epoch := s.now().UnixNano(), s.t.Epoch()
		var st deltaState
		switch {
		case c.q.skipToken != "":
			d, ok := decodeDelta(c.q.skipToken, k)
			if !ok {
				return errSkipToken
			}
			if d.Issued < s.t.DeltaExpired || !s.t.Durable(d.Epoch, d.Upto) {
				return s.expiredErr(c)
			}
			st = d
			st.Epoch = epoch // checked durable, so a position of this epoch too
		case c.q.hasDelta && c.q.deltaTok == "latest":
			out := map[string]any{"@odata.context": c.base + "/$metadata#" + context, "value": []any{},
				"@odata.deltaLink": c.link("$deltatoken", deltaState{K: k, Since: s.t.Seq(), Issued: now, Epoch: epoch}.encode())}
			return s.writeJSON(c, 200, out)
		case c.q.hasDelta && c.q.deltaTok != "":
			d, ok := decodeDelta(c.q.deltaTok, k)
			if !ok {
				return s.expiredErr(c)
			}
			if d.Issued < s.t.DeltaExpired || now-d.Issued > int64(s.cfg.DeltaTokenMaxAge) || !s.t.Durable(d.Epoch, d.Since) {
				return s.expiredErr(c)
			}
			st = deltaState{K: k, Since: d.Since, Upto: s.t.Seq(), Issued: now, Epoch: epoch}
		default:
			st = deltaState{K: k, Upto: s.t.Seq(), Init: true, Issued: now, Epoch: epoch}
		}
		pageObjs := deltaPageObjects
		if n := preferMaxPageSize(c); n > 0 {
			pageObjs = n
		}
		withMembers := len(c.q.selects) == 0 || hasSelect(c.q, "members")
		value := make([]any, 0, pageObjs)
		budget := deltaPageMembers
		var items []model.DeltaItem
		n := s.t.Len(k)
		if !st.Init {
			items = model.DeltaChanges(s.t, k, st.Since, st.Upto)
			n = len(items)
		}
		for st.Pos < n && len(value) < pageObjs && budget > 0 {
			var o model.Obj
			var members []any
			if st.Init {
				r := model.MakeRef(k, int32(st.Pos))
				if !s.t.IsLive(r) {
					st.Pos++
					continue
				}
				o = c.q.project(s.t.Render(r))
				if withMembers && (k == model.KindGroup || k == model.KindAU) {
					for _, m := range s.t.Members(r, false) {
						members = append(members, s.ref(m, ""))
					}
				}
				if k == model.KindUser {
					if m, ok := s.t.Manager(r.Index()); ok {
						o["manager@delta"] = []any{s.ref(model.MakeRef(model.KindUser, m), "")}
					}
				}
			} else {
				it := items[st.Pos]
				switch s.t.StateOf(it.Obj) {
				case model.SoftDeleted:
					o = removed(s.t, it.Obj, "changed")
				case model.Gone:
					o = removed(s.t, it.Obj, "deleted")
				default:
					if it.Upserted || st.MOff > 0 {
						o = c.q.project(s.t.Render(it.Obj))
					} else {
						o = s.t.Ident(it.Obj)
					}
					if withMembers {
						for _, md := range it.Members {
							if !md.Removed && !s.t.IsLive(md.Member) {
								continue // added while deleted: hidden, as in member lists
							}
							removed := ""
							if md.Removed {
								removed = "deleted"
							}
							members = append(members, s.ref(md.Member, removed))
						}
					}
					if it.ManagerChanged {
						if m, ok := s.t.Manager(it.Obj.Index()); ok {
							o["manager@delta"] = []any{s.ref(model.MakeRef(model.KindUser, m), "")}
						} else {
							o["manager@delta"] = []any{}
						}
					}
				}
			}
			// Large groups repeat across pages with slices of members@delta.
			rest := members[min(st.MOff, len(members)):]
			if len(rest) > budget {
				o["members@delta"] = rest[:budget]
				st.MOff += budget
				budget = 0
				value = append(value, o)
				break
			}
			if len(rest) > 0 {
				o["members@delta"] = rest
				budget -= len(rest)
			}
			value = append(value, o)
			st.Pos++
			st.MOff = 0
		}
		out := map[string]any{"@odata.context": c.base + "/$metadata#" + context, "value": value}
		if st.Pos < n {
			out["@odata.nextLink"] = c.link("$skiptoken", st.encode())
		} else {
			out["@odata.deltaLink"] = c.link("$deltatoken", deltaState{K: k, Since: st.Upto, Issued: now, Epoch: epoch}.encode())
		}
		return s.writeJSON(c, 200, out)
	}
}

func removed(t *model.Tenant, r model.Ref, reason string) model.Obj {
	o := t.Ident(r)
	o["@removed"] = map[string]any{"reason": reason}
	return o
}

func hasSelect(q *query, name string) bool {
	for _, s := range q.selects {
		if strings.EqualFold(s, name) {
			return true
		}
	}
	return false
}

// preferMaxPageSize reads Prefer: odata.maxpagesize=N.
func preferMaxPageSize(c *reqCtx) int {
	for _, p := range strings.Split(c.r.Header.Get("Prefer"), ",") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(p), "odata.maxpagesize="); ok {
			if n, err := strconv.Atoi(v); err == nil && n > 0 {
				return min(n, 999)
			}
		}
	}
	return 0
}
