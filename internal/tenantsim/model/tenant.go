package model

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"
)

// Kind is the type of a directory object.
type Kind uint8

// Object kinds. Values are stored in Refs: append only.
const (
	KindUser Kind = iota + 1
	KindGroup
	KindAU
	KindApp
	KindSP
	KindCAPolicy
	KindNamedLocation
)

// ODataType is the @odata.type of objects of kind k.
func (k Kind) ODataType() string {
	switch k {
	case KindUser:
		return "#microsoft.graph.user"
	case KindGroup:
		return "#microsoft.graph.group"
	case KindAU:
		return "#microsoft.graph.administrativeUnit"
	case KindApp:
		return "#microsoft.graph.application"
	case KindSP:
		return "#microsoft.graph.servicePrincipal"
	case KindCAPolicy:
		return "#microsoft.graph.conditionalAccessPolicy"
	}
	return "#microsoft.graph.directoryObject"
}

// Ref points at an object by kind and index: 5 bits of kind, 27 of index.
type Ref uint32

// MakeRef builds a Ref.
func MakeRef(k Kind, i int32) Ref { return Ref(uint32(k)<<27 | uint32(i)) }

// Kind of the referenced object.
func (r Ref) Kind() Kind { return Kind(r >> 27) }

// Index of the referenced object in its kind's slice.
func (r Ref) Index() int32 { return int32(r & (1<<27 - 1)) }

// State is an object's lifecycle state.
type State uint8

// Lifecycle states.
const (
	Live        State = iota
	SoftDeleted       // in the recycle bin (directory/deletedItems)
	Gone              // permanently deleted; kept as a tombstone for delta
)

// Meta is common to every stored object.
type Meta struct {
	ID      ID
	Created int64 // unix seconds
	Deleted int64 // unix seconds when State != Live
	State   State
	// Custom objects were created through the API: only their overrides are
	// rendered, never generated values.
	Custom bool
}

// User is a stored user. Names and contact details derive from N.
type User struct {
	Meta
	N                   uint32
	Manager             int32 // user index, -1 = none
	Dept, Title, Office uint8
	Enabled, Guest      bool
	Licensed            bool
}

// Group types.
const (
	GroupSecurity uint8 = iota
	GroupM365
	GroupMailSecurity
	GroupDistribution
)

// Group is a stored group; members are users or groups.
type Group struct {
	Meta
	N       uint32
	Type    uint8
	Members []Ref
	Owners  []Ref
}

// AU is a stored administrative unit.
type AU struct {
	Meta
	N       uint32
	Members []Ref
}

// App is a stored application registration.
type App struct {
	Meta
	N      uint32
	AppID  ID
	Owners []Ref
	// Keys are its certificate credentials with their public keys, which
	// Graph returns only to a single-object read that selects them.
	Keys []Obj `json:",omitempty"`
	// FICs are its federated identity credentials.
	FICs []Obj `json:",omitempty"`
}

// SP is a stored service principal. App = -1 for first-party (Microsoft) ones.
type SP struct {
	Meta
	App    int32
	First  int32 // index into firstParty when App == -1
	Owners []Ref `json:",omitempty"`
}

// Doc is a low-volume object kept as rendered properties (policies,
// named locations).
type Doc struct {
	Meta
	Props map[string]any
}

// RoleAssignment grants a built-in role to a principal at a directory scope.
type RoleAssignment struct {
	ID        ID
	Principal Ref
	Role      int // index into RoleDefinitions
	// DirectoryScope is "/" (tenant-wide), "/administrativeUnits/{id}" or
	// "/{application object id}"; "" (older state files) means "/".
	DirectoryScope string `json:",omitempty"`
}

// Scope is the assignment's directoryScopeId.
func (a RoleAssignment) Scope() string {
	if a.DirectoryScope == "" {
		return "/"
	}
	return a.DirectoryScope
}

// SignIn is a stored sign-in log record.
type SignIn struct {
	ID          ID
	At          int64 // unix nanoseconds
	User        int32
	App         uint8
	Failure     uint8 // 0 = success, else signInFailures[Failure-1]
	Office      uint8
	IP          uint32
	Interactive bool
	CA          uint8 // 0 notApplied, 1 success, 2 failure
}

// Audit is a stored directory audit record.
type Audit struct {
	ID       ID
	At       int64 // unix nanoseconds
	Activity uint8
	Actor    int32 // user index
	Target   Ref
	Failed   bool
}

// Account is a user who can sign in interactively, with its password.
type Account struct {
	User     int32
	Password string
	Roles    []string // display names of directory roles held
}

// AppCredential is the sign-in material of an application.
type AppCredential struct {
	App             int32
	Secret          string
	CertificateDER  []byte
	ConfiguredRoles []string
}

// Consent is a recorded tenant-wide admin consent.
type Consent struct {
	ClientID string
	Roles    []string
	By       string
	At       time.Time
}

// Errors returned by mutations; the Graph layer maps them to error codes.
// Wrapped errors carry Graph's message after the sentinel's text.
var (
	ErrNotFound      = errors.New("model: object not found")
	ErrInvalid       = errors.New("model: invalid request")
	ErrConflict      = errors.New("model: conflicting object")
	ErrNotRestorable = errors.New("model: object cannot be restored")
	// ErrRefMissing: a link names an object that does not exist (or is not
	// live), unlike ErrNotFound which is about the object written to.
	ErrRefMissing = errors.New("model: referenced object does not exist")
	// Refusals of some properties of a write, returned as *PropError.
	ErrReadOnly        = errors.New("model: read-only property")
	ErrUnknownProperty = errors.New("model: unknown property")
	ErrSynced          = errors.New("model: property mastered on-premises")
	ErrLinkExists      = fmt.Errorf("%w: reference already exists", ErrConflict)
)

// PropError names the properties (or relationships, for ErrLinkExists) a
// write was refused for.
type PropError struct {
	Err   error
	Props []string
}

func (e *PropError) Error() string { return e.Err.Error() + ": " + strings.Join(e.Props, ", ") }
func (e *PropError) Unwrap() error { return e.Err }

// Tenant is the whole synthetic tenant. Readers hold RLock, writers Lock; the
// render and lookup methods expect the caller to hold at least RLock.
type Tenant struct {
	sync.RWMutex

	ID      ID
	Domain  string
	Name    string
	Premium bool
	Seed    int64
	Now     func() time.Time
	created int64

	Users           []User
	Groups          []Group
	AUs             []AU
	Apps            []App
	SPs             []SP
	CAPolicies      []Doc
	NamedLocations  []Doc
	RoleAssignments []RoleAssignment
	// AppRoleAssignments and Grants are what service principals were
	// granted: app roles and delegated permissions.
	AppRoleAssignments []AppRoleAssignment
	Grants             []Grant
	DirRoleIDs         []ID // activated directoryRole object id per RoleDefinitions index
	SignIns            []SignIn
	Audits             []Audit

	AuthMethodsPolicy   map[string]any
	AuthorizationPolicy map[string]any
	// DeltaExpired: delta tokens issued before it (unix nanos) are expired.
	DeltaExpired int64

	Accounts map[string]*Account // by lower-case UPN
	AppCreds map[string]*AppCredential
	Consents []Consent
	granted  map[string][]string

	over    map[Ref]map[string]any
	byID    map[ID]Ref
	upns    map[string]int32
	changes []Change
	// memberOf is a reverse membership index, only built during Churn.
	memberOf map[Ref][]Ref
	rng      *rand.Rand
	churns   uint64
	gen      uint64   // write-lock releases, see Unlock
	loads    []uint64 // change-log length at each load from a state file
}

var _ sync.Locker = (*Tenant)(nil) // Lock from RWMutex, Unlock below

// Unlock releases the write lock and counts the release, so a saver can
// tell the tenant changed (Generation) without every mutation saying so.
func (t *Tenant) Unlock() {
	t.gen++
	t.RWMutex.Unlock()
}

// Generation changes whenever the tenant may have changed.
func (t *Tenant) Generation() uint64 {
	t.RLock()
	defer t.RUnlock()
	return t.gen
}

// Epoch is the number of times the tenant was loaded from a state file;
// delta tokens carry it (see Durable).
func (t *Tenant) Epoch() int { return len(t.loads) }

// Durable reports whether change-log position seq, read in epoch e, is still
// part of the log. A crash loses the changes made after the last save and
// the next run records others at the same positions; a token pointing past
// the log a later epoch started from would silently skip them.
func (t *Tenant) Durable(e int, seq uint64) bool {
	if e > len(t.loads) {
		return false
	}
	for _, n := range t.loads[e:] {
		if seq > n {
			return false
		}
	}
	return seq <= t.Seq()
}

// UserByUPN finds a live user by user principal name (any case).
func (t *Tenant) UserByUPN(upn string) (Ref, bool) {
	i, ok := t.upns[strings.ToLower(upn)]
	if !ok {
		return 0, false
	}
	r := MakeRef(KindUser, i)
	return r, t.IsLive(r)
}

// Lookup finds a live or deleted object by id.
func (t *Tenant) Lookup(id ID) (Ref, bool) {
	r, ok := t.byID[id]
	return r, ok
}

// Meta returns the common part of the referenced object.
func (t *Tenant) Meta(r Ref) *Meta {
	i := r.Index()
	switch r.Kind() {
	case KindUser:
		return &t.Users[i].Meta
	case KindGroup:
		return &t.Groups[i].Meta
	case KindAU:
		return &t.AUs[i].Meta
	case KindApp:
		return &t.Apps[i].Meta
	case KindSP:
		return &t.SPs[i].Meta
	case KindCAPolicy:
		return &t.CAPolicies[i].Meta
	case KindNamedLocation:
		return &t.NamedLocations[i].Meta
	}
	return nil
}

// Len is the number of stored objects of kind k, tombstones included.
func (t *Tenant) Len(k Kind) int {
	switch k {
	case KindUser:
		return len(t.Users)
	case KindGroup:
		return len(t.Groups)
	case KindAU:
		return len(t.AUs)
	case KindApp:
		return len(t.Apps)
	case KindSP:
		return len(t.SPs)
	case KindCAPolicy:
		return len(t.CAPolicies)
	case KindNamedLocation:
		return len(t.NamedLocations)
	}
	return 0
}

// IsLive reports whether r points at a live object.
func (t *Tenant) IsLive(r Ref) bool {
	m := t.Meta(r)
	return m != nil && m.State == Live && t.purge(m) == Live
}

// purge turns recycle-bin entries older than 30 days into tombstones lazily.
func (t *Tenant) purge(m *Meta) State {
	if m.State == SoftDeleted && t.Now().Unix()-m.Deleted > RecycleBinDays*86400 {
		return Gone
	}
	return m.State
}

// StateOf is the object's effective state (recycle-bin expiry applied).
func (t *Tenant) StateOf(r Ref) State { return t.purge(t.Meta(r)) }

// RecycleBinDays is how long soft-deleted objects stay restorable.
const RecycleBinDays = 30

// GrantedRoles lists the roles consented for the app.
func (t *Tenant) GrantedRoles(clientID string) []string {
	t.RLock()
	defer t.RUnlock()
	return append([]string(nil), t.granted[clientID]...)
}

// RevokeConsent removes every permission granted to the app, as an
// administrator removing its service principal's grants does.
func (t *Tenant) RevokeConsent(clientID string) {
	t.Lock()
	defer t.Unlock()
	delete(t.granted, clientID)
}

// RecordConsent grants roles to the app tenant-wide.
func (t *Tenant) RecordConsent(clientID string, roles []string, by string, at time.Time) {
	t.Lock()
	defer t.Unlock()
	t.Consents = append(t.Consents, Consent{ClientID: clientID, Roles: append([]string(nil), roles...), By: by, At: at.UTC()})
	set := map[string]bool{}
	for _, r := range t.granted[clientID] {
		set[r] = true
	}
	for _, r := range roles {
		if !set[r] {
			t.granted[clientID] = append(t.granted[clientID], r)
			set[r] = true
		}
	}
}

func (t *Tenant) setOver(r Ref, props map[string]any) {
	m := t.over[r]
	if m == nil {
		m = map[string]any{}
		t.over[r] = m
	}
	for k, v := range props {
		m[k] = v
	}
}

// Overrides returns the properties set on r by writes and churn (nil if none).
func (t *Tenant) Overrides(r Ref) map[string]any { return t.over[r] }
