package restore

import (
	"encoding/json"
	"sort"
	"strings"
)

// Child is a collection of objects under an owner (or the tenant), each
// created by a POST of its own and matched by a key, not by id: a
// re-created one gets a new id.
type Child struct {
	Type  string // the snapshot type
	Owner string // the owner's object type; "" for the tenant's own
	// Path is the collection: under the owner ("appRoleAssignedTo"), or
	// the tenant's ("/oauth2PermissionGrants").
	Path string
	// Key are the properties that tell two apart, ids through the id map.
	Key []string
	// Writable are what a create sends; Patchable what a PATCH of an
	// existing item may change.
	Writable, Patchable set
}

// Children are the child collections restore re-creates.
var Children = map[string]*Child{
	"application.federatedIdentityCredentials": {Type: "application.federatedIdentityCredentials", Owner: "application",
		Path: "federatedIdentityCredentials", Key: []string{"name"},
		Writable:  setOf("name", "issuer", "subject", "audiences", "description"),
		Patchable: setOf("issuer", "subject", "audiences", "description")},
	"servicePrincipal.appRoleAssignedTo": {Type: "servicePrincipal.appRoleAssignedTo", Owner: "servicePrincipal",
		Path: "appRoleAssignedTo", Key: []string{"principalId", "appRoleId"},
		Writable: setOf("principalId", "resourceId", "appRoleId"), Patchable: setOf()},
	"oauth2PermissionGrant": {Type: "oauth2PermissionGrant", Path: "/oauth2PermissionGrants",
		Key:       []string{"clientId", "consentType", "principalId", "resourceId"},
		Writable:  setOf("clientId", "consentType", "principalId", "resourceId", "scope"),
		Patchable: setOf("scope")},
}

// KeyOf is the key of child item o: its Key properties' JSON, joined.
func (c *Child) KeyOf(o map[string]any) string {
	parts := make([]string, len(c.Key))
	for i, k := range c.Key {
		parts[i] = string(rawOf(o[k]))
	}
	return strings.Join(parts, "|")
}

// Body is what creating o sends: its writable properties.
func (c *Child) Body(o map[string]any) map[string]any {
	body := map[string]any{}
	for k, v := range o {
		if c.Writable[k] {
			body[k] = v
		}
	}
	return body
}

// childDiff collects one owner's snapshot and live items of one child
// type; they are matched in Finish, once every re-create is planned.
type childDiff struct {
	child      *Child
	owner      string
	snap, live []map[string]any
}

// Child collects the differences of a child collection: one owner's list
// ({"value": […]}) or, for the tenant's own, one item.
func (p *Planner) Child(objType, ownerID string, snap, live []byte) {
	c := Children[objType]
	key := objType + "|" + ownerID
	if c.Owner == "" {
		key = objType
	}
	d := p.children[key]
	if d == nil {
		d = &childDiff{child: c, owner: ownerID}
		p.children[key] = d
	}
	d.snap = append(d.snap, childItems(snap)...)
	d.live = append(d.live, childItems(live)...)
}

func childItems(raw []byte) []map[string]any {
	if raw == nil {
		return nil
	}
	var list struct {
		Value []map[string]any `json:"value"`
	}
	if json.Unmarshal(raw, &list) == nil && list.Value != nil {
		return list.Value
	}
	return []map[string]any{decode(raw)}
}

// childActions adds what the snapshot holds and the tenant lacks, reverts
// what changed, and removes (option remove_extra_links) what was added
// since. Items that come back with an undeleted owner or principal are
// left to that undelete.
func (p *Planner) childActions(d *childDiff) []Action {
	c := d.child
	live := map[string]map[string]any{}
	for _, o := range d.live {
		live[c.KeyOf(o)] = o
	}
	matched := set{}
	var out []Action
	for _, o := range d.snap {
		id, _ := o["id"].(string)
		owner := d.owner
		if c.Owner == "" {
			owner, _ = o["clientId"].(string)
		}
		if !p.selected(ownerType(c), owner) || p.undeleted[owner] || p.mentionsAny(c.Body(o), p.undeleted) {
			continue
		}
		mapped := RemapIDs(o, p.idmap).(map[string]any)
		a := Action{Kind: AddChild, Type: c.Type, ID: id, Owner: owner, Name: c.KeyOf(o), Object: mustJSON(c.Body(o))}
		if l, ok := live[c.KeyOf(mapped)]; ok {
			matched[c.KeyOf(mapped)] = true
			if r, changed := p.childRevert(c, owner, o, mapped, l); changed {
				out = append(out, r)
			}
			continue
		}
		if !p.opts.Links {
			a.Kind, a.Reason = Skip, "missing; option links is off"
		}
		out = append(out, a)
	}
	return append(out, p.addedChildren(d, live, matched)...)
}

// addedChildren removes, with remove_extra_links, the live items the
// snapshot does not hold (an app role or a delegated grant given since).
func (p *Planner) addedChildren(d *childDiff, live map[string]map[string]any, matched set) []Action {
	c := d.child
	keys := make([]string, 0, len(live))
	for k := range live {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []Action
	for _, k := range keys {
		l := live[k]
		id, _ := l["id"].(string)
		owner := d.owner
		if c.Owner == "" {
			client, _ := l["clientId"].(string)
			owner = p.idmap.Original(client)
		}
		if matched[k] || !p.selected(ownerType(c), owner) {
			continue
		}
		a := Action{Kind: RemoveChild, Type: c.Type, ID: id, Owner: owner, Name: k}
		if !p.opts.RemoveExtraLinks || !p.opts.Links {
			a.Kind, a.Reason = Skip, "added since the snapshot; option remove_extra_links is off"
		}
		out = append(out, a)
	}
	return out
}

// childRevert plans a PATCH of what changed on a live child since the
// snapshot (a grant's scope, a federated credential's subject); a change
// no PATCH can undo is reported.
func (p *Planner) childRevert(c *Child, owner string, snap, mapped, live map[string]any) (Action, bool) {
	id, _ := live["id"].(string)
	a := Action{Kind: Revert, Type: c.Type, ID: id, Owner: owner, Name: c.KeyOf(snap)}
	for _, prop := range propertyNames(c.Body(mapped), c.Body(live)) {
		before, after := rawOf(live[prop]), rawOf(mapped[prop])
		if string(before) == string(after) {
			continue
		}
		if !c.Patchable[prop] {
			return Action{Kind: Skip, Type: c.Type, ID: id, Owner: owner, Name: a.Name,
				Reason: prop + " changed since the snapshot, and Graph cannot change it on an existing item"}, true
		}
		a.Properties = append(a.Properties, PropertyChange{Name: prop, Before: before, After: rawOf(snap[prop])})
	}
	if !p.opts.Properties {
		a.Kind, a.Reason = Skip, "changed since the snapshot; option properties is off"
	}
	return a, len(a.Properties) > 0
}

// ownerType is the type a selection names a child by: its owner's, and
// for the tenant's grants their client service principal's.
func ownerType(c *Child) string {
	if c.Owner == "" {
		return "servicePrincipal"
	}
	return c.Owner
}

// finishChildren plans every child collection, in a stable order.
func (p *Planner) finishChildren() error {
	keys := make([]string, 0, len(p.children))
	for k := range p.children {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, a := range p.childActions(p.children[k]) {
			if err := p.add(a); err != nil {
				return err
			}
		}
	}
	return nil
}

// mentionsAny reports whether v names, at any depth, an id in ids.
func (p *Planner) mentionsAny(v any, ids set) bool {
	if len(ids) == 0 {
		return false
	}
	switch x := v.(type) {
	case string:
		return ids[x]
	case []any:
		for _, e := range x {
			if p.mentionsAny(e, ids) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if p.mentionsAny(e, ids) {
				return true
			}
		}
	}
	return false
}

// MergeParts returns obj with the properties of its parts laid over it.
func MergeParts(obj []byte, parts ...[]byte) []byte {
	if obj == nil {
		return nil
	}
	o := decode(obj)
	for _, part := range parts {
		for k, v := range decode(part) {
			if k != "id" && !strings.HasPrefix(k, "@odata.") {
				o[k] = v
			}
		}
	}
	return mustJSON(o)
}
