package model

// MemberDelta is a net membership change of a group or AU.
type MemberDelta struct {
	Member  Ref
	Removed bool
}

// DeltaItem is one changed object in a delta window.
type DeltaItem struct {
	Obj            Ref
	Members        []MemberDelta
	ManagerChanged bool
	Upserted       bool // properties changed (not only links)
}

// DeltaChanges lists objects of kind k changed in the window (since, upto]
// of the change log, in order of first change, with their net membership
// changes. The caller renders each from the current state, so a replayed
// window is harmless.
func DeltaChanges(t *Tenant, k Kind, since, upto uint64) []DeltaItem {
	upto = min(upto, uint64(len(t.changes)))
	if since >= upto {
		return nil
	}
	pos := map[Ref]int{}
	var items []DeltaItem
	net := map[Ref]map[Ref]bool{}
	var order = map[Ref][]Ref{}
	for _, c := range t.changes[since:upto] {
		if c.Obj.Kind() != k {
			continue
		}
		p, ok := pos[c.Obj]
		if !ok {
			p = len(items)
			pos[c.Obj] = p
			items = append(items, DeltaItem{Obj: c.Obj})
		}
		switch c.Op {
		case OpMemberAdd, OpMemberRemove:
			if net[c.Obj] == nil {
				net[c.Obj] = map[Ref]bool{}
			}
			if _, seen := net[c.Obj][c.Member]; !seen {
				order[c.Obj] = append(order[c.Obj], c.Member)
			}
			net[c.Obj][c.Member] = c.Op == OpMemberRemove
		case OpManager:
			items[p].ManagerChanged = true
		default:
			items[p].Upserted = true
		}
	}
	for i := range items {
		for _, m := range order[items[i].Obj] {
			items[i].Members = append(items[i].Members, MemberDelta{Member: m, Removed: net[items[i].Obj][m]})
		}
	}
	return items
}
