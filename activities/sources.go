package activities

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/entravault/entravault/internal/connector"
)

// A source is one Graph collection (or singleton) read into a snapshot.
type source struct {
	Name    string // key of its delta link / watermark in the snapshot state
	ObjType string // object type in the repository
	URL     string // first request; a delta source's initial sync
	Delta   bool
	// Singleton: the response is the object itself (policies).
	Singleton bool
	// Items: a singleton's list property whose entries are also stored as
	// objects of ItemType, by id, each restored on its own (an
	// authentication method's configuration).
	Items, ItemType string
	// InlineRelation: a delta property carrying a relationship
	// ("members@delta", "manager@delta"), stored as RelationType objects.
	InlineRelation string
	// RelationType stores InlineRelation.
	RelationType string
	// SubCollection: a per-object relationship that delta does not track,
	// read with its own paging, e.g. "/groups/%s/owners?$select=id", and
	// stored as SubRelationType objects. A delta source may name a
	// SubRelationType alone: an Expand source fills it, removals clear it.
	SubCollection   string
	SubRelationType string
	// Expand: a list read whole on every run only for one expanded
	// relationship of objects of ObjType the snapshot already holds, stored
	// as SubRelationType objects; an item with expandCap entries may have
	// more and is read through SubCollection.
	Expand string
	// Extras are more reads per stored object, for what the object does
	// not carry itself (owners, an application's certificate keys).
	Extras []extra
	// LogTimeField: an activity log paged by time, never by delta.
	LogTimeField string
	// Include limits objects to these ids (groups, administrative units).
	Include []string
}

// extra is one more read per stored object, stored under Type by the
// object's id: a link list (Refs), the items of a collection, or one
// object (Single).
type extra struct {
	Type   string
	URL    string // with %s for the object's id
	Refs   bool
	Single bool
}

// Property lists for $select: every documented property restore can write
// back, plus read-only ones worth keeping for comparison.
var (
	userSelect = []string{
		"id", "accountEnabled", "ageGroup", "assignedLicenses", "assignedPlans", "businessPhones", "city", "companyName",
		"consentProvidedForMinor", "country", "createdDateTime", "creationType", "deletedDateTime", "department", "displayName",
		"employeeHireDate", "employeeId", "employeeLeaveDateTime", "employeeOrgData", "employeeType", "externalUserState",
		"externalUserStateChangeDateTime", "faxNumber", "givenName", "identities", "imAddresses", "isResourceAccount", "jobTitle",
		"lastPasswordChangeDateTime", "legalAgeGroupClassification", "licenseAssignmentStates", "mail", "mailNickname",
		"mobilePhone", "officeLocation", "onPremisesDistinguishedName", "onPremisesDomainName", "onPremisesExtensionAttributes",
		"onPremisesImmutableId", "onPremisesLastSyncDateTime", "onPremisesProvisioningErrors", "onPremisesSamAccountName",
		"onPremisesSecurityIdentifier", "onPremisesSyncEnabled", "onPremisesUserPrincipalName", "otherMails",
		"passwordPolicies", "passwordProfile", "postalCode",
		"preferredDataLocation", "preferredLanguage", "provisionedPlans", "proxyAddresses", "securityIdentifier",
		"showInAddressList", "signInSessionsValidFromDateTime", "state", "streetAddress", "surname", "usageLocation",
		"userPrincipalName", "userType",
	}
	groupSelect = []string{
		"id", "classification", "createdDateTime", "deletedDateTime", "description", "displayName", "expirationDateTime",
		"groupTypes", "isAssignableToRole", "mail", "mailEnabled", "mailNickname", "membershipRule",
		"membershipRuleProcessingState", "onPremisesDomainName", "onPremisesLastSyncDateTime", "onPremisesNetBiosName",
		"onPremisesProvisioningErrors", "onPremisesSamAccountName", "onPremisesSecurityIdentifier", "onPremisesSyncEnabled",
		"preferredDataLocation", "preferredLanguage", "proxyAddresses", "renewedDateTime", "resourceBehaviorOptions",
		"resourceProvisioningOptions", "securityEnabled", "securityIdentifier", "theme", "uniqueName", "visibility",
	}
)

func selectParam(props []string, extra ...string) string {
	return "$select=" + strings.Join(append(slices.Clone(props), extra...), ",")
}

// sourcesFor lists what a scope reads, in order.
func sourcesFor(scope connector.Scope, s connector.Scopes) ([]source, error) {
	switch scope {
	case connector.ScopeUsers:
		return []source{{Name: "users", ObjType: "user", URL: "/users/delta?" + selectParam(userSelect, "manager"), Delta: true,
			InlineRelation: "manager@delta", RelationType: "user.manager"}}, nil
	case connector.ScopeGroups:
		g := s.Groups
		if g == nil {
			return nil, fmt.Errorf("groups scope not configured")
		}
		// Delta does not track owners: after the delta round, every run
		// lists all groups with their owners expanded, 100 groups a
		// request, so owner changes are caught on unchanged groups too.
		src := source{Name: "groups", ObjType: "group", Delta: true, Include: g.Include, SubRelationType: "group.owners"}
		if g.Members {
			src.URL = "/groups/delta?" + selectParam(groupSelect, "members")
			src.InlineRelation, src.RelationType = "members@delta", "group.members"
		} else {
			src.URL = "/groups/delta?" + selectParam(groupSelect)
		}
		owners := source{Name: "groupOwners", ObjType: "group", Include: g.Include, Expand: "owners",
			URL:           "/groups?$select=id&$expand=owners($select=id)&$top=100",
			SubCollection: "/groups/%s/owners?$select=id", SubRelationType: "group.owners"}
		return []source{src, owners}, nil
	case connector.ScopeAdministrativeUnits:
		var include []string
		if a := s.AdministrativeUnits; a != nil {
			include = a.Include
		}
		// Without $select, delta carries members@delta for administrative
		// units as for groups, so membership changes arrive incrementally.
		return []source{{Name: "administrativeUnits", ObjType: "administrativeUnit", URL: "/directory/administrativeUnits/delta", Delta: true,
			InlineRelation: "members@delta", RelationType: "administrativeUnit.members", Include: include}}, nil
	case connector.ScopeRoles:
		return []source{
			{Name: "roleDefinitions", ObjType: "roleDefinition", URL: "/roleManagement/directory/roleDefinitions"},
			{Name: "roleAssignments", ObjType: "roleAssignment", URL: "/roleManagement/directory/roleAssignments"},
			{Name: "directoryRoles", ObjType: "directoryRole", URL: "/directoryRoles",
				SubCollection: "/directoryRoles/%s/members?$select=id", SubRelationType: "directoryRole.members"},
			// Tenant-wide facts travel with the roles scope.
			{Name: "organization", ObjType: "organization", URL: "/organization"},
			{Name: "subscribedSkus", ObjType: "subscribedSku", URL: "/subscribedSkus"},
		}, nil
	case connector.ScopeApplications:
		// What a restore needs besides the objects: certificate public keys
		// (Graph returns "key" only to a single read that selects it),
		// federated credentials, owners, app role assignments and the
		// delegated grants. The grants are a plain list, so every run of
		// this scope is a full read and the extras are always current.
		return []source{
			{Name: "applications", ObjType: "application", URL: "/applications/delta", Delta: true, Extras: []extra{
				{Type: "application.keyCredentials", URL: "/applications/%s?$select=id,keyCredentials", Single: true},
				{Type: "application.federatedIdentityCredentials", URL: "/applications/%s/federatedIdentityCredentials"},
				{Type: "application.owners", URL: "/applications/%s/owners?$select=id", Refs: true},
			}},
			{Name: "servicePrincipals", ObjType: "servicePrincipal", URL: "/servicePrincipals/delta", Delta: true, Extras: []extra{
				{Type: "servicePrincipal.owners", URL: "/servicePrincipals/%s/owners?$select=id", Refs: true},
				{Type: "servicePrincipal.appRoleAssignedTo", URL: "/servicePrincipals/%s/appRoleAssignedTo"},
			}},
			{Name: "oauth2PermissionGrants", ObjType: "oauth2PermissionGrant", URL: "/oauth2PermissionGrants"},
		}, nil
	case connector.ScopePolicies:
		p := s.Policies
		if p == nil {
			return nil, fmt.Errorf("policies scope not configured")
		}
		var out []source
		if p.ConditionalAccess {
			out = append(out, source{Name: "conditionalAccessPolicies", ObjType: "conditionalAccessPolicy", URL: "/identity/conditionalAccess/policies"})
		}
		if p.NamedLocations {
			out = append(out, source{Name: "namedLocations", ObjType: "namedLocation", URL: "/identity/conditionalAccess/namedLocations"})
		}
		if p.AuthenticationMethods {
			out = append(out, source{Name: "authenticationMethodsPolicy", ObjType: "authenticationMethodsPolicy", URL: "/policies/authenticationMethodsPolicy", Singleton: true,
				Items: "authenticationMethodConfigurations", ItemType: "authenticationMethodConfiguration"})
		}
		if p.Authorization {
			out = append(out, source{Name: "authorizationPolicy", ObjType: "authorizationPolicy", URL: "/policies/authorizationPolicy", Singleton: true})
		}
		return out, nil
	case connector.ScopeSignIns:
		return []source{{Name: "signIns", ObjType: "signIn", URL: "/auditLogs/signIns", LogTimeField: "createdDateTime"}}, nil
	case connector.ScopeDirectoryAudits:
		return []source{{Name: "directoryAudits", ObjType: "directoryAudit", URL: "/auditLogs/directoryAudits", LogTimeField: "activityDateTime"}}, nil
	}
	return nil, fmt.Errorf("unknown scope %q", scope)
}

// expandCap is the most items Graph returns for an expanded relationship
// of a directory object, with no link to the rest.
const expandCap = 20

// logURL pages an activity log from a time on, newest first.
func logURL(src source, since string) string {
	q := url.Values{}
	q.Set("$filter", src.LogTimeField+" ge "+since)
	q.Set("$top", "1000")
	return src.URL + "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
}
