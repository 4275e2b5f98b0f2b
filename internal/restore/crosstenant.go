package restore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// Restoring into another tenant: the target's objects have other ids, so
// each snapshot object is first matched to its twin there, by the id map
// of the (source, target) pair, then by natural keys, and addresses of the
// source's domains are rewritten to the target's. A match becomes an id
// map entry, and the plan then reads exactly as a restore in place: a
// matched object is reverted, an unmatched one re-created, and every
// reference goes through the id map. An object with several candidates is
// never guessed: the plan lists it as a skip for the operator.

// PairIDMap names the id map of restores from tenant source into target.
func PairIDMap(source, target string) string { return source + "/to/" + target }

// MatchKeys are the properties a snapshot object of objType is matched by
// in another tenant, in order. People are matched by UPN only: a display
// name match would rename someone else.
func MatchKeys(objType string) []string {
	kind := Kinds[objType]
	switch {
	case kind == nil || kind.Singleton:
		return nil
	case objType == "user":
		return []string{"userPrincipalName"}
	case kind.NaturalKey == "" || kind.NaturalKey == "displayName":
		return []string{"displayName"}
	}
	return []string{kind.NaturalKey, "displayName"}
}

// DomainMap rewrites addresses in the source's domains (lower case keys)
// to the target's: UPNs, mail, other mails, proxy addresses.
type DomainMap map[string]string

// Validate checks that every entry names two domains.
func (m DomainMap) Validate() error {
	for from, to := range m {
		if !strings.Contains(from, ".") || !strings.Contains(to, ".") || strings.ContainsAny(from+to, "@ /") {
			return fmt.Errorf("domain_map: %q → %q is not a pair of domain names", from, to)
		}
	}
	return nil
}

// Rewrite returns raw (a JSON object) with every string value ending in
// "@<source domain>" moved to the target domain.
func (m DomainMap) Rewrite(raw []byte) []byte {
	if len(m) == 0 || raw == nil {
		return raw
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if dec.Decode(&v) != nil {
		return raw
	}
	out, err := json.Marshal(m.rewrite(v))
	if err != nil {
		return raw
	}
	return out
}

func (m DomainMap) rewrite(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = m.rewrite(x)
		}
	case []any:
		for i, x := range t {
			t[i] = m.rewrite(x)
		}
	case string:
		if at := strings.LastIndexByte(t, '@'); at >= 0 {
			if to, ok := m[strings.ToLower(t[at+1:])]; ok {
				return t[:at+1] + to
			}
		}
	}
	return v
}

// MatchedTypes are the object types matched across tenants, in the order
// restore creates them: an application before its service principal,
// which is matched by the appId the application's match mapped.
func MatchedTypes() []string {
	var types []string
	for typ := range Kinds {
		if MatchKeys(typ) != nil {
			types = append(types, typ)
		}
	}
	sort.Slice(types, func(i, j int) bool {
		a, b := Kinds[types[i]], Kinds[types[j]]
		return a.Phase < b.Phase || a.Phase == b.Phase && a.Type < b.Type
	})
	return types
}

// Matcher finds snapshot objects' twins among a target tenant's objects
// and records each in the id map.
type Matcher struct {
	idmap *IDMap
	// byKey: object type → "property\x00lower-case value" → target ids.
	byKey map[string]map[string][]string
	alt   map[string]string // target id → its alternate id (appId)
	// matched are target ids already taken by a match (or the id map).
	matched set
	added   map[string]string
}

// NewMatcher returns an empty matcher recording into idmap; feed it the
// target's objects (AddTarget), then the snapshot's (Match).
func NewMatcher(idmap *IDMap) *Matcher {
	return &Matcher{idmap: idmap, byKey: map[string]map[string][]string{}, alt: map[string]string{}, matched: set{},
		added: map[string]string{}}
}

// AddTarget indexes one object of the target tenant.
func (m *Matcher) AddTarget(objType, id string, raw []byte) {
	obj := decode(raw)
	keys := m.byKey[objType]
	if keys == nil {
		keys = map[string][]string{}
		m.byKey[objType] = keys
	}
	for _, prop := range MatchKeys(objType) {
		if v, _ := obj[prop].(string); v != "" {
			k := prop + "\x00" + strings.ToLower(v)
			keys[k] = append(keys[k], id)
		}
	}
	if kind := Kinds[objType]; kind.AltID != "" {
		m.alt[id], _ = obj[kind.AltID].(string)
	}
}

// Match finds the twin of snapshot object id (raw, its addresses already
// in the target's domains): the id map's, else the one target object
// sharing the first key any target object has. A twin found goes in the
// id map, with its alternate id. Several candidates for that key are
// returned, not guessed; none means the object is not there.
func (m *Matcher) Match(objType, id string, raw []byte) (candidates []string, key string) {
	if twin := m.idmap.Resolve(id); twin != id {
		m.matched[twin] = true // matched or re-created by an earlier restore
		return nil, ""
	}
	obj, _ := RemapIDs(decode(raw), m.idmap).(map[string]any) // an appId its application's match mapped
	for _, prop := range MatchKeys(objType) {
		v, _ := obj[prop].(string)
		if v == "" {
			continue
		}
		var free []string
		for _, t := range m.byKey[objType][prop+"\x00"+strings.ToLower(v)] {
			if !m.matched[t] {
				free = append(free, t)
			}
		}
		switch len(free) {
		case 0:
			continue
		case 1:
			m.record(objType, id, free[0], obj)
			return nil, prop
		}
		sort.Strings(free)
		return free, prop
	}
	return nil, ""
}

func (m *Matcher) record(objType, id, twin string, obj map[string]any) {
	m.matched[twin] = true
	m.idmap.Set(id, twin)
	m.added[id] = twin
	if alt, _ := obj[Kinds[objType].AltID].(string); alt != "" && m.alt[twin] != "" {
		m.idmap.Set(alt, m.alt[twin])
		m.added[alt] = m.alt[twin]
	}
}

// Added are the id map entries the matches made, old → new.
func (m *Matcher) Added() map[string]string { return m.added }

// Ambiguous plans an object that several target objects could be: it is
// not restored, and the plan says which candidates to tell apart.
func (p *Planner) Ambiguous(objType, id string, snap []byte, key string, candidates []string) error {
	if !p.selected(objType, id) || p.planned[id] {
		return nil
	}
	p.planned[id], p.ambiguous[id] = true, true
	o := decode(snap)
	return p.add(Action{Kind: Skip, Type: objType, ID: id, Name: displayName(o), Links: candidates,
		Reason: fmt.Sprintf("ambiguous in the target tenant: %d objects have %s %q; not guessed: rename or remove all but one and plan again",
			len(candidates), key, fmt.Sprint(o[key]))})
}

// withoutUnlinkable drops from add the links to objects the target will
// not hold: ambiguous in another tenant, or gone and not brought back by
// this plan. A skip says which.
func (p *Planner) withoutUnlinkable(rel *Relation, ownerID string, add []string) ([]string, error) {
	var keep, ambiguous, absent []string
	for _, id := range add {
		switch {
		case p.ambiguous[id]:
			ambiguous = append(ambiguous, id)
		case p.absent[id]:
			absent = append(absent, id)
		default:
			keep = append(keep, id)
		}
	}
	for _, drop := range []struct {
		ids    []string
		reason string
	}{
		{ambiguous, "links to objects ambiguous in the target tenant not restored"},
		{absent, "links to objects this restore cannot bring back (see their own skips) not restored"},
	} {
		if len(drop.ids) == 0 {
			continue
		}
		if err := p.add(Action{Kind: Skip, Type: rel.Owner, ID: ownerID, Relation: rel.Name, Links: drop.ids, Reason: drop.reason}); err != nil {
			return nil, err
		}
	}
	return keep, nil
}
