package model

import (
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Op is a change-log operation.
type Op uint8

// Change-log operations.
const (
	OpUpsert Op = iota + 1
	OpSoftDelete
	OpHardDelete
	OpMemberAdd
	OpMemberRemove
	OpManager
)

// Change is one entry of the change log; its sequence number is its index+1.
type Change struct {
	Obj    Ref
	Member Ref
	Op     Op
}

// Seq is the sequence number of the latest change.
func (t *Tenant) Seq() uint64 { return uint64(len(t.changes)) }

func (t *Tenant) record(obj Ref, op Op, member Ref) {
	t.changes = append(t.changes, Change{Obj: obj, Member: member, Op: op})
}

// Create adds an object of kind k from the given properties (a POST body
// without its @odata.bind links), refusing what Graph refuses.
func (t *Tenant) Create(k Kind, props map[string]any) (Ref, error) {
	if _, ok := resourceNames[k]; !ok {
		return 0, fmt.Errorf("%w: cannot create this kind", ErrInvalid)
	}
	if err := checkProps(k, props, true, false); err != nil {
		return 0, err
	}
	upn, _ := props["userPrincipalName"].(string)
	if k == KindUser {
		if err := t.checkUPN(upn, -1); err != nil {
			return 0, err
		}
	}
	now := t.Now().Unix()
	meta := Meta{ID: newID(t.rng), Created: now, Custom: true}
	var r Ref
	switch k {
	case KindUser:
		t.Users = append(t.Users, User{Meta: meta, Manager: -1, Enabled: true})
		r = MakeRef(k, int32(len(t.Users)-1))
		t.upns[strings.ToLower(upn)] = r.Index()
	case KindGroup:
		typ := GroupSecurity
		if gt, _ := props["groupTypes"].([]any); slices.Contains(gt, any("Unified")) {
			typ = GroupM365
		} else if me, _ := props["mailEnabled"].(bool); me {
			typ = GroupMailSecurity
		}
		t.Groups = append(t.Groups, Group{Meta: meta, Type: typ})
		r = MakeRef(k, int32(len(t.Groups)-1))
	case KindAU:
		t.AUs = append(t.AUs, AU{Meta: meta})
		r = MakeRef(k, int32(len(t.AUs)-1))
	case KindApp:
		var err error
		if r, err = t.createApp(meta, props); err != nil {
			return 0, err
		}
	case KindCAPolicy, KindNamedLocation:
		d := Doc{Meta: meta, Props: map[string]any{"createdDateTime": ts(now), "modifiedDateTime": ts(now)}}
		if k == KindCAPolicy {
			t.CAPolicies = append(t.CAPolicies, d)
			r = MakeRef(k, int32(len(t.CAPolicies)-1))
		} else {
			t.NamedLocations = append(t.NamedLocations, d)
			r = MakeRef(k, int32(len(t.NamedLocations)-1))
		}
	}
	t.byID[meta.ID] = r
	t.apply(r, stored(k, props))
	t.record(r, OpUpsert, 0)
	return r, nil
}

// apply writes properties either into a Doc or into the override map.
func (t *Tenant) apply(r Ref, props map[string]any) {
	switch r.Kind() {
	case KindCAPolicy:
		for k, v := range props {
			t.CAPolicies[r.Index()].Props[k] = v
		}
		t.CAPolicies[r.Index()].Props["modifiedDateTime"] = ts(t.Now().Unix())
	case KindNamedLocation:
		for k, v := range props {
			t.NamedLocations[r.Index()].Props[k] = v
		}
		t.NamedLocations[r.Index()].Props["modifiedDateTime"] = ts(t.Now().Unix())
	case KindApp:
		if keys, ok := props["keyCredentials"]; ok { // kept apart: only single reads show the keys
			t.setKeys(r.Index(), keys)
			props = maps.Clone(props)
			delete(props, "keyCredentials")
		}
		t.setOver(r, props)
	default:
		t.setOver(r, props)
	}
}

// Update patches a live object, refusing what Graph refuses: nothing is
// written then.
func (t *Tenant) Update(r Ref, props map[string]any) error {
	if !t.IsLive(r) {
		return ErrNotFound
	}
	if err := checkProps(r.Kind(), props, false, t.Synced(r)); err != nil {
		return err
	}
	if upn, ok := props["userPrincipalName"].(string); ok && r.Kind() == KindUser {
		if err := t.checkUPN(upn, r.Index()); err != nil {
			return err
		}
		delete(t.upns, strings.ToLower(t.userUPN(r.Index())))
		t.upns[strings.ToLower(upn)] = r.Index()
	}
	t.apply(r, stored(r.Kind(), props))
	t.record(r, OpUpsert, 0)
	return nil
}

// Delete removes a live object: users, Microsoft 365 groups, administrative
// units, applications and service principals go to the recycle bin;
// security groups, policies and named locations are deleted permanently, as
// on Graph. An application's service principal goes to the recycle bin
// with it (and restoring one does not restore the other).
func (t *Tenant) Delete(r Ref) error {
	if !t.IsLive(r) {
		return ErrNotFound
	}
	m := t.Meta(r)
	m.Deleted = t.Now().Unix()
	soft := r.Kind() == KindUser || r.Kind() == KindAU || r.Kind() == KindApp || r.Kind() == KindSP ||
		(r.Kind() == KindGroup && t.Groups[r.Index()].Type == GroupM365)
	// Graph drops a deleted object's memberships; delta shows them as
	// members@delta removals. The lists keep the entry (hidden while not
	// live) so a restore brings the memberships back.
	t.recordContainers(r, OpMemberRemove)
	if soft {
		m.State = SoftDeleted
		t.record(r, OpSoftDelete, 0)
	} else {
		t.hardDelete(r)
	}
	t.recordReports(r)
	if sp, ok := t.spOfApp(r.Index()); ok && r.Kind() == KindApp && t.IsLive(sp) {
		return t.Delete(sp)
	}
	return nil
}

// purgeLive deletes a live object for good at once, as a delete followed
// by a purge of the recycle bin does.
func (t *Tenant) purgeLive(r Ref) {
	t.recordContainers(r, OpMemberRemove)
	t.Meta(r).Deleted = t.Now().Unix()
	t.hardDelete(r)
	t.recordReports(r)
	if sp, ok := t.spOfApp(r.Index()); ok && r.Kind() == KindApp {
		t.purgeLive(sp) // and its service principal, from wherever it is
	}
}

// recordReports logs a manager change for every live report of user r,
// whose deletion or restore hides or shows it as their manager: users
// delta sends their manager@delta again.
func (t *Tenant) recordReports(r Ref) {
	if r.Kind() != KindUser {
		return
	}
	for i := range t.Users {
		if t.Users[i].Manager == r.Index() && t.Users[i].State == Live {
			t.record(MakeRef(KindUser, int32(i)), OpManager, r)
		}
	}
}

func (t *Tenant) hardDelete(r Ref) {
	m := t.Meta(r)
	m.State, m.Deleted = Gone, t.Now().Unix()
	if r.Kind() == KindUser {
		delete(t.upns, strings.ToLower(t.userUPN(r.Index())))
	}
	t.record(r, OpHardDelete, 0)
}

// PurgeDeleted permanently deletes an object in the recycle bin.
func (t *Tenant) PurgeDeleted(r Ref) error {
	if t.StateOf(r) != SoftDeleted {
		return ErrNotFound
	}
	t.hardDelete(r)
	return nil
}

// Restore brings an object back from the recycle bin.
func (t *Tenant) Restore(r Ref) error {
	if t.StateOf(r) != SoftDeleted {
		return ErrNotFound
	}
	if r.Kind() == KindGroup && t.Groups[r.Index()].Type != GroupM365 {
		return ErrNotRestorable
	}
	m := t.Meta(r)
	m.State, m.Deleted = Live, 0
	t.record(r, OpUpsert, 0)
	t.recordContainers(r, OpMemberAdd)
	t.recordReports(r)
	return nil
}

// recordContainers logs a membership change of r in every live group and
// administrative unit that lists it. Churn builds the reverse index once
// per call (t.memberOf); single writes scan.
func (t *Tenant) recordContainers(r Ref, op Op) {
	if r.Kind() != KindUser && r.Kind() != KindGroup && r.Kind() != KindSP {
		return
	}
	if t.memberOf != nil {
		for _, c := range t.memberOf[r] {
			if t.IsLive(c) {
				t.record(c, op, r)
			}
		}
		return
	}
	for i := range t.Groups {
		if t.Groups[i].State == Live && slices.Contains(t.Groups[i].Members, r) {
			t.record(MakeRef(KindGroup, int32(i)), op, r)
		}
	}
	for i := range t.AUs {
		if t.AUs[i].State == Live && slices.Contains(t.AUs[i].Members, r) {
			t.record(MakeRef(KindAU, int32(i)), op, r)
		}
	}
}

func (t *Tenant) buildMemberOf() {
	t.memberOf = map[Ref][]Ref{}
	for i := range t.Groups {
		for _, m := range t.Groups[i].Members {
			t.memberOf[m] = append(t.memberOf[m], MakeRef(KindGroup, int32(i)))
		}
	}
	for i := range t.AUs {
		for _, m := range t.AUs[i].Members {
			t.memberOf[m] = append(t.memberOf[m], MakeRef(KindAU, int32(i)))
		}
	}
}

// Members returns the member list of a group or administrative unit (owners
// when owners is set), live members only.
func (t *Tenant) Members(r Ref, owners bool) []Ref {
	var list []Ref
	switch r.Kind() {
	case KindGroup:
		list = t.Groups[r.Index()].Members
		if owners {
			list = t.Groups[r.Index()].Owners
		}
	case KindAU:
		list = t.AUs[r.Index()].Members
	case KindApp, KindSP:
		if owners {
			list = *t.memberList(r, true)
		}
	}
	out := make([]Ref, 0, len(list))
	for _, m := range list {
		if t.IsLive(m) {
			out = append(out, m)
		}
	}
	return out
}

func (t *Tenant) memberList(r Ref, owners bool) *[]Ref {
	switch {
	case r.Kind() == KindGroup && owners:
		return &t.Groups[r.Index()].Owners
	case r.Kind() == KindGroup:
		return &t.Groups[r.Index()].Members
	case r.Kind() == KindAU && !owners:
		return &t.AUs[r.Index()].Members
	case r.Kind() == KindApp && owners:
		return &t.Apps[r.Index()].Owners
	case r.Kind() == KindSP && owners:
		return &t.SPs[r.Index()].Owners
	}
	return nil
}

// linkable checks that member may be added to r's members (owners).
func (t *Tenant) linkable(r, member Ref, owners bool) error {
	if !t.IsLive(member) {
		return ErrRefMissing
	}
	k := member.Kind()
	if t.memberList(r, owners) == nil || member == r || (k != KindUser && k != KindGroup && k != KindSP) || owners && k == KindGroup {
		return fmt.Errorf("%w: Unsupported referenced-object resource identifier for link property '%s'.", ErrInvalid, relName(owners))
	}
	return nil
}

func relName(owners bool) string {
	if owners {
		return "owners"
	}
	return "members"
}

// AddMember adds member to a group or AU (owner when owners is set).
func (t *Tenant) AddMember(r, member Ref, owners bool) error {
	if owners {
		return t.AddLinks(r, nil, []Ref{member})
	}
	return t.AddLinks(r, []Ref{member}, nil)
}

// CheckLinks reports whether AddLinks would succeed, changing nothing.
func (t *Tenant) CheckLinks(r Ref, members, owners []Ref) error {
	if !t.IsLive(r) {
		return ErrNotFound
	}
	var exist []string
	for i, list := range [][]Ref{members, owners} {
		owns := i == 1
		for j, m := range list {
			if err := t.linkable(r, m, owns); err != nil {
				return err
			}
			if slices.Contains(*t.memberList(r, owns), m) || slices.Contains(list[:j], m) {
				exist = append(exist, relName(owns))
				break
			}
		}
	}
	if len(exist) > 0 {
		return &PropError{Err: ErrLinkExists, Props: exist}
	}
	return nil
}

// AddLinks adds members and owners to a group or AU in one write, as a
// PATCH with members@odata.bind does: all of them, or none when one does
// not exist or is linked already.
func (t *Tenant) AddLinks(r Ref, members, owners []Ref) error {
	if err := t.CheckLinks(r, members, owners); err != nil {
		return err
	}
	g := t.memberList(r, false)
	for _, m := range members {
		*g = append(*g, m)
		t.record(r, OpMemberAdd, m)
		if t.memberOf != nil {
			t.memberOf[m] = append(t.memberOf[m], r)
		}
	}
	if len(owners) > 0 {
		o := t.memberList(r, true)
		*o = append(*o, owners...)
	}
	return nil
}

// RemoveMember removes member from a group or AU.
func (t *Tenant) RemoveMember(r, member Ref, owners bool) error {
	if !t.IsLive(r) {
		return ErrNotFound
	}
	list := t.memberList(r, owners)
	if list == nil {
		return ErrInvalid
	}
	for i, m := range *list {
		if m == member {
			(*list)[i] = (*list)[len(*list)-1]
			*list = (*list)[:len(*list)-1]
			if !owners {
				t.record(r, OpMemberRemove, member)
			}
			return nil
		}
	}
	return ErrNotFound
}

// Manager returns the user's live manager, if any.
func (t *Tenant) Manager(u int32) (int32, bool) {
	m := t.Users[u].Manager
	if m < 0 || !t.IsLive(MakeRef(KindUser, m)) {
		return 0, false
	}
	return m, true
}

// SetManager sets (or with m < 0 clears) a user's manager.
func (t *Tenant) SetManager(u, m int32) error {
	switch {
	case !t.IsLive(MakeRef(KindUser, u)):
		return ErrNotFound
	case m >= 0 && !t.IsLive(MakeRef(KindUser, m)):
		return ErrRefMissing
	case m == u:
		return fmt.Errorf("%w: A user cannot be their own manager.", ErrInvalid)
	}
	t.Users[u].Manager = m
	t.record(MakeRef(KindUser, u), OpManager, MakeRef(KindUser, m))
	return nil
}

// ChurnStats counts what a Churn call did.
type ChurnStats struct {
	Updated, SoftDeleted, HardDeleted, MemberChanges, Created int
}

// Churn changes about pct percent of users, groups, administrative units,
// applications (service principals are only updated): updates (45%), soft deletes (15%),
// hard deletes (5%), membership changes (20%) and new objects (15%). It is
// deterministic for a given seed and churn call number.
func (t *Tenant) Churn(pct float64) ChurnStats {
	var st ChurnStats
	t.churns++
	r := t.rng
	t.buildMemberOf()
	defer func() { t.memberOf = nil }()
	now := t.Now().Unix()
	for _, k := range []Kind{KindUser, KindGroup, KindAU, KindApp, KindSP} {
		n := int(float64(t.Len(k)) * pct / 100)
		if n == 0 && pct > 0 {
			n = 1
		}
		for j := 0; j < n; j++ {
			i := int32(r.IntN(t.Len(k)))
			ref := MakeRef(k, i)
			if !t.IsLive(ref) {
				continue
			}
			p := r.IntN(100)
			if k == KindSP {
				p = 0 // service principals only change; they come and go with their apps
			}
			switch {
			case p < 45:
				t.churnUpdate(ref, r.IntN(1000))
				st.Updated++
			case p < 60:
				if k == KindUser && (i == AdminUser || i == SecAdminUser || i == RegularUser) || k == KindApp && i <= RestoreApp {
					continue // keep the sign-in accounts and apps
				}
				_ = t.Delete(ref)
				if t.Meta(ref).State == SoftDeleted {
					st.SoftDeleted++
				} else {
					st.HardDeleted++
				}
			case p < 65:
				if k == KindUser && i <= RegularUser || k == KindApp && i <= RestoreApp {
					continue
				}
				t.purgeLive(ref)
				st.HardDeleted++
			case p < 85:
				if len(t.Groups) == 0 {
					continue
				}
				g := MakeRef(KindGroup, int32(r.IntN(len(t.Groups))))
				if k == KindGroup || k == KindAU {
					g = ref
				}
				if !t.IsLive(g) {
					continue
				}
				members := *t.memberList(g, false)
				if len(members) > 1 && r.IntN(2) == 0 {
					_ = t.RemoveMember(g, members[r.IntN(len(members))], false)
				} else if err := t.AddMember(g, MakeRef(KindUser, int32(r.IntN(len(t.Users)))), false); err != nil {
					continue
				}
				st.MemberChanges++
			default:
				t.churnCreate(k, now)
				st.Created++
			}
		}
	}
	return st
}

func (t *Tenant) churnUpdate(ref Ref, v int) {
	i := ref.Index()
	switch ref.Kind() {
	case KindUser:
		u := &t.Users[i]
		if u.Custom {
			t.setOver(ref, map[string]any{"jobTitle": jobTitles[v%len(jobTitles)]})
		} else {
			u.Title, u.Dept = uint8(v%len(jobTitles)), uint8(v%len(departments))
		}
	case KindGroup:
		t.setOver(ref, map[string]any{"description": fmt.Sprintf("Updated by churn %d (rev %d)", t.churns, v)})
	case KindAU:
		t.setOver(ref, map[string]any{"description": fmt.Sprintf("Helpdesk scope, rev %d", v)})
	case KindApp, KindSP:
		t.setOver(ref, map[string]any{"notes": fmt.Sprintf("Reviewed in churn %d", t.churns)})
	}
	t.record(ref, OpUpsert, 0)
}

func (t *Tenant) churnCreate(k Kind, now int64) {
	meta := Meta{ID: newID(t.rng), Created: now}
	var ref Ref
	switch k {
	case KindUser:
		n := len(t.Users)
		t.Users = append(t.Users, User{Meta: meta, N: uint32(n)*7919 + uint32(t.Seed), Manager: int32(t.rng.IntN(n)),
			Dept: uint8(n % len(departments)), Title: uint8(n % len(jobTitles)), Office: uint8(n % len(offices)), Enabled: true, Licensed: true})
		ref = MakeRef(k, int32(n))
		t.upns[strings.ToLower(t.userUPN(int32(n)))] = int32(n)
	case KindGroup:
		t.Groups = append(t.Groups, Group{Meta: meta, N: uint32(len(t.Groups)), Type: GroupM365,
			Members: pickUsers(t.rng, 3, len(t.Users)), Owners: pickUsers(t.rng, 1, len(t.Users))})
		ref = MakeRef(k, int32(len(t.Groups)-1))
	case KindAU:
		t.AUs = append(t.AUs, AU{Meta: meta, N: uint32(len(t.AUs)), Members: pickUsers(t.rng, 5, len(t.Users))})
		ref = MakeRef(k, int32(len(t.AUs)-1))
	case KindApp:
		t.Apps = append(t.Apps, App{Meta: meta, N: uint32(len(t.Apps)), AppID: newID(t.rng), Owners: []Ref{MakeRef(KindUser, int32(t.rng.IntN(len(t.Users))))}})
		ref = MakeRef(k, int32(len(t.Apps)-1))
		t.byID[meta.ID] = ref
		t.record(ref, OpUpsert, 0)
		t.addSP(SP{Meta: Meta{ID: newID(t.rng), Created: now}, App: ref.Index()})
		t.record(MakeRef(KindSP, int32(len(t.SPs)-1)), OpUpsert, 0)
		return
	}
	t.byID[meta.ID] = ref
	t.record(ref, OpUpsert, 0)
	if k == KindGroup || k == KindAU {
		for _, m := range *t.memberList(ref, false) {
			t.record(ref, OpMemberAdd, m)
			if t.memberOf != nil {
				t.memberOf[m] = append(t.memberOf[m], ref)
			}
		}
	}
}

// AppendLogs adds n sign-in and n audit records timestamped now.
func (t *Tenant) AppendLogs(n int) {
	now := t.Now().UnixNano()
	r := t.rng
	for k := 0; k < n; k++ {
		u := int32(r.IntN(len(t.Users)))
		t.SignIns = append(t.SignIns, SignIn{ID: newID(r), At: now + int64(k), User: u, App: uint8(r.IntN(len(signInApps))),
			Office: t.Users[u].Office, IP: 0xcb007100 | uint32(r.IntN(256)), Interactive: true})
		act := uint8(r.IntN(len(auditActivities)))
		t.Audits = append(t.Audits, Audit{ID: newID(r), At: now + int64(k), Activity: act, Actor: int32(r.IntN(min(len(t.Users), 20))),
			Target: t.auditTarget(r, auditActivities[act].TargetType)})
	}
}
