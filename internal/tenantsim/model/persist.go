package model

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"
)

// snapshot is the persisted form of a Tenant (the optional state file).
// JSON rather than gob because policy documents and overrides hold nil
// interface values, which gob refuses.
type snapshot struct {
	Version             int
	ID                  ID
	Domain, Name        string
	Premium             bool
	Seed                int64
	Created             int64
	Churns              uint64
	Users               []User
	Groups              []Group
	AUs                 []AU
	Apps                []App
	SPs                 []SP
	CAPolicies          []Doc
	NamedLocations      []Doc
	RoleAssignments     []RoleAssignment
	AppRoleAssignments  []AppRoleAssignment
	Grants              []Grant
	DirRoleIDs          []ID
	SignIns             []SignIn
	Audits              []Audit
	AuthMethodsPolicy   map[string]any
	AuthorizationPolicy map[string]any
	Consents            []Consent
	Granted             map[string][]string
	Overrides           map[Ref]map[string]any
	Changes             []Change
	DeltaExpired        int64
	Loads               []uint64
}

const snapshotVersion = 1

// Save writes the tenant's full state (objects, overrides, change log,
// consents, logs) so a restarted simulator continues where it stopped and
// delta tokens stay valid. Secrets are not part of it. The caller must hold
// at least RLock.
func (t *Tenant) Save(w io.Writer) error {
	return json.NewEncoder(w).Encode(snapshot{Version: snapshotVersion, ID: t.ID, Domain: t.Domain, Name: t.Name,
		Premium: t.Premium, Seed: t.Seed, Created: t.created, Churns: t.churns, Users: t.Users, Groups: t.Groups,
		AUs: t.AUs, Apps: t.Apps, SPs: t.SPs, CAPolicies: t.CAPolicies, NamedLocations: t.NamedLocations,
		RoleAssignments: t.RoleAssignments, AppRoleAssignments: t.AppRoleAssignments, Grants: t.Grants, DirRoleIDs: t.DirRoleIDs,
		SignIns: t.SignIns, Audits: t.Audits, AuthMethodsPolicy: t.AuthMethodsPolicy, AuthorizationPolicy: t.AuthorizationPolicy, Consents: t.Consents,
		Granted: t.granted, Overrides: t.over, Changes: t.changes,
		DeltaExpired: t.DeltaExpired, Loads: t.loads})
}

// Load reads a tenant written by Save.
func Load(r io.Reader, now func() time.Time) (*Tenant, error) {
	var s snapshot
	if err := json.NewDecoder(r).Decode(&s); err != nil {
		return nil, fmt.Errorf("model: read state: %w", err)
	}
	if s.Version != snapshotVersion {
		return nil, fmt.Errorf("model: state file version %d, want %d", s.Version, snapshotVersion)
	}
	if now == nil {
		now = time.Now
	}
	t := &Tenant{ID: s.ID, Domain: s.Domain, Name: s.Name, Premium: s.Premium, Seed: s.Seed, Now: now, created: s.Created,
		churns: s.Churns, Users: s.Users, Groups: s.Groups, AUs: s.AUs, Apps: s.Apps, SPs: s.SPs, CAPolicies: s.CAPolicies,
		NamedLocations: s.NamedLocations, RoleAssignments: s.RoleAssignments, AppRoleAssignments: s.AppRoleAssignments, Grants: s.Grants,
		DirRoleIDs: s.DirRoleIDs, SignIns: s.SignIns,
		Audits: s.Audits, AuthMethodsPolicy: s.AuthMethodsPolicy, AuthorizationPolicy: s.AuthorizationPolicy,
		Consents: s.Consents, granted: s.Granted, over: s.Overrides, changes: s.Changes, DeltaExpired: s.DeltaExpired,
		// A new epoch: positions past this one were lost if the last run crashed.
		loads:    append(s.Loads, uint64(len(s.Changes))),
		Accounts: map[string]*Account{}, AppCreds: map[string]*AppCredential{}, byID: map[ID]Ref{}, upns: map[string]int32{},
		// Continue the random stream at a point derived from the log length,
		// so a reloaded tenant stays deterministic.
		rng: rand.New(rand.NewPCG(uint64(s.Seed), 0xc4a5e+uint64(len(s.Changes))))}
	if t.granted == nil {
		t.granted = map[string][]string{}
	}
	if t.over == nil {
		t.over = map[Ref]map[string]any{}
	}
	for _, k := range []Kind{KindUser, KindGroup, KindAU, KindApp, KindSP, KindCAPolicy, KindNamedLocation} {
		for i := 0; i < t.Len(k); i++ {
			r := MakeRef(k, int32(i))
			t.byID[t.Meta(r).ID] = r
		}
	}
	for i := range t.Users {
		if t.Users[i].State != Gone {
			t.upns[strings.ToLower(t.userUPN(int32(i)))] = int32(i)
		}
	}
	return t, nil
}

// MarshalText makes IDs readable in the state file and usable as map keys.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses a GUID.
func (id *ID) UnmarshalText(b []byte) error {
	v, ok := ParseID(string(b))
	if !ok {
		return fmt.Errorf("model: bad id %q", b)
	}
	*id = v
	return nil
}
