package model

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"
)

// Sizes are the generation parameters. Zero values take the defaults below.
type Sizes struct {
	Users, Groups, AdministrativeUnits, Applications int
	LogsPerDay                                       int
}

func (s Sizes) withDefaults() Sizes {
	if s.Users <= 0 {
		s.Users = 200
	}
	if s.Users < 3 {
		s.Users = 3 // the three sign-in accounts
	}
	if s.Groups <= 0 {
		s.Groups = max(s.Users/10, 5)
	}
	if s.AdministrativeUnits <= 0 {
		s.AdministrativeUnits = max(s.Users/200, 3)
	}
	if s.Applications <= 0 {
		s.Applications = max(s.Users/100, 5)
	}
	if s.LogsPerDay <= 0 {
		s.LogsPerDay = 50
	}
	return s
}

// Special objects created by every generation.
const (
	AdminUser       int32 = 0 // Global Administrator
	SecAdminUser    int32 = 1 // Security Administrator
	RegularUser     int32 = 2 // no roles
	BackupApp       int32 = 0
	NoRolesApp      int32 = 1
	RestoreApp      int32 = 2 // restore writes, consented apart from backups
	logRetentionDay       = 30
)

var orgWords = []string{"Contoso", "Fabrikam", "Northwind", "Tailspin", "Woodgrove", "Litware", "Adatum", "Proseware"}

// Generate builds a tenant deterministically from seed and sizes; now anchors
// creation dates and the 30-day log window. Generated secrets are not part of
// the tenant: the caller sets them with SetAppCredential and SetAccount.
func Generate(seed int64, sizes Sizes, premium bool, now func() time.Time) *Tenant {
	sizes = sizes.withDefaults()
	if now == nil {
		now = time.Now
	}
	r := rand.New(rand.NewPCG(uint64(seed), 0x7e4a47))
	word := orgWords[uint64(seed)%uint64(len(orgWords))]
	t := &Tenant{
		ID:       newID(r),
		Name:     fmt.Sprintf("%s %d", word, uint64(seed)%1000),
		Domain:   fmt.Sprintf("%s%d.onmicrosoft.com", strings.ToLower(word), uint64(seed)%1000),
		Premium:  premium,
		Seed:     seed,
		Now:      now,
		Accounts: map[string]*Account{},
		AppCreds: map[string]*AppCredential{},
		granted:  map[string][]string{},
		over:     map[Ref]map[string]any{},
		byID:     map[ID]Ref{},
		upns:     map[string]int32{},
		rng:      rand.New(rand.NewPCG(uint64(seed), 0xc4a5e)),
	}
	t.created = now().Add(-3 * 365 * 24 * time.Hour).Truncate(24 * time.Hour).Unix()
	span := now().Unix() - 30*86400 - t.created

	// Users: names through a permutation so neighbours differ; managers form
	// a tree with fan-out 6.
	nf, nl := uint32(len(firstNames)), uint32(len(lastNames))
	t.Users = make([]User, sizes.Users)
	for i := range t.Users {
		u := &t.Users[i]
		u.ID = newID(r)
		u.Created = t.created + span*int64(i)/int64(sizes.Users)
		u.N = uint32(i)*7919 + uint32(seed)%(nf*nl)
		u.Manager = -1
		if i > 0 {
			u.Manager = int32((i - 1) / 6)
		}
		u.Dept = uint8(r.IntN(len(departments)))
		u.Title = uint8(r.IntN(len(jobTitles)))
		u.Office = uint8(r.IntN(len(offices)))
		u.Enabled = r.IntN(100) < 97 || i < 3
		u.Guest = i >= 10 && r.IntN(100) < 3
		u.Licensed = !u.Guest && r.IntN(100) < 90
		t.byID[u.ID] = MakeRef(KindUser, int32(i))
	}
	fixed := []struct{ nick, name string }{{"admin", "Sim Global Admin"}, {"secadmin", "Sim Security Admin"}, {"user", "Sim Regular User"}}
	for i, f := range fixed {
		t.setOver(MakeRef(KindUser, int32(i)), map[string]any{"userPrincipalName": f.nick + "@" + t.Domain,
			"displayName": f.name, "mailNickname": f.nick})
	}
	for i := range t.Users {
		t.upns[strings.ToLower(t.userUPN(int32(i)))] = int32(i)
	}

	// Groups: a few huge, many small (geometric sizes), some nested.
	t.Groups = make([]Group, sizes.Groups)
	for i := range t.Groups {
		g := &t.Groups[i]
		g.ID = newID(r)
		g.N = uint32(i)
		g.Created = t.created + span*int64(i)/int64(sizes.Groups)
		g.Type = []uint8{GroupSecurity, GroupM365, GroupM365, GroupSecurity, GroupMailSecurity, GroupDistribution}[r.IntN(6)]
		var n int
		switch {
		case i == 0:
			n = sizes.Users
		case i < 3:
			n = sizes.Users * []int{0, 30, 10}[i] / 100
		default:
			n = 2 + int(r.ExpFloat64()*12)
		}
		g.Members = pickUsers(r, n, sizes.Users)
		if g.Type == GroupM365 || r.IntN(3) == 0 {
			g.Owners = pickUsers(r, 1+r.IntN(2), sizes.Users)
		}
		if i >= 10 && r.IntN(10) == 0 {
			parent := 3 + r.IntN(i-3)
			t.Groups[parent].Members = append(t.Groups[parent].Members, MakeRef(KindGroup, int32(i)))
		}
		t.byID[g.ID] = MakeRef(KindGroup, int32(i))
	}
	if len(t.Groups) > 0 {
		t.Groups[0].Type = GroupSecurity
	}

	t.AUs = make([]AU, sizes.AdministrativeUnits)
	for i := range t.AUs {
		a := &t.AUs[i]
		a.ID = newID(r)
		a.N = uint32(i)
		a.Created = t.created + span*int64(i)/int64(sizes.AdministrativeUnits)
		a.Members = pickUsers(r, 5+r.IntN(45), sizes.Users)
		if r.IntN(3) == 0 {
			a.Members = append(a.Members, MakeRef(KindGroup, int32(r.IntN(len(t.Groups)))))
		}
		t.byID[a.ID] = MakeRef(KindAU, int32(i))
	}

	// Applications: the backup app, the no-roles app, then line-of-business
	// apps, each with its service principal; then Microsoft's own SPs.
	t.Apps = make([]App, max(sizes.Applications, 2))
	for i := range t.Apps {
		a := &t.Apps[i]
		a.ID, a.AppID = newID(r), newID(r)
		a.N = uint32(i)
		a.Owners = []Ref{MakeRef(KindUser, int32(r.IntN(sizes.Users)))}
		a.Created = t.created + span*int64(i)/int64(len(t.Apps))
		t.byID[a.ID] = MakeRef(KindApp, int32(i))
	}
	for i := range t.Apps {
		t.addSP(SP{Meta: Meta{ID: newID(r), Created: t.Apps[i].Created}, App: int32(i)})
	}
	for i := range firstParty {
		t.addSP(SP{Meta: Meta{ID: newID(r), Created: t.created}, App: -1, First: int32(i)})
	}
	t.genAppGrants()

	// Roles: the admin accounts, then about one assignment per 50 users.
	t.DirRoleIDs = make([]ID, len(RoleDefinitions))
	for i := range t.DirRoleIDs {
		t.DirRoleIDs[i] = newID(r)
	}
	t.RoleAssignments = append(t.RoleAssignments,
		RoleAssignment{ID: newID(r), Principal: MakeRef(KindUser, AdminUser), Role: 0},
		RoleAssignment{ID: newID(r), Principal: MakeRef(KindUser, SecAdminUser), Role: 1})
	for i := 0; i < min(sizes.Users/50, 200); i++ {
		a := RoleAssignment{ID: newID(r), Principal: MakeRef(KindUser, int32(3+r.IntN(sizes.Users-3))), Role: r.IntN(len(RoleDefinitions))}
		if !slices.ContainsFunc(t.RoleAssignments, func(b RoleAssignment) bool { return b.Principal == a.Principal && b.Role == a.Role }) {
			t.RoleAssignments = append(t.RoleAssignments, a) // Entra refuses duplicates
		}
	}

	t.genPolicies(r)
	t.genAppPolicy()
	t.genLogs(r, sizes.LogsPerDay)
	t.genRecycleBin(seed)
	return t
}

// genRecycleBin leaves two users and a Microsoft 365 group in the recycle
// bin, deleted days ago, as in any real tenant. They come from the last
// indexes (tests pick objects by low index) and from a random stream of
// their own, so the rest of the tenant is as it was before this existed.
func (t *Tenant) genRecycleBin(seed int64) {
	r := rand.New(rand.NewPCG(uint64(seed), 0xb1))
	var bin []Ref
	n := len(t.Users)
	for first := n - max(n/10, 2); n > 10 && len(bin) < 2; { // never a sign-in account
		if u := MakeRef(KindUser, int32(first+r.IntN(n-first))); !slices.Contains(bin, u) {
			bin = append(bin, u)
		}
	}
	var m365 []Ref
	for i := max(3, len(t.Groups)-len(t.Groups)/4); i < len(t.Groups); i++ { // the big groups stay
		if t.Groups[i].Type == GroupM365 {
			m365 = append(m365, MakeRef(KindGroup, int32(i)))
		}
	}
	if len(m365) > 0 {
		bin = append(bin, m365[r.IntN(len(m365))])
	}
	now := t.Now().Unix()
	for _, ref := range bin {
		m := t.Meta(ref)
		m.State, m.Deleted = SoftDeleted, now-int64(2+r.IntN(20))*86400-r.Int64N(86400)
	}
}

func (t *Tenant) addSP(sp SP) {
	t.SPs = append(t.SPs, sp)
	t.byID[sp.ID] = MakeRef(KindSP, int32(len(t.SPs)-1))
}

// pickUsers draws n distinct user refs out of total.
func pickUsers(r *rand.Rand, n, total int) []Ref {
	n = min(n, total)
	out := make([]Ref, 0, n)
	if n == total {
		for i := 0; i < total; i++ {
			out = append(out, MakeRef(KindUser, int32(i)))
		}
		return out
	}
	seen := make(map[int32]struct{}, n)
	for len(out) < n {
		i := int32(r.IntN(total))
		if _, dup := seen[i]; dup {
			continue
		}
		seen[i] = struct{}{}
		out = append(out, MakeRef(KindUser, i))
	}
	return out
}

func (t *Tenant) genPolicies(r *rand.Rand) {
	ts := func(u int64) string { return time.Unix(u, 0).UTC().Format(time.RFC3339) }
	locs := []map[string]any{
		{"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "Headquarters", "isTrusted": true,
			"ipRanges": []any{map[string]any{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "203.0.113.0/24"}}},
		{"@odata.type": "#microsoft.graph.ipNamedLocation", "displayName": "Branch offices", "isTrusted": false,
			"ipRanges": []any{map[string]any{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "198.51.100.0/24"},
				map[string]any{"@odata.type": "#microsoft.graph.iPv6CidrRange", "cidrAddress": "2001:db8::/48"}}},
		{"@odata.type": "#microsoft.graph.countryNamedLocation", "displayName": "Blocked countries",
			"countriesAndRegions": []any{"KP", "IR"}, "includeUnknownCountriesAndRegions": false, "countryLookupMethod": "clientIpAddress"},
	}
	for i, p := range locs {
		d := Doc{Meta: Meta{ID: newID(r), Created: t.created + int64(i)*86400}, Props: p}
		p["createdDateTime"], p["modifiedDateTime"] = ts(d.Created), ts(d.Created)
		t.NamedLocations = append(t.NamedLocations, d)
		t.byID[d.ID] = MakeRef(KindNamedLocation, int32(i))
	}
	id := func(k Kind, i int) string {
		if k == KindGroup && i >= len(t.Groups) {
			return "All"
		}
		return t.Meta(MakeRef(k, int32(i))).ID.String()
	}
	grp := func(i int) []any { return []any{id(KindGroup, min(i, len(t.Groups)-1))} }
	policies := []struct {
		name, state string
		users       map[string]any
		loc         map[string]any
		grant       map[string]any
	}{
		{"Require MFA for administrators", "enabled",
			map[string]any{"includeRoles": []any{GlobalAdministratorRole, SecurityAdministratorRole}, "excludeUsers": []any{id(KindUser, 0)}},
			nil, map[string]any{"operator": "OR", "builtInControls": []any{"mfa"}}},
		{"Block legacy authentication", "enabled", map[string]any{"includeUsers": []any{"All"}}, nil,
			map[string]any{"operator": "OR", "builtInControls": []any{"block"}}},
		{"Block sign-ins from blocked countries", "enabled", map[string]any{"includeUsers": []any{"All"}, "excludeGroups": grp(1)},
			map[string]any{"includeLocations": []any{id(KindNamedLocation, 2)}, "excludeLocations": []any{}},
			map[string]any{"operator": "OR", "builtInControls": []any{"block"}}},
		{"Require MFA outside trusted locations", "enabledForReportingButNotEnforced", map[string]any{"includeGroups": grp(0)},
			map[string]any{"includeLocations": []any{"All"}, "excludeLocations": []any{id(KindNamedLocation, 0), id(KindNamedLocation, 1)}},
			map[string]any{"operator": "OR", "builtInControls": []any{"mfa"}}},
		{"Require compliant device for finance", "disabled", map[string]any{"includeGroups": grp(3), "includeUsers": []any{id(KindUser, 2)}}, nil,
			map[string]any{"operator": "AND", "builtInControls": []any{"compliantDevice", "mfa"}}},
	}
	for i, p := range policies {
		users := map[string]any{"includeUsers": []any{}, "excludeUsers": []any{}, "includeGroups": []any{}, "excludeGroups": []any{},
			"includeRoles": []any{}, "excludeRoles": []any{}, "includeGuestsOrExternalUsers": nil, "excludeGuestsOrExternalUsers": nil}
		for k, v := range p.users {
			users[k] = v
		}
		cond := map[string]any{"userRiskLevels": []any{}, "signInRiskLevels": []any{}, "clientAppTypes": []any{"all"},
			"servicePrincipalRiskLevels": []any{}, "platforms": nil, "devices": nil, "clientApplications": nil,
			"applications": map[string]any{"includeApplications": []any{"All"}, "excludeApplications": []any{}, "includeUserActions": []any{},
				"includeAuthenticationContextClassReferences": []any{}, "applicationFilter": nil},
			"users": users, "locations": nil}
		if p.loc != nil {
			cond["locations"] = p.loc
		}
		if i == 1 {
			cond["clientAppTypes"] = []any{"exchangeActiveSync", "other"}
		}
		grant := map[string]any{"customAuthenticationFactors": []any{}, "termsOfUse": []any{}, "authenticationStrength": nil}
		for k, v := range p.grant {
			grant[k] = v
		}
		d := Doc{Meta: Meta{ID: newID(r), Created: t.created + int64(i)*86400}}
		d.Props = map[string]any{"displayName": p.name, "state": p.state, "createdDateTime": ts(d.Created), "modifiedDateTime": ts(d.Created + 3600),
			"templateId": nil, "conditions": cond, "grantControls": grant, "sessionControls": nil}
		t.CAPolicies = append(t.CAPolicies, d)
		t.byID[d.ID] = MakeRef(KindCAPolicy, int32(i))
	}

	t.AuthorizationPolicy = map[string]any{"id": "authorizationPolicy", "displayName": "Authorization Policy",
		"description":      "Used to manage authorization related settings across the company.",
		"allowInvitesFrom": "adminsAndGuestInviters", "allowedToSignUpEmailBasedSubscriptions": true, "allowedToUseSSPR": true,
		"allowEmailVerifiedUsersToJoinOrganization": false, "allowUserConsentForRiskyApps": false, "blockMsolPowerShell": false,
		"guestUserRoleId": "10dae51f-b6af-4016-8d66-8c2a99b929b3",
		"defaultUserRolePermissions": map[string]any{"allowedToCreateApps": false, "allowedToCreateSecurityGroups": true,
			"allowedToCreateTenants": false, "allowedToReadBitlockerKeysForOwnedDevice": true, "allowedToReadOtherUsers": true,
			"permissionGrantPoliciesAssigned": []any{"ManagePermissionGrantsForSelf.microsoft-user-default-legacy"}}}
	cfg := func(id, typ, state string, extra map[string]any) map[string]any {
		m := map[string]any{"@odata.type": "#microsoft.graph." + typ, "id": id, "state": state,
			"includeTargets": []any{map[string]any{"targetType": "group", "id": "all_users", "isRegistrationRequired": false}}}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	t.AuthMethodsPolicy = map[string]any{"id": "authenticationMethodsPolicy", "displayName": "Authentication Methods Policy",
		"description":          "The tenant-wide policy that controls which authentication methods are allowed in the tenant.",
		"lastModifiedDateTime": ts(t.created + 86400), "policyVersion": "1.5", "policyMigrationState": "migrationComplete",
		"reconfirmationInDays": 0,
		"registrationEnforcement": map[string]any{"authenticationMethodsRegistrationCampaign": map[string]any{"snoozeDurationInDays": 1,
			"state": "default", "excludeTargets": []any{}, "includeTargets": []any{map[string]any{"id": "all_users", "targetType": "group",
				"targetedAuthenticationMethod": "microsoftAuthenticator"}}}},
		"authenticationMethodConfigurations": []any{
			cfg("MicrosoftAuthenticator", "microsoftAuthenticatorAuthenticationMethodConfiguration", "enabled", map[string]any{"isSoftwareOathEnabled": false}),
			cfg("Fido2", "fido2AuthenticationMethodConfiguration", "enabled", map[string]any{"isAttestationEnforced": true, "isSelfServiceRegistrationAllowed": true}),
			cfg("Sms", "smsAuthenticationMethodConfiguration", "disabled", nil),
			cfg("TemporaryAccessPass", "temporaryAccessPassAuthenticationMethodConfiguration", "enabled", map[string]any{"defaultLifetimeInMinutes": 60, "isUsableOnce": false}),
			cfg("Email", "emailAuthenticationMethodConfiguration", "enabled", map[string]any{"allowExternalIdToUseEmailOtp": "default"}),
		}}
}

func (t *Tenant) genLogs(r *rand.Rand, perDay int) {
	now := t.Now()
	start := now.Add(-logRetentionDay * 24 * time.Hour).UnixNano()
	total := perDay * logRetentionDay
	t.SignIns = make([]SignIn, total)
	for i := range t.SignIns {
		s := &t.SignIns[i]
		s.ID = newID(r)
		s.At = start + r.Int64N(now.UnixNano()-start)
		s.User = int32(r.IntN(len(t.Users)))
		s.App = uint8(r.IntN(len(signInApps)))
		if r.IntN(10) == 0 {
			s.Failure = uint8(1 + r.IntN(len(signInFailures)))
		}
		s.Office = t.Users[s.User].Office
		s.IP = 0xcb007100 | uint32(r.IntN(256))
		s.Interactive = r.IntN(3) > 0
		s.CA = uint8(r.IntN(3))
	}
	slices.SortFunc(t.SignIns, func(a, b SignIn) int { return cmpInt(a.At, b.At) })
	days := logRetentionDay
	if !t.Premium {
		days = 7 // Entra keeps audit logs 7 days on free tenants
	}
	astart := now.Add(-time.Duration(days) * 24 * time.Hour).UnixNano()
	t.Audits = make([]Audit, perDay*days)
	for i := range t.Audits {
		a := &t.Audits[i]
		a.ID = newID(r)
		a.At = astart + r.Int64N(now.UnixNano()-astart)
		a.Activity = uint8(r.IntN(len(auditActivities)))
		a.Actor = int32(r.IntN(min(len(t.Users), 20)))
		a.Target = t.auditTarget(r, auditActivities[a.Activity].TargetType)
		a.Failed = r.IntN(50) == 0
	}
	slices.SortFunc(t.Audits, func(a, b Audit) int { return cmpInt(a.At, b.At) })
}

func (t *Tenant) auditTarget(r *rand.Rand, typ string) Ref {
	switch typ {
	case "Group":
		return MakeRef(KindGroup, int32(r.IntN(len(t.Groups))))
	case "Application":
		return MakeRef(KindApp, int32(r.IntN(len(t.Apps))))
	case "ServicePrincipal":
		return MakeRef(KindSP, int32(r.IntN(len(t.SPs))))
	case "Policy":
		return MakeRef(KindCAPolicy, int32(r.IntN(len(t.CAPolicies))))
	}
	return MakeRef(KindUser, int32(r.IntN(len(t.Users))))
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// SetAccount gives user u a password so it can sign in interactively.
func (t *Tenant) SetAccount(u int32, password string) {
	var roles []string
	for _, ra := range t.RoleAssignments {
		if ra.Principal == MakeRef(KindUser, u) {
			roles = append(roles, RoleDefinitions[ra.Role].DisplayName)
		}
	}
	t.Accounts[strings.ToLower(t.userUPN(u))] = &Account{User: u, Password: password, Roles: roles}
}

// SetAppCredential registers the sign-in material of app a; granted roles
// are consented immediately (as if an admin had consented before).
func (t *Tenant) SetAppCredential(a int32, c AppCredential, granted []string) {
	c.App = a
	id := t.Apps[a].AppID.String()
	t.AppCreds[id] = &c
	if len(granted) > 0 {
		t.granted[id] = append([]string(nil), granted...)
	}
}
