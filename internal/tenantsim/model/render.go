package model

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// Obj is a rendered Graph object. encoding/json sorts map keys, so rendering
// is canonical.
type Obj = map[string]any

func ts(unix int64) string { return time.Unix(unix, 0).UTC().Format(time.RFC3339) }

// logTS formats log timestamps with 7 fractional digits, as Graph does.
func logTS(nanos int64) string {
	return time.Unix(0, nanos).UTC().Format("2006-01-02T15:04:05.0000000Z")
}

// Render renders any directory object in its full v1.0 representation.
func (t *Tenant) Render(r Ref) Obj {
	var o Obj
	i := r.Index()
	switch r.Kind() {
	case KindUser:
		o = t.renderUser(i)
	case KindGroup:
		o = t.renderGroup(i)
	case KindAU:
		o = t.renderAU(i)
	case KindApp:
		o = t.renderApp(i)
	case KindSP:
		o = t.renderSP(i)
	case KindCAPolicy, KindNamedLocation:
		d := &t.CAPolicies
		if r.Kind() == KindNamedLocation {
			d = &t.NamedLocations
		}
		doc := (*d)[i]
		o = make(Obj, len(doc.Props)+2)
		for k, v := range doc.Props {
			o[k] = v
		}
		o["id"] = doc.ID.String()
		if r.Kind() == KindCAPolicy {
			o["@odata.type"] = KindCAPolicy.ODataType()
		}
		return o
	default:
		return nil
	}
	m := t.Meta(r)
	if m.Custom && r.Kind() != KindApp { // an app's skeleton is renderApp's
		o = Obj{"id": m.ID.String()}
	}
	for k, v := range t.over[r] {
		o[k] = v
	}
	o["@odata.type"] = r.Kind().ODataType()
	if st := t.StateOf(r); st == SoftDeleted {
		o["deletedDateTime"] = ts(m.Deleted)
	}
	return o
}

// Ident renders the minimal directoryObject form {@odata.type, id}.
func (t *Tenant) Ident(r Ref) Obj {
	return Obj{"@odata.type": r.Kind().ODataType(), "id": t.Meta(r).ID.String()}
}

func (t *Tenant) userName(u *User) (first, last string) {
	nf, nl := uint32(len(firstNames)), uint32(len(lastNames))
	return firstNames[u.N%nf], lastNames[(u.N/nf)%nl]
}

// userUPN is the user's current user principal name.
func (t *Tenant) userUPN(i int32) string {
	if v, ok := t.over[MakeRef(KindUser, i)]["userPrincipalName"].(string); ok {
		return v
	}
	u := &t.Users[i]
	first, last := t.userName(u)
	nick := strings.ToLower(first + "." + last)
	if n := u.N / uint32(len(firstNames)*len(lastNames)); n > 0 || i >= int32(len(firstNames)*len(lastNames)) {
		nick += fmt.Sprint(i)
	}
	if u.Guest {
		return nick + "_example.com#EXT#@" + t.Domain
	}
	return nick + "@" + t.Domain
}

// UPN returns the user's user principal name.
func (t *Tenant) UPN(i int32) string { return t.userUPN(i) }

func (t *Tenant) renderUser(i int32) Obj {
	u := &t.Users[i]
	first, last := t.userName(u)
	upn := t.userUPN(i)
	nick := strings.SplitN(upn, "@", 2)[0]
	if v, ok := t.over[MakeRef(KindUser, i)]["mailNickname"].(string); ok {
		nick = v
	}
	off := offices[u.Office]
	mail := nick + "@" + t.Domain
	userType, creation := "Member", any(nil)
	if u.Guest {
		userType, creation = "Guest", "Invitation"
		mail = strings.ToLower(first+"."+last) + "@example.com"
	}
	licenses, plans := []any{}, []any{}
	if u.Licensed {
		sku, ps := skuE1, e1Plans
		if t.Premium {
			sku, ps = skuE5, e5Plans
		}
		licenses = append(licenses, Obj{"disabledPlans": []any{}, "skuId": sku})
		for _, p := range ps {
			plans = append(plans, Obj{"assignedDateTime": ts(u.Created), "capabilityStatus": "Enabled", "service": p.Name, "servicePlanId": p.ID})
		}
	}
	phone := fmt.Sprintf("%s%02d", off.Phone, u.N%100)
	var sid [4]uint32
	for k := range sid {
		sid[k] = uint32(u.ID[4*k]) | uint32(u.ID[4*k+1])<<8 | uint32(u.ID[4*k+2])<<16 | uint32(u.ID[4*k+3])<<24
	}
	return Obj{
		"id": u.ID.String(), "accountEnabled": u.Enabled, "ageGroup": nil, "assignedLicenses": licenses, "assignedPlans": plans,
		"businessPhones": []any{phone}, "city": off.City, "companyName": t.Name, "consentProvidedForMinor": nil,
		"country": off.Country, "createdDateTime": ts(u.Created), "creationType": creation, "deletedDateTime": nil,
		"department": departments[u.Dept], "displayName": first + " " + last, "employeeHireDate": ts(u.Created),
		"employeeId": fmt.Sprintf("E%06d", i), "employeeOrgData": Obj{"costCenter": fmt.Sprintf("CC%03d", u.Dept), "division": departments[u.Dept]},
		"employeeType": "Employee", "externalUserState": nil, "externalUserStateChangeDateTime": nil, "faxNumber": nil,
		"givenName": first, "identities": []any{Obj{"signInType": "userPrincipalName", "issuer": t.Domain, "issuerAssignedId": upn}},
		"imAddresses": []any{mail}, "isResourceAccount": nil, "jobTitle": jobTitles[u.Title], "legalAgeGroupClassification": nil,
		"lastPasswordChangeDateTime": ts(u.Created + 86400), "mail": mail, "mailNickname": nick,
		"mobilePhone": fmt.Sprintf("%s%02d", off.Phone, (u.N+37)%100), "officeLocation": off.City + " " + fmt.Sprint(1+u.N%40),
		"onPremisesDistinguishedName": nil, "onPremisesDomainName": nil, "onPremisesExtensionAttributes": onPremExt(),
		"onPremisesImmutableId": nil, "onPremisesLastSyncDateTime": nil, "onPremisesProvisioningErrors": []any{},
		"onPremisesSamAccountName": nil, "onPremisesSecurityIdentifier": nil, "onPremisesSyncEnabled": nil, "onPremisesUserPrincipalName": nil,
		"otherMails": []any{}, "passwordPolicies": nil, "passwordProfile": nil, "postalCode": off.Postal,
		"preferredDataLocation": nil, "preferredLanguage": "en-US",
		"provisionedPlans": []any{}, "proxyAddresses": []any{"SMTP:" + mail}, "securityIdentifier": fmt.Sprintf("S-1-12-1-%d-%d-%d-%d", sid[0], sid[1], sid[2], sid[3]),
		"showInAddressList": nil, "signInSessionsValidFromDateTime": ts(u.Created), "state": nilIfEmpty(off.State), "streetAddress": off.Street,
		"surname": last, "usageLocation": off.Usage, "userPrincipalName": upn, "userType": userType,
	}
}

func onPremExt() Obj {
	o := Obj{}
	for k := 1; k <= 15; k++ {
		o[fmt.Sprintf("extensionAttribute%d", k)] = nil
	}
	return o
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (t *Tenant) groupName(g *Group) string {
	w := groupWords[g.N%uint32(len(groupWords))]
	topic := groupTopics[(g.N/uint32(len(groupWords)))%uint32(len(groupTopics))]
	switch g.N {
	case 0:
		return "All Employees"
	case 1:
		return "All Sales and Marketing"
	case 2:
		return "Engineering Leads"
	}
	if n := g.N / uint32(len(groupWords)*len(groupTopics)); n > 0 {
		return fmt.Sprintf("%s %s %d", topic, w, n)
	}
	return topic + " " + w
}

func (t *Tenant) renderGroup(i int32) Obj {
	g := &t.Groups[i]
	name := t.groupName(g)
	nick := strings.ToLower(strings.ReplaceAll(name, " ", "-"))
	o := Obj{
		"id": g.ID.String(), "classification": nil, "createdDateTime": ts(g.Created), "deletedDateTime": nil,
		"description": "Members of " + name, "displayName": name, "expirationDateTime": nil, "groupTypes": []any{},
		"isAssignableToRole": nil, "mail": nil, "mailEnabled": false, "mailNickname": nick, "membershipRule": nil,
		"membershipRuleProcessingState": nil, "onPremisesDomainName": nil, "onPremisesLastSyncDateTime": nil,
		"onPremisesNetBiosName": nil, "onPremisesProvisioningErrors": []any{}, "onPremisesSamAccountName": nil,
		"onPremisesSecurityIdentifier": nil, "onPremisesSyncEnabled": nil, "preferredDataLocation": nil, "preferredLanguage": nil,
		"proxyAddresses": []any{}, "renewedDateTime": ts(g.Created), "resourceBehaviorOptions": []any{},
		"resourceProvisioningOptions": []any{}, "securityEnabled": true, "securityIdentifier": fmt.Sprintf("S-1-12-1-%d", g.N+1000),
		"theme": nil, "uniqueName": nil, "visibility": nil,
	}
	switch g.Type {
	case GroupM365:
		mail := nick + "@" + t.Domain
		o["groupTypes"], o["mail"], o["mailEnabled"], o["securityEnabled"] = []any{"Unified"}, mail, true, false
		o["proxyAddresses"], o["visibility"] = []any{"SMTP:" + mail}, []string{"Private", "Public"}[g.N%2]
		o["resourceProvisioningOptions"] = []any{"Team"}
	case GroupMailSecurity, GroupDistribution:
		mail := nick + "@" + t.Domain
		o["mail"], o["mailEnabled"], o["proxyAddresses"] = mail, true, []any{"SMTP:" + mail}
		o["securityEnabled"] = g.Type == GroupMailSecurity
	}
	return o
}

// GroupType reports the group's type constant.
func (t *Tenant) GroupType(i int32) uint8 { return t.Groups[i].Type }

func (t *Tenant) renderAU(i int32) Obj {
	a := &t.AUs[i]
	city := offices[a.N%uint32(len(offices))].City
	name := city + " users"
	if n := a.N / uint32(len(offices)); n > 0 {
		name = fmt.Sprintf("%s users %d", city, n)
	}
	return Obj{"id": a.ID.String(), "deletedDateTime": nil, "description": "Users managed by the " + city + " helpdesk",
		"displayName": name, "isMemberManagementRestricted": false, "membershipRule": nil,
		"membershipRuleProcessingState": nil, "membershipType": nil, "visibility": nil}
}

func (t *Tenant) appName(i int32) string {
	switch i {
	case BackupApp:
		return "Entravault Backup"
	case NoRolesApp:
		return "Entravault No Roles"
	case RestoreApp:
		return "Entravault Restore"
	}
	n := t.Apps[i].N
	name := appWords[n%uint32(len(appWords))] + " " + appSuffixes[(n/uint32(len(appWords)))%uint32(len(appSuffixes))]
	if k := n / uint32(len(appWords)*len(appSuffixes)); k > 0 {
		name += fmt.Sprint(" ", k)
	}
	return name
}

// permID finds a Graph permission's GUID.
func permID(name string) string {
	for _, p := range GraphPermissions {
		if p.Name == name {
			return p.ID
		}
	}
	return ""
}

// appDisplayName is app i's display name, as written or generated.
func (t *Tenant) appDisplayName(i int32) string {
	if v, ok := t.over[MakeRef(KindApp, i)]["displayName"].(string); ok {
		return v
	}
	return t.appName(i)
}

func (t *Tenant) renderApp(i int32) Obj {
	a := &t.Apps[i]
	if a.Custom { // created through the API: what was written, over empty defaults
		return Obj{"id": a.ID.String(), "appId": a.AppID.String(), "appRoles": t.appRoles(i), "keyCredentials": withoutKeys(a.Keys),
			"passwordCredentials": []any{}, "publisherDomain": t.Domain, "uniqueName": nil, "createdDateTime": ts(a.Created),
			"deletedDateTime": nil}
	}
	name := t.appName(i)
	access := []any{}
	if c := t.AppCreds[a.AppID.String()]; c != nil && len(c.ConfiguredRoles) > 0 {
		var ra []any
		for _, r := range c.ConfiguredRoles {
			ra = append(ra, Obj{"id": permID(r), "type": "Role"})
		}
		access = append(access, Obj{"resourceAppId": GraphAppID, "resourceAccess": ra})
	} else if i > NoRolesApp {
		access = append(access, Obj{"resourceAppId": GraphAppID, "resourceAccess": []any{Obj{"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"}}})
	}
	creds := []any{}
	if i != NoRolesApp {
		creds = append(creds, Obj{"customKeyIdentifier": nil, "displayName": "default", "endDateTime": ts(a.Created + 2*365*86400),
			"hint": "sim", "keyId": newIDFrom(a.ID, 1).String(), "secretText": nil, "startDateTime": ts(a.Created)})
	}
	nick := strings.ToLower(strings.ReplaceAll(name, " ", ""))
	return Obj{
		"id": a.ID.String(), "addIns": []any{}, "api": Obj{"acceptMappedClaims": nil, "knownClientApplications": []any{},
			"oauth2PermissionScopes": []any{}, "preAuthorizedApplications": []any{}, "requestedAccessTokenVersion": nil},
		"appId": a.AppID.String(), "applicationTemplateId": nil, "appRoles": t.appRoles(i), "certification": nil,
		"createdDateTime": ts(a.Created), "defaultRedirectUri": nil, "deletedDateTime": nil, "description": nil,
		"disabledByMicrosoftStatus": nil, "displayName": name, "groupMembershipClaims": nil, "identifierUris": []any{},
		"info":                      Obj{"logoUrl": nil, "marketingUrl": nil, "privacyStatementUrl": nil, "supportUrl": nil, "termsOfServiceUrl": nil},
		"isDeviceOnlyAuthSupported": nil, "isFallbackPublicClient": nil, "keyCredentials": withoutKeys(a.Keys), "notes": nil,
		"optionalClaims": nil, "parentalControlSettings": Obj{"countriesBlockedForMinors": []any{}, "legalAgeGroupRule": "Allow"},
		"passwordCredentials": creds, "publicClient": Obj{"redirectUris": []any{}}, "publisherDomain": t.Domain,
		"requiredResourceAccess": access, "samlMetadataUrl": nil, "serviceManagementReference": nil, "signInAudience": "AzureADMyOrg",
		"spa": Obj{"redirectUris": []any{}}, "tags": []any{}, "tokenEncryptionKeyId": nil, "uniqueName": nil,
		"verifiedPublisher": Obj{"addedDateTime": nil, "displayName": nil, "verifiedPublisherId": nil},
		"web": Obj{"homePageUrl": "https://" + nick + ".example.com", "logoutUrl": nil, "redirectUris": []any{"https://" + nick + ".example.com/auth"},
			"implicitGrantSettings": Obj{"enableAccessTokenIssuance": false, "enableIdTokenIssuance": false}},
	}
}

// newIDFrom derives a stable secondary id from id.
func newIDFrom(id ID, salt byte) ID {
	for k := range id {
		id[k] ^= salt * byte(k+7)
	}
	return id
}

func (t *Tenant) renderSP(i int32) Obj {
	sp := &t.SPs[i]
	var appID, name, owner string
	tags := []any{"WindowsAzureActiveDirectoryIntegratedApp"}
	appRoles := []any{}
	if sp.App >= 0 {
		appID, name, owner = t.Apps[sp.App].AppID.String(), t.appDisplayName(sp.App), t.ID.String()
		appRoles = t.appRoles(sp.App) // a service principal shows its app's roles
	} else {
		fp := firstParty[sp.First]
		appID, name, owner, tags = fp.AppID, fp.Name, "f8cdef31-a31e-4b4a-93e4-5f571e91255a", []any{}
		if fp.AppID == GraphAppID {
			for _, p := range GraphPermissions {
				appRoles = append(appRoles, Obj{"allowedMemberTypes": []any{"Application"}, "description": "Allows the app to " + p.Name,
					"displayName": p.Name, "id": p.ID, "isEnabled": true, "origin": "Application", "value": p.Name})
			}
		}
	}
	return Obj{
		"id": sp.ID.String(), "accountEnabled": true, "addIns": []any{}, "alternativeNames": []any{}, "appDescription": nil,
		"appDisplayName": name, "appId": appID, "applicationTemplateId": nil, "appOwnerOrganizationId": owner,
		"appRoleAssignmentRequired": false, "appRoles": appRoles, "createdDateTime": ts(sp.Created), "deletedDateTime": nil, "description": nil,
		"disabledByMicrosoftStatus": nil, "displayName": name, "homepage": nil, "info": Obj{"logoUrl": nil, "marketingUrl": nil,
			"privacyStatementUrl": nil, "supportUrl": nil, "termsOfServiceUrl": nil}, "keyCredentials": []any{}, "loginUrl": nil,
		"logoutUrl": nil, "notes": nil, "notificationEmailAddresses": []any{}, "oauth2PermissionScopes": []any{},
		"passwordCredentials": []any{}, "preferredSingleSignOnMode": nil, "preferredTokenSigningKeyThumbprint": nil,
		"replyUrls": []any{}, "resourceSpecificApplicationPermissions": []any{}, "samlSingleSignOnSettings": nil,
		"servicePrincipalNames": []any{appID}, "servicePrincipalType": "Application", "signInAudience": "AzureADMyOrg",
		"tags": tags, "tokenEncryptionKeyId": nil, "verifiedPublisher": Obj{"addedDateTime": nil, "displayName": nil, "verifiedPublisherId": nil},
	}
}

// SPByAppID finds the service principal of an application id.
func (t *Tenant) SPByAppID(appID string) (int32, bool) {
	for i := range t.SPs {
		sp := &t.SPs[i]
		if sp.State != Live {
			continue
		}
		if (sp.App >= 0 && t.Apps[sp.App].AppID.String() == appID) || (sp.App < 0 && firstParty[sp.First].AppID == appID) {
			return int32(i), true
		}
	}
	return 0, false
}

// RenderRoleDefinition renders built-in role i (unifiedRoleDefinition).
func (t *Tenant) RenderRoleDefinition(i int) Obj {
	d := RoleDefinitions[i]
	return Obj{"id": d.TemplateID, "description": d.Description, "displayName": d.DisplayName, "isBuiltIn": true,
		"isEnabled": true, "resourceScopes": []any{"/"}, "templateId": d.TemplateID, "version": "1",
		"rolePermissions":         []any{Obj{"allowedResourceActions": toAny(d.Actions), "condition": nil, "excludedResourceActions": []any{}}},
		"inheritsPermissionsFrom": []any{}}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// RenderRoleAssignment renders unifiedRoleAssignment i.
func (t *Tenant) RenderRoleAssignment(i int) Obj {
	a := t.RoleAssignments[i]
	return Obj{"id": a.ID.String(), "principalId": t.Meta(a.Principal).ID.String(),
		"roleDefinitionId": RoleDefinitions[a.Role].TemplateID, "directoryScopeId": a.Scope(), "appScopeId": nil,
		"condition": nil, "principalOrganizationId": t.ID.String(), "resourceScope": a.Scope()}
}

// ActiveRoles lists the role indexes that have at least one live
// tenant-wide member, i.e. the activated directoryRoles.
func (t *Tenant) ActiveRoles() []int {
	seen := make([]bool, len(RoleDefinitions))
	for _, a := range t.RoleAssignments {
		if a.Scope() == "/" && t.IsLive(a.Principal) {
			seen[a.Role] = true
		}
	}
	var out []int
	for i, s := range seen {
		if s {
			out = append(out, i)
		}
	}
	return out
}

// RoleMembers lists live principals holding role i tenant-wide (the
// directoryRole's members; scoped assignments are its scopedMembers).
func (t *Tenant) RoleMembers(i int) []Ref {
	var out []Ref
	for _, a := range t.RoleAssignments {
		if a.Role == i && a.Scope() == "/" && t.IsLive(a.Principal) && !slices.Contains(out, a.Principal) {
			out = append(out, a.Principal)
		}
	}
	return out
}

// RenderDirectoryRole renders activated role i.
func (t *Tenant) RenderDirectoryRole(i int) Obj {
	d := RoleDefinitions[i]
	return Obj{"@odata.type": "#microsoft.graph.directoryRole", "id": t.DirRoleIDs[i].String(), "deletedDateTime": nil,
		"description": d.Description, "displayName": d.DisplayName, "roleTemplateId": d.TemplateID}
}

// RenderOrganization renders the tenant's organization object.
func (t *Tenant) RenderOrganization() Obj {
	off := offices[0]
	plans := []any{}
	for _, p := range t.skuPlans() {
		plans = append(plans, Obj{"assignedDateTime": ts(t.created), "capabilityStatus": "Enabled", "service": p.Name, "servicePlanId": p.ID})
	}
	return Obj{"@odata.type": "#microsoft.graph.organization", "id": t.ID.String(), "assignedPlans": plans,
		"businessPhones": []any{off.Phone + "00"}, "city": off.City, "country": off.Country, "countryLetterCode": off.Usage,
		"createdDateTime": ts(t.created), "defaultUsageLocation": nil, "deletedDateTime": nil, "displayName": t.Name,
		"marketingNotificationEmails": []any{}, "onPremisesLastSyncDateTime": nil, "onPremisesSyncEnabled": nil,
		"partnerTenantType": nil, "postalCode": off.Postal, "preferredLanguage": "en", "privacyProfile": nil,
		"provisionedPlans": []any{}, "securityComplianceNotificationMails": []any{}, "securityComplianceNotificationPhones": []any{},
		"state": off.State, "street": off.Street, "technicalNotificationMails": []any{"admin@" + t.Domain}, "tenantType": "AAD",
		"verifiedDomains": []any{
			Obj{"capabilities": "Email, OfficeCommunicationsOnline", "isDefault": true, "isInitial": true, "name": t.Domain, "type": "Managed"},
		}}
}

// VerifiedDomains lists the tenant's domains.
func (t *Tenant) VerifiedDomains() []string { return []string{t.Domain} }

func (t *Tenant) skuPlans() []servicePlan {
	if t.Premium {
		return e5Plans
	}
	return e1Plans
}

// RenderSubscribedSkus renders the tenant's licences.
func (t *Tenant) RenderSubscribedSkus() []Obj {
	consumed := 0
	for i := range t.Users {
		if t.Users[i].Licensed && t.Users[i].State == Live {
			consumed++
		}
	}
	sku, part := skuE1, "STANDARDPACK"
	if t.Premium {
		sku, part = skuE5, "ENTERPRISEPREMIUM"
	}
	var plans []any
	for _, p := range t.skuPlans() {
		plans = append(plans, Obj{"servicePlanId": p.ID, "servicePlanName": p.Name, "provisioningStatus": "Success", "appliesTo": "User"})
	}
	return []Obj{{"id": t.ID.String() + "_" + sku, "accountId": t.ID.String(), "accountName": t.Name, "skuId": sku, "skuPartNumber": part,
		"appliesTo": "User", "capabilityStatus": "Enabled", "consumedUnits": consumed, "subscriptionIds": []any{newIDFrom(t.ID, 3).String()},
		"prepaidUnits": Obj{"enabled": consumed + 25, "suspended": 0, "warning": 0, "lockedOut": 0}, "servicePlans": plans}}
}

// RenderSignIn renders sign-in record i.
func (t *Tenant) RenderSignIn(i int) Obj {
	s := &t.SignIns[i]
	app := signInApps[s.App]
	off := offices[s.Office]
	status := Obj{"errorCode": 0, "failureReason": nil, "additionalDetails": nil}
	if s.Failure > 0 {
		f := signInFailures[s.Failure-1]
		status = Obj{"errorCode": f.Code, "failureReason": f.Reason, "additionalDetails": nil}
	}
	caStatus := []string{"notApplied", "success", "failure"}[s.CA]
	applied := []any{}
	if s.CA > 0 && len(t.CAPolicies) > 0 {
		p := t.CAPolicies[int(s.App)%len(t.CAPolicies)]
		applied = append(applied, Obj{"id": p.ID.String(), "displayName": p.Props["displayName"], "result": caStatus,
			"enforcedGrantControls": []any{"Mfa"}, "enforcedSessionControls": []any{}})
	}
	ip := fmt.Sprintf("%d.%d.%d.%d", byte(s.IP>>24), byte(s.IP>>16), byte(s.IP>>8), byte(s.IP))
	return Obj{"id": s.ID.String(), "createdDateTime": logTS(s.At), "userDisplayName": t.userDisplayName(s.User),
		"userPrincipalName": t.userUPN(s.User), "userId": t.Users[s.User].ID.String(), "appId": app.ID, "appDisplayName": app.Name,
		"ipAddress": ip, "clientAppUsed": "Browser", "correlationId": newIDFrom(s.ID, 5).String(), "conditionalAccessStatus": caStatus,
		"isInteractive": s.Interactive, "riskDetail": "none", "riskLevelAggregated": "none", "riskLevelDuringSignIn": "none",
		"riskState": "none", "riskEventTypes": []any{}, "riskEventTypes_v2": []any{}, "resourceDisplayName": app.Name, "resourceId": app.ID,
		"status": status, "deviceDetail": Obj{"deviceId": "", "displayName": nil, "operatingSystem": "Windows 10", "browser": "Edge 120.0.0",
			"isCompliant": nil, "isManaged": nil, "trustType": nil},
		"location": Obj{"city": off.City, "state": off.State, "countryOrRegion": off.Usage,
			"geoCoordinates": Obj{"altitude": nil, "latitude": nil, "longitude": nil}},
		"appliedConditionalAccessPolicies": applied}
}

func (t *Tenant) userDisplayName(i int32) string {
	if v, ok := t.over[MakeRef(KindUser, i)]["displayName"].(string); ok {
		return v
	}
	f, l := t.userName(&t.Users[i])
	return f + " " + l
}

// SignInTime is the creation time of sign-in i in unix nanoseconds.
func (t *Tenant) SignInTime(i int) int64 { return t.SignIns[i].At }

// AuditTime is the activity time of audit i in unix nanoseconds.
func (t *Tenant) AuditTime(i int) int64 { return t.Audits[i].At }

// RenderAudit renders directory audit record i.
func (t *Tenant) RenderAudit(i int) Obj {
	a := &t.Audits[i]
	act := auditActivities[a.Activity]
	result, reason := "success", ""
	if a.Failed {
		result, reason = "failure", "Microsoft.Online.Workflows.ObjectAlreadyExistsException"
	}
	return Obj{"id": "Directory_" + a.ID.String(), "category": act.Category, "correlationId": newIDFrom(a.ID, 9).String(),
		"result": result, "resultReason": reason, "activityDisplayName": act.Name, "activityDateTime": logTS(a.At),
		"loggedByService": act.Service, "operationType": "Update",
		"initiatedBy": Obj{"app": nil, "user": Obj{"id": t.Users[a.Actor].ID.String(), "displayName": nil,
			"userPrincipalName": t.userUPN(a.Actor), "ipAddress": "203.0.113.10", "userType": nil}},
		"targetResources": []any{Obj{"id": t.Meta(a.Target).ID.String(), "displayName": nil, "type": act.TargetType,
			"userPrincipalName": nil, "groupType": nil, "modifiedProperties": []any{}}},
		"additionalDetails": []any{}}
}

// SignInActivity renders a user's signInActivity (only returned on $select).
func (t *Tenant) SignInActivity(i int32) Obj {
	u := &t.Users[i]
	last := t.Now().Add(-time.Duration(u.N%(30*24)) * time.Hour).Truncate(time.Second).UTC()
	nonInt := last.Add(-time.Duration(u.N%13) * time.Hour)
	return Obj{"lastSignInDateTime": last.Format(time.RFC3339), "lastSignInRequestId": newIDFrom(u.ID, 11).String(),
		"lastNonInteractiveSignInDateTime": nonInt.Format(time.RFC3339), "lastNonInteractiveSignInRequestId": newIDFrom(u.ID, 13).String(),
		"lastSuccessfulSignInDateTime": last.Format(time.RFC3339), "lastSuccessfulSignInRequestId": newIDFrom(u.ID, 11).String()}
}
