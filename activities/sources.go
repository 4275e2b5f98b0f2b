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
	// InlineRelation: a delta property carrying a relationship
	// ("members@delta", "manager@delta"), stored as RelationType objects.
	InlineRelation string
	// SubCollection: a per-object relationship read with its own paging,
	// e.g. "/directory/administrativeUnits/%s/members".
	SubCollection string
	RelationType  string
	// LogTimeField: an activity log paged by time, never by delta.
	LogTimeField string
	// Include limits objects to these ids (groups, administrative units).
	Include []string
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
		"onPremisesImmutableId", "onPremisesLastSyncDateTime", "onPremisesSamAccountName", "onPremisesSecurityIdentifier",
		"onPremisesSyncEnabled", "onPremisesUserPrincipalName", "otherMails", "passwordPolicies", "postalCode",
		"preferredDataLocation", "preferredLanguage", "provisionedPlans", "proxyAddresses", "securityIdentifier",
		"showInAddressList", "signInSessionsValidFromDateTime", "state", "streetAddress", "surname", "usageLocation",
		"userPrincipalName", "userType",
	}
	groupSelect = []string{
		"id", "classification", "createdDateTime", "description", "displayName", "expirationDateTime", "groupTypes",
		"isAssignableToRole", "mail", "mailEnabled", "mailNickname", "membershipRule", "membershipRuleProcessingState",
		"onPremisesDomainName", "onPremisesLastSyncDateTime", "onPremisesNetBiosName", "onPremisesSamAccountName",
		"onPremisesSecurityIdentifier", "onPremisesSyncEnabled", "preferredDataLocation", "preferredLanguage", "proxyAddresses",
		"renewedDateTime", "securityEnabled", "securityIdentifier", "theme", "visibility",
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
		src := source{Name: "groups", ObjType: "group", Delta: true, Include: g.Include}
		if g.Members {
			src.URL = "/groups/delta?" + selectParam(groupSelect, "members")
			src.InlineRelation, src.RelationType = "members@delta", "group.members"
		} else {
			src.URL = "/groups/delta?" + selectParam(groupSelect)
		}
		return []source{src}, nil
	case connector.ScopeAdministrativeUnits:
		var include []string
		if a := s.AdministrativeUnits; a != nil {
			include = a.Include
		}
		return []source{{Name: "administrativeUnits", ObjType: "administrativeUnit", URL: "/directory/administrativeUnits/delta", Delta: true,
			SubCollection: "/directory/administrativeUnits/%s/members?$select=id", RelationType: "administrativeUnit.members", Include: include}}, nil
	case connector.ScopeRoles:
		return []source{
			{Name: "roleDefinitions", ObjType: "roleDefinition", URL: "/roleManagement/directory/roleDefinitions"},
			{Name: "roleAssignments", ObjType: "roleAssignment", URL: "/roleManagement/directory/roleAssignments"},
			{Name: "directoryRoles", ObjType: "directoryRole", URL: "/directoryRoles",
				SubCollection: "/directoryRoles/%s/members?$select=id", RelationType: "directoryRole.members"},
			// Tenant-wide facts travel with the roles scope.
			{Name: "organization", ObjType: "organization", URL: "/organization"},
			{Name: "subscribedSkus", ObjType: "subscribedSku", URL: "/subscribedSkus"},
		}, nil
	case connector.ScopeApplications:
		return []source{
			{Name: "applications", ObjType: "application", URL: "/applications/delta", Delta: true},
			{Name: "servicePrincipals", ObjType: "servicePrincipal", URL: "/servicePrincipals/delta", Delta: true},
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
			out = append(out, source{Name: "authenticationMethodsPolicy", ObjType: "authenticationMethodsPolicy", URL: "/policies/authenticationMethodsPolicy", Singleton: true})
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

// logURL pages an activity log from a time on, newest first.
func logURL(src source, since string) string {
	q := url.Values{}
	q.Set("$filter", src.LogTimeField+" ge "+since)
	q.Set("$top", "1000")
	return src.URL + "?" + strings.ReplaceAll(q.Encode(), "+", "%20")
}
