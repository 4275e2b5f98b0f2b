package restore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
)

// Options say what a restore may do. The zero value does nothing; the API
// starts from DefaultOptions.
type Options struct {
	Undelete         bool `json:"undelete"`
	Recreate         bool `json:"recreate"`
	Properties       bool `json:"properties"`
	Links            bool `json:"links"`
	RemoveExtraLinks bool `json:"remove_extra_links"`
	RemoveAdded      bool `json:"remove_added"`
	// PolicyState is the state of conditional-access policies restored:
	// "" (as backed up), "enabledForReportingButNotEnforced" or "disabled".
	PolicyState string `json:"policy_state,omitempty"`
}

// Validate refuses an unknown policy state.
func (o Options) Validate() error {
	switch o.PolicyState {
	case "", "enabledForReportingButNotEnforced", "disabled":
		return nil
	}
	return fmt.Errorf("options.policy_state: %q is not one of enabledForReportingButNotEnforced, disabled (empty: as backed up)", o.PolicyState)
}

// DefaultOptions restore everything and remove nothing.
func DefaultOptions() Options {
	return Options{Undelete: true, Recreate: true, Properties: true, Links: true}
}

// Selection narrows a restore to some object types and/or some object ids
// (both empty: everything). Links and role assignments follow the objects
// that own them.
type Selection struct {
	Types []string `json:"types,omitempty"`
	IDs   []string `json:"ids,omitempty"`
}

// SelectableTypes are the types a selection may name.
var SelectableTypes = []string{"user", "group", "administrativeUnit", RoleAssignmentType, "namedLocation", "conditionalAccessPolicy",
	"authorizationPolicy", "authenticationMethodsPolicy", "authenticationMethodConfiguration", "application", "servicePrincipal"}

// Validate refuses unknown types and an explicitly empty selection.
func (s Selection) Validate() error {
	for _, t := range s.Types {
		if !slices.Contains(SelectableTypes, t) {
			return fmt.Errorf("select.types: unknown type %q (want %v)", t, SelectableTypes)
		}
	}
	return nil
}

// Planner turns differences between a snapshot and the live tenant into
// actions. Feed it every object difference (Object), then every relation
// and role assignment difference, then call Finish.
type Planner struct {
	opts    Options
	types   set
	ids     set
	deleted map[string]json.RawMessage // the recycle bin, by id
	idmap   *IDMap
	emit    func(Action) error

	seq       int
	counts    Counts
	undeleted set
	// recreated are the snapshot ids (and appIds) of objects re-created:
	// whatever names them is rewritten to their new ids at apply.
	recreated set
	planned   set // objects given to Object
	ambiguous set // objects with several twins in another tenant
	absent    set // objects gone from the tenant that the plan does not bring back
	roles     roleDiff
	children  map[string]*childDiff
}

// NewPlanner plans with opts and sel. deleted is the recycle bin (id →
// object as Graph lists it); emit receives every action.
func NewPlanner(opts Options, sel Selection, deleted map[string]json.RawMessage, idmap *IDMap, emit func(Action) error) *Planner {
	p := &Planner{opts: opts, deleted: deleted, idmap: idmap, emit: emit, undeleted: set{}, recreated: set{}, planned: set{}, ambiguous: set{}, absent: set{},
		children: map[string]*childDiff{}}
	if len(sel.Types) > 0 {
		p.types = setOf(sel.Types...)
	}
	if len(sel.IDs) > 0 {
		p.ids = setOf(sel.IDs...)
	}
	if p.idmap == nil {
		p.idmap = NewIDMap()
	}
	return p
}

func (p *Planner) selected(objType, id string) bool {
	return (p.types == nil || p.types[objType]) && (p.ids == nil || p.ids[id])
}

// selectedObject is selected, and selects what follows it: an
// application selected by id brings its service principal (restoring one
// does not restore the other), and that its app role assignments.
func (p *Planner) selectedObject(objType, id string, snap []byte) bool {
	if p.ids == nil || objType != "application" && objType != "servicePrincipal" {
		return p.selected(objType, id)
	}
	appID, _ := decode(snap)["appId"].(string)
	ok := p.selected(objType, id) || objType == "servicePrincipal" && appID != "" && p.selected(objType, appID)
	if ok && appID != "" {
		p.ids[appID], p.ids[id] = true, true
	}
	return ok
}

func (p *Planner) add(a Action) error {
	a.Key = keyFor(a.Kind, a.Type, p.seq)
	p.seq++
	p.counts.Add(a)
	return p.emit(a)
}

// Object plans one directory object; snap or live is nil where the object
// is absent. For an object re-created by an earlier restore, live is the
// object it was mapped to.
func (p *Planner) Object(objType, id string, snap, live []byte) error {
	if !p.selectedObject(objType, id, snap) || p.planned[id] {
		return nil
	}
	p.planned[id] = true
	kind := Kinds[objType]
	if kind == nil {
		return p.add(Action{Kind: Skip, Type: objType, ID: id, Reason: NotRestorableReason(objType)})
	}
	switch {
	case snap != nil && live != nil:
		return p.revert(kind, id, p.snapshotObject(kind, snap), decode(live))
	case kind.Singleton || kind.Fixed:
		return nil // a tenant always has its policies
	case snap != nil:
		return p.gone(kind, id, p.snapshotObject(kind, snap))
	case live != nil && !p.idmap.IsTarget(id):
		return p.added(kind, id, decode(live))
	}
	return nil
}

// snapshotObject decodes a snapshot object with the ids it names mapped
// to the tenant's (a policy's users, groups, locations), and a policy in
// the state the options ask for.
func (p *Planner) snapshotObject(kind *Kind, raw []byte) map[string]any {
	o := decode(raw)
	for k, v := range o {
		if k != "id" {
			o[k] = RemapIDs(v, p.idmap)
		}
	}
	if kind.Type == "conditionalAccessPolicy" && p.opts.PolicyState != "" {
		o["state"] = p.opts.PolicyState
	}
	return o
}

// revert plans PATCHes of the differing writable properties and reports
// every other difference with its reason.
func (p *Planner) revert(kind *Kind, id string, snap, live map[string]any) error {
	name := displayName(snap)
	if kind.NotWritable != nil {
		if reason := kind.NotWritable(snap); reason != "" {
			return p.add(Action{Kind: Skip, Type: kind.Type, ID: id, Name: name, Reason: reason})
		}
	}
	var writes, skips []PropertyChange
	for _, prop := range propertyNames(snap, live) {
		before, after := rawOf(live[prop]), rawOf(snap[prop])
		// Equal, unless it names an object re-created in this restore:
		// apply rewrites that name to the new id.
		same := bytes.Equal(before, after) && !p.mentionsAny(snap[prop], p.recreated)
		if serverManaged[prop] || same || kind.Apart[prop] || prop == "uniqueName" && live[prop] == UpsertKey(kind, id, snap) {
			continue
		}
		c := PropertyChange{Name: prop, Before: before, After: after}
		switch {
		case synced(snap):
			c.Reason = "synced from on-premises Active Directory: change it there"
		case kind.Writable[prop]:
			if p.opts.Properties {
				writes = append(writes, c)
				continue
			}
			c.Reason = "option properties is off"
		case kind.CreateOnly[prop]:
			c.Reason = "set only when the object is created"
		default:
			c.Reason = kind.ReadOnly(prop)
		}
		skips = append(skips, c)
	}
	if len(writes) > 0 {
		a := Action{Kind: Revert, Type: kind.Type, ID: id, Name: name, Properties: writes}
		if kind.Type == "conditionalAccessPolicy" {
			a.Note = policyWarning(snap)
		}
		if err := p.add(a); err != nil {
			return err
		}
	}
	if len(skips) > 0 {
		return p.add(Action{Kind: Skip, Type: kind.Type, ID: id, Name: name, Properties: skips, Reason: "properties that cannot be written back"})
	}
	return nil
}

// gone plans an object that is in the snapshot but not live: from the
// recycle bin if it is there, else re-created.
func (p *Planner) gone(kind *Kind, id string, snap map[string]any) error {
	name := displayName(snap)
	skip := func(reason string) error {
		p.absent[id] = true // links to it cannot be made either
		return p.add(Action{Kind: Skip, Type: kind.Type, ID: id, Name: name, Reason: reason})
	}
	if kind.NotWritable != nil {
		if reason := kind.NotWritable(snap); reason != "" {
			return skip(reason)
		}
	}
	if binned, ok := p.deleted[id]; ok && kind.Undeletable && !p.appRecreated(kind, snap) {
		if !p.opts.Undelete {
			return skip("in the recycle bin; option undelete is off")
		}
		p.undeleted[id] = true
		if err := p.add(Action{Kind: Undelete, Type: kind.Type, ID: id, Name: name}); err != nil {
			return err
		}
		// The recycle bin keeps the object as it was deleted: revert
		// whatever changed before that. It lists no parts (certificate
		// keys); they come back with the object.
		bin := decode(binned)
		for _, props := range kind.Parts {
			for _, prop := range props {
				bin[prop] = snap[prop]
			}
		}
		return p.revert(kind, id, snap, bin)
	}
	if synced(snap) {
		return skip("synced from on-premises Active Directory and deleted for good: restore it there and let sync bring it back")
	}
	if !p.opts.Recreate {
		return skip("deleted for good; option recreate is off")
	}
	body := map[string]any{}
	for prop, v := range snap {
		if (kind.Writable[prop] || kind.CreateOnly[prop]) && v != nil {
			body[prop] = v
		}
	}
	for _, req := range kind.Required {
		if _, ok := body[req]; !ok {
			return skip("cannot be re-created: the snapshot lacks " + req)
		}
	}
	if key := UpsertKey(kind, id, snap); key != "" {
		body[kind.NaturalKey] = key
	}
	a := Action{Kind: Recreate, Type: kind.Type, ID: id, Name: name, Object: mustJSON(body)}
	switch kind.Type {
	case "user":
		a.Note = "re-created with a new random password (never stored or shown); the user must reset it at next sign-in"
	case "conditionalAccessPolicy":
		a.Note = policyWarning(body)
	}
	p.recreated[id] = true
	if alt, _ := snap[kind.AltID].(string); kind.AltID != "" && alt != "" {
		a.AltID, p.recreated[alt] = alt, true
	}
	if err := p.add(a); err != nil {
		return err
	}
	return p.secrets(kind, id, name, snap)
}

// appRecreated: a service principal whose application is re-created in
// this plan (with a new appId) is re-created too, not undeleted: the one
// in the recycle bin belongs to an appId that does not come back.
func (p *Planner) appRecreated(kind *Kind, snap map[string]any) bool {
	appID, _ := snap["appId"].(string)
	return kind.Type == "servicePrincipal" && p.recreated[appID]
}

// secrets reports the client secrets a re-created application lost: each
// needs a new one.
func (p *Planner) secrets(kind *Kind, id, name string, snap map[string]any) error {
	creds, _ := snap["passwordCredentials"].([]any)
	if kind.Type != "application" || len(creds) == 0 {
		return nil
	}
	return p.add(Action{Kind: Skip, Type: kind.Type, ID: id, Name: name, Reason: SecretReason,
		Properties: []PropertyChange{{Name: "passwordCredentials", Before: rawOf([]any{}), After: rawOf(creds)}}})
}

// UpsertKey is the uniqueName a re-created application is created with:
// its own from the snapshot, else one derived from its snapshot id, so a
// retried create finds what an earlier attempt made ("" for kinds keyed
// otherwise).
func UpsertKey(kind *Kind, id string, snap map[string]any) string {
	if kind.NaturalKey != "uniqueName" {
		return ""
	}
	if own, _ := snap["uniqueName"].(string); own != "" {
		return own
	}
	return "entravault-restore-" + id
}

// added plans an object created after the snapshot: a soft delete with
// remove_added, else nothing (it is not a difference to restore).
func (p *Planner) added(kind *Kind, id string, live map[string]any) error {
	if !p.opts.RemoveAdded {
		return nil
	}
	name := displayName(live)
	if kind.NotWritable != nil {
		if reason := kind.NotWritable(live); reason != "" {
			return p.add(Action{Kind: Skip, Type: kind.Type, ID: id, Name: name, Reason: "created after the snapshot, not removed: " + reason})
		}
	}
	if synced(live) {
		return p.add(Action{Kind: Skip, Type: kind.Type, ID: id, Name: name, Reason: "created after the snapshot, not removed: synced from on-premises"})
	}
	if kind.Type == "group" && !unified(live) {
		// Rollback only soft-deletes; Graph deletes a security group for good.
		return p.add(Action{Kind: Skip, Type: kind.Type, ID: id, Name: name,
			Reason: "created after the snapshot, not removed: deleting a security group is permanent, and rollback never hard-deletes"})
	}
	return p.add(Action{Kind: DeleteAdded, Type: kind.Type, ID: id, Name: name})
}

// Relation plans one link list (owner's members, owners or manager). owner
// is the owner as in the snapshot (nil if absent there).
func (p *Planner) Relation(relType, ownerID string, snap, live, owner []byte) error {
	rel := Relations[relType]
	if rel == nil {
		return p.Object(relType, ownerID, snap, live)
	}
	if !p.selected(rel.Owner, ownerID) || p.ambiguous[ownerID] {
		return nil
	}
	notWritable := ""
	if owner != nil {
		if kind := Kinds[rel.Owner]; kind != nil && kind.NotWritable != nil {
			notWritable = kind.NotWritable(decode(owner))
		}
	}
	want, have := map[string]bool{}, setOf(refIDs(live)...)
	for _, id := range refIDs(snap) {
		want[id] = true
	}
	var add, remove []string
	for id := range want {
		if have[p.idmap.Resolve(id)] || !rel.Single && p.comesBack(ownerID, id) {
			continue
		}
		add = append(add, id)
	}
	for id := range have {
		if !want[id] && !want[p.idmap.Original(id)] {
			remove = append(remove, id)
		}
	}
	if rel.Single && len(add) > 0 {
		remove = nil // PUT manager replaces it
	}
	sort.Strings(add)
	sort.Strings(remove)
	add, err := p.withoutUnlinkable(rel, ownerID, add)
	if err != nil {
		return err
	}
	if notWritable != "" {
		if len(add)+len(remove) == 0 {
			return nil
		}
		return p.add(Action{Kind: Skip, Type: rel.Owner, ID: ownerID, Relation: rel.Name, Links: append(add, remove...),
			Reason: "links not restored: " + notWritable})
	}
	return p.links(rel, ownerID, add, remove)
}

// comesBack: an undeleted object gets its memberships back from Entra,
// and an undeleted owner its members, unless the member itself was
// re-created. Managers are always planned: Entra clears the manager of a
// deleted user's reports, and apply checks the manager before writing.
func (p *Planner) comesBack(ownerID, memberID string) bool {
	return p.undeleted[memberID] || (p.undeleted[ownerID] && !p.recreated[memberID])
}

func (p *Planner) links(rel *Relation, ownerID string, add, remove []string) error {
	base := Action{Type: rel.Owner, ID: ownerID, Relation: rel.Name}
	if len(add) > 0 {
		a := base
		a.Kind, a.Links = AddLinks, add
		if !p.opts.Links {
			a.Kind, a.Reason = Skip, "missing links; option links is off"
		}
		if err := p.add(a); err != nil {
			return err
		}
	}
	if len(remove) > 0 {
		a := base
		a.Kind, a.Links = RemoveLinks, remove
		if !p.opts.RemoveExtraLinks || !p.opts.Links {
			a.Kind, a.Reason = Skip, "links added since the snapshot; option remove_extra_links is off"
		}
		return p.add(a)
	}
	return nil
}

// RoleAssignment collects one role assignment difference; assignments are
// matched by principal, role and scope in Finish, since a restored one
// gets a new id.
func (p *Planner) RoleAssignment(id string, snap, live []byte) {
	if snap != nil {
		p.roles.snap = append(p.roles.snap, roleAssignmentOf(id, snap))
	}
	if live != nil {
		p.roles.live = append(p.roles.live, roleAssignmentOf(id, live))
	}
}

// Outside plans an object the plan cannot judge (the live read does not
// cover it) as a skip with reason.
func (p *Planner) Outside(objType, id string, snap []byte, reason string) error {
	if !p.selected(objType, id) || p.planned[id] {
		return nil
	}
	p.planned[id] = true
	return p.add(Action{Kind: Skip, Type: objType, ID: id, Name: displayName(decode(snap)), Reason: reason})
}

// Planned reports whether Object was given the object id.
func (p *Planner) Planned(id string) bool { return p.planned[id] }

// NamesRecreated reports whether a snapshot object names an object this
// plan re-creates: it must be planned even where it did not change.
func (p *Planner) NamesRecreated(raw []byte) bool {
	o := decode(raw)
	delete(o, "id")
	return p.mentionsAny(o, p.recreated)
}

// Finish plans the child collections and the role assignments and
// returns the plan's counts.
func (p *Planner) Finish() (Counts, error) {
	if err := p.finishChildren(); err != nil {
		return p.counts, err
	}
	for _, a := range p.roles.actions(p) {
		if err := p.add(a); err != nil {
			return p.counts, err
		}
	}
	return p.counts, nil
}

func decode(raw []byte) map[string]any {
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	if m == nil {
		m = map[string]any{}
	}
	return m
}

func propertyNames(a, b map[string]any) []string {
	var names []string
	for k := range a {
		names = append(names, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	return names
}

// rawOf is v's canonical JSON (encoding/json sorts map keys), so equal
// values compare equal byte for byte.
func rawOf(v any) json.RawMessage { return mustJSON(v) }

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // values decoded from JSON always encode
	}
	return b
}

func displayName(o map[string]any) string {
	if upn, ok := o["userPrincipalName"].(string); ok {
		return upn
	}
	s, _ := o["displayName"].(string)
	return s
}

// refIDs reads the ids of a stored relation: {"value":[…]}, […] or one
// reference object.
func refIDs(raw []byte) []string {
	if len(raw) == 0 {
		return nil
	}
	type ref struct {
		ID string `json:"id"`
	}
	var list struct {
		Value []ref `json:"value"`
	}
	var ids []string
	if err := json.Unmarshal(raw, &list); err == nil && list.Value != nil {
		for _, r := range list.Value {
			ids = append(ids, r.ID)
		}
		return ids
	}
	var arr []ref
	if err := json.Unmarshal(raw, &arr); err == nil {
		for _, r := range arr {
			ids = append(ids, r.ID)
		}
		return ids
	}
	var one ref
	if json.Unmarshal(raw, &one) == nil && one.ID != "" {
		return []string{one.ID}
	}
	return nil
}

// policyWarning flags a policy that will be enforced on every user with no
// administrator excluded: restored as is, it can lock everyone out,
// including whoever runs the restore.
func policyWarning(policy map[string]any) string {
	if policy["state"] != "enabled" {
		return ""
	}
	cond, _ := policy["conditions"].(map[string]any)
	users, _ := cond["users"].(map[string]any)
	includes, _ := users["includeUsers"].([]any)
	all := false
	for _, u := range includes {
		all = all || u == "All"
	}
	for _, k := range []string{"excludeUsers", "excludeGroups", "excludeRoles"} {
		if ex, _ := users[k].([]any); len(ex) > 0 {
			return ""
		}
	}
	if !all {
		return ""
	}
	return "warning: enforced on every user and excludes no administrator; consider policy_state enabledForReportingButNotEnforced"
}
