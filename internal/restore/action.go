package restore

import (
	"encoding/json"
	"fmt"
)

// ActionKind is what an action does.
type ActionKind string

// Action kinds, in the order a restore applies them.
const (
	Undelete    ActionKind = "undelete"     // from the recycle bin, keeping the id
	Recreate    ActionKind = "recreate"     // gone for good: create from the snapshot, new id
	Revert      ActionKind = "revert"       // PATCH differing writable properties back
	AddLinks    ActionKind = "add_links"    // members, owners, manager
	RemoveLinks ActionKind = "remove_links" // option remove_extra_links
	AddChild    ActionKind = "add_child"    // federated credential, app role assignment, delegated grant
	RemoveChild ActionKind = "remove_child" // option remove_extra_links
	AddRole     ActionKind = "add_role"     // directory role assignment
	RemoveRole  ActionKind = "remove_role"  // option remove_extra_links
	DeleteAdded ActionKind = "delete_added" // option remove_added: soft delete
	Skip        ActionKind = "skip"         // cannot be restored; Reason says why
)

// ActionKinds lists every kind, in apply order.
var ActionKinds = []ActionKind{Undelete, Recreate, Revert, AddLinks, RemoveLinks, AddChild, RemoveChild, AddRole, RemoveRole, DeleteAdded, Skip}

// Outcome is what applying an action did.
type Outcome string

// Outcomes.
const (
	Pending          Outcome = ""                   // planned, not applied
	Succeeded        Outcome = "succeeded"          // written
	AlreadyDone      Outcome = "already_done"       // the tenant already held it: nothing written
	ChangedSincePlan Outcome = "changed_since_plan" // the live object moved on: not overwritten
	Skipped          Outcome = "skipped"            // a Skip action, or an option turned off
	Failed           Outcome = "failed"             // Graph refused; Error says why
)

// Outcomes lists every outcome of an applied action.
var Outcomes = []Outcome{Succeeded, AlreadyDone, ChangedSincePlan, Skipped, Failed}

// Action is one step of a restore. Plans and reports are streams of them,
// stored in the repository and paged by Key.
type Action struct {
	Key  string     `json:"key"` // apply order
	Kind ActionKind `json:"kind"`
	Type string     `json:"type"` // object type: user, group, administrativeUnit, roleAssignment
	ID   string     `json:"id"`   // the object's id in the snapshot
	Name string     `json:"name,omitempty"`
	// Properties are the exact properties written (revert) or the skipped
	// ones, before (live) → after (snapshot).
	Properties []PropertyChange `json:"properties,omitempty"`
	// Links are the references added or removed (relation Name), by id
	// as in the snapshot; apply maps them through the id map.
	Relation string   `json:"relation,omitempty"`
	Links    []string `json:"links,omitempty"`
	// Owner is the snapshot id of the object a child belongs to (an
	// application's federated credential, a service principal's app role
	// assignment; a grant's client).
	Owner string `json:"owner,omitempty"`
	// AltID is the snapshot's second id of a re-created object (an
	// application's appId), mapped with the new one.
	AltID string `json:"alt_id,omitempty"`
	// Object is the body of a re-create (writable properties only) or the
	// role assignment to create.
	Object json.RawMessage `json:"object,omitempty"`
	Reason string          `json:"reason,omitempty"`

	Outcome Outcome `json:"outcome,omitempty"`
	Error   string  `json:"error,omitempty"`
	NewID   string  `json:"new_id,omitempty"`
	Note    string  `json:"note,omitempty"`
	Writes  int     `json:"writes,omitempty"`
}

// PropertyChange is one property, live value → snapshot value.
type PropertyChange struct {
	Name   string          `json:"name"`
	Before json.RawMessage `json:"before"`
	After  json.RawMessage `json:"after"`
	Reason string          `json:"reason,omitempty"` // for skipped properties
}

// phase of an action kind in the apply order; re-creates are ordered by
// their kind's Phase within it.
func phase(k ActionKind, objType string) int {
	switch k {
	case Undelete:
		return 0
	case Recreate:
		if kd := Kinds[objType]; kd != nil {
			return 10 + kd.Phase
		}
		return 19
	case Revert:
		return 20
	case AddLinks, RemoveLinks:
		return 30
	case AddChild, RemoveChild:
		return 35
	case AddRole, RemoveRole:
		return 40
	case DeleteAdded:
		return 50
	}
	return 90
}

// keyFor is the action's key: phase, then a per-plan sequence, so the
// repository's key order is the apply order.
func keyFor(k ActionKind, objType string, seq int) string {
	return fmt.Sprintf("%02d-%09d", phase(k, objType), seq)
}

// Counts are actions per kind and per outcome.
type Counts struct {
	ByKind    map[ActionKind]int `json:"by_kind"`
	ByOutcome map[Outcome]int    `json:"by_outcome,omitempty"`
}

// Add counts a.
func (c *Counts) Add(a Action) {
	if c.ByKind == nil {
		c.ByKind = map[ActionKind]int{}
	}
	c.ByKind[a.Kind]++
	if a.Outcome != Pending {
		if c.ByOutcome == nil {
			c.ByOutcome = map[Outcome]int{}
		}
		c.ByOutcome[a.Outcome]++
	}
}
