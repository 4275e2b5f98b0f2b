package restore

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

type planned struct{ actions []Action }

func (p *planned) emit(a Action) error { p.actions = append(p.actions, a); return nil }

func (p *planned) kinds() []string {
	var out []string
	for _, a := range p.actions {
		out = append(out, string(a.Kind)+":"+a.Type+":"+a.ID)
	}
	slices.Sort(out)
	return out
}

func obj(fields map[string]any) []byte { b, _ := json.Marshal(fields); return b }

func members(ids ...string) []byte {
	var v []map[string]string
	for _, id := range ids {
		v = append(v, map[string]string{"id": id})
	}
	return obj(map[string]any{"value": v})
}

func user(id, upn, title string) []byte {
	return obj(map[string]any{"id": id, "userPrincipalName": upn, "displayName": upn, "mailNickname": strings.Split(upn, "@")[0],
		"accountEnabled": true, "jobTitle": title, "createdDateTime": "2025-01-01T00:00:00Z", "proxyAddresses": []string{"SMTP:" + upn}})
}

func TestPlannerDerivesOneActionPerDifference(t *testing.T) {
	var out planned
	deleted := map[string]json.RawMessage{"u-binned": user("u-binned", "binned@x", "Engineer")}
	p := NewPlanner(DefaultOptions(), Selection{}, deleted, NewIDMap(), out.emit)
	steps := []error{
		p.Object("user", "u-binned", user("u-binned", "binned@x", "Engineer"), nil),               // in the recycle bin
		p.Object("user", "u-gone", user("u-gone", "gone@x", "Engineer"), nil),                     // deleted for good
		p.Object("user", "u-tampered", user("u-t", "t@x", "Engineer"), user("u-t", "t@x", "CEO")), // property changed
		p.Object("user", "u-new", nil, user("u-new", "new@x", "Intern")),                          // added: not removed by default
		p.Object("subscribedSku", "sku", obj(map[string]any{"a": 1}), obj(map[string]any{"a": 2})),
		p.Relation("group.members", "g1", members("u-binned", "u-gone", "u-kept"), members("u-kept", "u-extra"), obj(map[string]any{"id": "g1"})),
	}
	for _, err := range steps {
		if err != nil {
			t.Fatal(err)
		}
	}
	p.RoleAssignment("ra1", obj(map[string]any{"principalId": "u-gone", "roleDefinitionId": "r1", "directoryScopeId": "/"}), nil)
	counts, err := p.Finish()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"add_links:group:g1", "add_role:roleAssignment:ra1", "recreate:user:u-gone", "revert:user:u-tampered",
		"skip:group:g1", "skip:subscribedSku:sku", "undelete:user:u-binned",
	}
	if got := out.kinds(); !slices.Equal(got, want) {
		t.Fatalf("actions\n got %v\nwant %v", got, want)
	}
	for _, a := range out.actions {
		switch a.Kind {
		case AddLinks:
			// u-binned comes back with its undelete; u-gone is re-created.
			if !slices.Equal(a.Links, []string{"u-gone"}) {
				t.Errorf("links to add: %v", a.Links)
			}
		case Revert:
			if len(a.Properties) != 1 || a.Properties[0].Name != "jobTitle" || string(a.Properties[0].After) != `"Engineer"` {
				t.Errorf("revert: %+v", a.Properties)
			}
		case Recreate:
			var body map[string]any
			_ = json.Unmarshal(a.Object, &body)
			for _, never := range []string{"id", "createdDateTime", "proxyAddresses", "passwordProfile"} {
				if _, ok := body[never]; ok {
					t.Errorf("re-create sends %s", never)
				}
			}
			if a.Note == "" {
				t.Error("a re-created user's report does not mention the new password")
			}
		}
	}
	if counts.ByKind[Skip] != 2 || counts.ByKind[Undelete] != 1 {
		t.Errorf("counts %+v", counts)
	}
	// Keys sort in apply order: undeletes, re-creates, reverts, links, roles.
	keys := map[ActionKind]string{}
	for _, a := range out.actions {
		keys[a.Kind] = a.Key
	}
	order := []ActionKind{Undelete, Recreate, Revert, AddLinks, AddRole, Skip}
	for i := 1; i < len(order); i++ {
		if keys[order[i-1]] >= keys[order[i]] {
			t.Errorf("%s (%s) does not sort before %s (%s)", order[i-1], keys[order[i-1]], order[i], keys[order[i]])
		}
	}
}

func TestPlannerFollowsTheIDMap(t *testing.T) {
	var out planned
	ids := NewIDMap()
	ids.Set("u-old", "u-new")
	p := NewPlanner(DefaultOptions(), Selection{}, nil, ids, out.emit)
	// The re-created twin is compared with its snapshot original; equal
	// objects and links mapped through the id map need nothing.
	if err := p.Object("user", "u-old", user("u-old", "a@x", "Eng"), user("u-new", "a@x", "Eng")); err != nil {
		t.Fatal(err)
	}
	if err := p.Object("user", "u-new", nil, user("u-new", "a@x", "Eng")); err != nil {
		t.Fatal(err)
	}
	if err := p.Relation("group.members", "g1", members("u-old"), members("u-new"), nil); err != nil {
		t.Fatal(err)
	}
	p.RoleAssignment("ra-old", obj(map[string]any{"principalId": "u-old", "roleDefinitionId": "r1", "directoryScopeId": "/"}), nil)
	p.RoleAssignment("ra-new", nil, obj(map[string]any{"principalId": "u-new", "roleDefinitionId": "r1", "directoryScopeId": "/"}))
	if _, err := p.Finish(); err != nil {
		t.Fatal(err)
	}
	if len(out.actions) != 0 {
		t.Fatalf("a restored tenant planned again: %v", out.kinds())
	}
}

func TestPlannerSkipsWhatGraphCannotWrite(t *testing.T) {
	var out planned
	opts := DefaultOptions()
	opts.RemoveAdded = true
	p := NewPlanner(opts, Selection{}, nil, NewIDMap(), out.emit)
	dl := obj(map[string]any{"id": "g-dl", "displayName": "All staff", "mailEnabled": true, "securityEnabled": false, "mailNickname": "all"})
	syncedUser := obj(map[string]any{"id": "u-s", "userPrincipalName": "s@x", "onPremisesSyncEnabled": true, "jobTitle": "A"})
	syncedNow := obj(map[string]any{"id": "u-s", "userPrincipalName": "s@x", "onPremisesSyncEnabled": true, "jobTitle": "B"})
	for _, err := range []error{
		p.Object("group", "g-dl", dl, nil),
		p.Object("user", "u-s", syncedUser, syncedNow),
		p.Object("user", "u-s2", syncedUser, nil),
		p.Object("user", "u-added", nil, user("u-added", "added@x", "X")),
		p.Object("group", "g-sec", nil, obj(map[string]any{"id": "g-sec", "securityEnabled": true, "mailEnabled": false})),
		p.Object("group", "g-m365", nil, obj(map[string]any{"id": "g-m365", "groupTypes": []string{"Unified"}, "mailEnabled": true})),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := out.kinds()
	want := []string{"delete_added:group:g-m365", "delete_added:user:u-added", "skip:group:g-dl", "skip:group:g-sec", "skip:user:u-s", "skip:user:u-s2"}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	for _, a := range out.actions {
		if a.Kind == Skip && a.Reason == "" {
			t.Errorf("skip without a reason: %+v", a)
		}
	}
}

func TestSelectionNarrowsThePlan(t *testing.T) {
	var out planned
	p := NewPlanner(DefaultOptions(), Selection{IDs: []string{"u-1"}}, nil, NewIDMap(), out.emit)
	_ = p.Object("user", "u-1", user("u-1", "1@x", "A"), user("u-1", "1@x", "B"))
	_ = p.Object("user", "u-2", user("u-2", "2@x", "A"), user("u-2", "2@x", "B"))
	_ = p.Relation("group.members", "g", members("u-1"), members(), nil)
	if got := out.kinds(); !slices.Equal(got, []string{"revert:user:u-1"}) {
		t.Fatalf("got %v", got)
	}
	if err := (Selection{Types: []string{"device"}}).Validate(); err == nil {
		t.Fatal("an unknown type was accepted")
	}
}

func TestPlannerReportsLinksOfExchangeGroups(t *testing.T) {
	var out planned
	p := NewPlanner(DefaultOptions(), Selection{}, nil, NewIDMap(), out.emit)
	dl := obj(map[string]any{"id": "g-dl", "mailEnabled": true, "securityEnabled": false})
	if err := p.Relation("group.members", "g-dl", members("u1", "u2"), members("u1"), dl); err != nil {
		t.Fatal(err)
	}
	if err := p.Relation("group.members", "g-dl2", members("u1"), members("u1"), dl); err != nil {
		t.Fatal(err)
	}
	if len(out.actions) != 1 || out.actions[0].Kind != Skip || out.actions[0].Reason == "" || !slices.Equal(out.actions[0].Links, []string{"u2"}) {
		t.Fatalf("a distribution list's lost member must be a skip with its reason: %+v", out.actions)
	}
}
