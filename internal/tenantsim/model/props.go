package model

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
)

type propSet map[string]bool

func propsOf(names ...string) propSet {
	s := propSet{}
	for _, n := range names {
		s[n] = true
	}
	return s
}

// writable are the properties POST and PATCH may set, per kind (the
// "update" pages of Graph v1.0).
var writable = map[Kind]propSet{
	KindUser: propsOf("accountEnabled", "ageGroup", "businessPhones", "city", "companyName", "consentProvidedForMinor",
		"country", "department", "displayName", "employeeHireDate", "employeeId", "employeeLeaveDateTime", "employeeOrgData",
		"employeeType", "faxNumber", "givenName", "identities", "jobTitle", "mail", "mailNickname", "mobilePhone",
		"officeLocation", "onPremisesExtensionAttributes", "onPremisesImmutableId", "otherMails", "passwordPolicies",
		"passwordProfile", "postalCode", "preferredDataLocation", "preferredLanguage", "showInAddressList", "state",
		"streetAddress", "surname", "usageLocation", "userPrincipalName", "userType"),
	KindGroup: propsOf("classification", "description", "displayName", "mailNickname", "membershipRule",
		"membershipRuleProcessingState", "preferredDataLocation", "preferredLanguage", "theme", "visibility"),
	KindAU:            propsOf("description", "displayName", "visibility", "membershipRule", "membershipType", "membershipRuleProcessingState"),
	KindCAPolicy:      propsOf("displayName", "state", "conditions", "grantControls", "sessionControls"),
	KindNamedLocation: propsOf("displayName", "isTrusted", "ipRanges", "countriesAndRegions", "includeUnknownCountriesAndRegions", "countryLookupMethod"),
	KindApp: propsOf("addIns", "api", "appRoles", "defaultRedirectUri", "description", "displayName", "groupMembershipClaims",
		"identifierUris", "info", "isDeviceOnlyAuthSupported", "isFallbackPublicClient", "keyCredentials", "notes", "optionalClaims",
		"parentalControlSettings", "publicClient", "requiredResourceAccess", "samlMetadataUrl", "serviceManagementReference",
		"signInAudience", "spa", "tags", "tokenEncryptionKeyId", "web"),
	KindSP: propsOf("accountEnabled", "addIns", "alternativeNames", "appRoleAssignmentRequired", "description", "homepage",
		"keyCredentials", "loginUrl", "logoutUrl", "notes", "notificationEmailAddresses", "preferredSingleSignOnMode",
		"preferredTokenSigningKeyThumbprint", "replyUrls", "samlSingleSignOnSettings", "servicePrincipalNames", "tags",
		"tokenEncryptionKeyId"),
}

// createOnly are set when the object is created, read-only afterwards.
var createOnly = map[Kind]propSet{
	KindGroup: propsOf("groupTypes", "mailEnabled", "securityEnabled", "isAssignableToRole", "uniqueName",
		"resourceBehaviorOptions", "resourceProvisioningOptions"),
	KindAU:  propsOf("isMemberManagementRestricted"),
	KindApp: propsOf("uniqueName"),
}

// readOnly are the properties Entra sets; with every onPremises* property
// not listed as writable, Graph answers "Property 'x' is read-only".
var readOnly = propsOf("id", "createdDateTime", "deletedDateTime", "modifiedDateTime", "renewedDateTime", "expirationDateTime",
	"createdByAppId", "securityIdentifier", "proxyAddresses", "mail", "assignedLicenses", "assignedPlans", "provisionedPlans",
	"licenseAssignmentStates", "creationType", "externalUserState", "externalUserStateChangeDateTime", "imAddresses",
	"isResourceAccount", "lastPasswordChangeDateTime", "legalAgeGroupClassification", "signInSessionsValidFromDateTime",
	"signInActivity", "membershipRuleProcessingStatus", "templateId", "appId", "passwordCredentials", "publisherDomain")

// cloudMastered are the properties a synced object (onPremisesSyncEnabled)
// still takes from the cloud; the rest belong to on-premises AD.
var cloudMastered = propsOf("usageLocation", "preferredDataLocation", "employeeLeaveDateTime", "ageGroup",
	"consentProvidedForMinor", "passwordPolicies", "passwordProfile")

// required are the properties a create must send (Graph's rules).
var required = map[Kind][]string{
	KindUser:          {"accountEnabled", "displayName", "mailNickname", "passwordProfile", "userPrincipalName"},
	KindGroup:         {"displayName", "mailEnabled", "mailNickname", "securityEnabled"},
	KindAU:            {"displayName"},
	KindCAPolicy:      {"displayName"},
	KindNamedLocation: {"displayName", "@odata.type"},
	KindApp:           {"displayName"},
}

// resourceNames name the kinds in Graph's error messages.
var resourceNames = map[Kind]string{KindUser: "User", KindGroup: "Group", KindAU: "AdministrativeUnit",
	KindCAPolicy: "ConditionalAccessPolicy", KindNamedLocation: "NamedLocation", KindApp: "Application"}

// checkProps refuses what Graph refuses in a write of props to an object of
// kind k: unknown properties, read-only ones (create-only ones too when not
// creating) and, on a synced object, those mastered on-premises.
// Annotations such as @odata.type pass.
func checkProps(k Kind, props map[string]any, create, synced bool) error {
	var unknown, ro, onPrem []string
	for key := range props {
		switch {
		case strings.HasPrefix(key, "@odata."):
		case writable[k][key] || create && createOnly[k][key]:
			if synced && !cloudMastered[key] {
				onPrem = append(onPrem, key)
			}
		case readOnly[key] || createOnly[k][key] || strings.HasPrefix(key, "onPremises"):
			ro = append(ro, key)
		default:
			unknown = append(unknown, key)
		}
	}
	for _, refused := range []struct {
		props []string
		err   error
	}{{unknown, ErrUnknownProperty}, {ro, ErrReadOnly}, {onPrem, ErrSynced}} {
		if len(refused.props) > 0 {
			slices.Sort(refused.props)
			return &PropError{Err: refused.err, Props: refused.props}
		}
	}
	if !create {
		return nil
	}
	for _, key := range required[k] {
		if v, ok := props[key]; !ok || v == nil {
			return fmt.Errorf("%w: A value is required for property '%s' of resource '%s'.", ErrInvalid, key, resourceNames[k])
		}
	}
	if k == KindUser {
		pp, _ := props["passwordProfile"].(map[string]any)
		if pw, _ := pp["password"].(string); pw == "" {
			return fmt.Errorf("%w: Invalid value specified for property 'passwordProfile' of resource 'User'.", ErrInvalid)
		}
	}
	return nil
}

// stored is what a write keeps of props: no annotations (but a named
// location's @odata.type, its subtype), and never a password.
func stored(k Kind, props map[string]any) map[string]any {
	out := make(map[string]any, len(props))
	for key, v := range props {
		if key == "passwordProfile" || strings.HasPrefix(key, "@odata.") && !(k == KindNamedLocation && key == "@odata.type") {
			continue
		}
		out[key] = v
	}
	return out
}

// checkUPN applies Graph's rules to a user principal name set on user u
// (-1 for a new user): a verified domain of the tenant, and unique.
func (t *Tenant) checkUPN(upn string, u int32) error {
	at := strings.LastIndexByte(upn, '@')
	if at <= 0 || !slices.ContainsFunc(t.VerifiedDomains(), func(d string) bool { return strings.EqualFold(d, upn[at+1:]) }) {
		return fmt.Errorf("%w: The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.", ErrInvalid)
	}
	if other, dup := t.upns[strings.ToLower(upn)]; dup && other != u {
		return fmt.Errorf("%w: Another object with the same value for property userPrincipalName already exists.", ErrConflict)
	}
	return nil
}

// Synced reports whether r is synchronised from on-premises AD.
func (t *Tenant) Synced(r Ref) bool {
	v, _ := t.over[r]["onPremisesSyncEnabled"].(bool)
	return v
}

// SetSynced makes a live user or group look synchronised from on-premises
// AD (Entra Connect): Graph then refuses writes to the properties AD
// masters. Generated tenants have no synced objects; tests make some.
func (t *Tenant) SetSynced(r Ref) error {
	if !t.IsLive(r) || (r.Kind() != KindUser && r.Kind() != KindGroup) {
		return ErrNotFound
	}
	id := t.Meta(r).ID
	t.setOver(r, map[string]any{"onPremisesSyncEnabled": true, "onPremisesImmutableId": base64.StdEncoding.EncodeToString(id[:]),
		"onPremisesLastSyncDateTime": ts(t.Now().Unix()), "onPremisesDomainName": "corp." + strings.TrimSuffix(t.Domain, ".onmicrosoft.com") + ".com",
		"onPremisesSecurityIdentifier": fmt.Sprintf("S-1-5-21-1004336348-1177238915-682003330-%d", 1100+r.Index())})
	t.record(r, OpUpsert, 0)
	return nil
}
