package restore

import "strings"

// Kind is how one object type of a snapshot is written back to Graph.
type Kind struct {
	Type string // the snapshot's object type
	Path string // Graph collection, e.g. "/users"
	// Undeletable types come back from /directory/deletedItems with their
	// id and the links Entra keeps.
	Undeletable bool
	// Phase orders re-creates: users, then groups, then units, so links
	// and owners can point at what came back.
	Phase int
	// NaturalKey finds a re-created object again, so a retried create
	// never makes a duplicate.
	NaturalKey string
	// Writable properties are sent by PATCH; CreateOnly ones only on
	// create. Everything else differing is reported as a skip.
	Writable, CreateOnly set
	// Required are the properties a create must send (Graph's rules).
	Required []string
	// ReadOnly explains the properties that are never written.
	ReadOnly func(prop string) string
	// NotWritable says why an object cannot be written at all ("" = it can).
	NotWritable func(obj map[string]any) string
	// Singleton kinds are one object per tenant at Path (the tenant-wide
	// policies): never created or deleted, only reverted.
	Singleton bool
	// Fixed kinds are a set Entra keeps at Path/{id} (each authentication
	// method's configuration): like singletons, only reverted.
	Fixed bool
	// TypedPatch: a PATCH must name the object's @odata.type (derived
	// types such as the authentication method configurations).
	TypedPatch bool
	// Apart are properties holding objects restored as their own kind,
	// so they are not compared here.
	Apart set
	// AltID is a second id Entra assigns at create (an application's
	// appId): a re-created object's is mapped in the id map too.
	AltID string
	// Parts are snapshot types holding more of the object, by its id, and
	// the properties each holds: what Graph returns only to a single read
	// (certificate keys). The planner sees the object with them merged in.
	Parts map[string][]string
}

// Relation is a link type of a snapshot, stored as its own object
// ("group.members" under the group's id).
type Relation struct {
	Type  string // "group.members"
	Owner string // the owner's object type
	Name  string // "members", "owners", "manager"
	// Single relations (manager) hold one reference.
	Single bool
}

type set map[string]bool

func setOf(props ...string) set {
	s := set{}
	for _, p := range props {
		s[p] = true
	}
	return s
}

// Kinds are the object types restore writes, by snapshot type.
var Kinds = map[string]*Kind{
	"user": {
		Type: "user", Path: "/users", Undeletable: true, Phase: 1, NaturalKey: "userPrincipalName",
		Writable: setOf("accountEnabled", "ageGroup", "businessPhones", "city", "companyName", "consentProvidedForMinor",
			"country", "department", "displayName", "employeeHireDate", "employeeId", "employeeLeaveDateTime", "employeeOrgData",
			"employeeType", "faxNumber", "givenName", "jobTitle", "mail", "mailNickname", "mobilePhone", "officeLocation",
			"otherMails", "passwordPolicies", "postalCode", "preferredDataLocation", "preferredLanguage", "showInAddressList",
			"state", "streetAddress", "surname", "usageLocation", "userPrincipalName", "userType"),
		CreateOnly: setOf(),
		Required:   []string{"accountEnabled", "displayName", "mailNickname", "userPrincipalName"},
		ReadOnly:   userReadOnly,
	},
	"group": {
		Type: "group", Path: "/groups", Undeletable: true, Phase: 2, NaturalKey: "mailNickname",
		Writable: setOf("classification", "description", "displayName", "mailNickname", "membershipRule",
			"membershipRuleProcessingState", "preferredDataLocation", "preferredLanguage", "theme", "visibility"),
		CreateOnly:  setOf("groupTypes", "mailEnabled", "securityEnabled", "isAssignableToRole", "uniqueName"),
		Required:    []string{"displayName", "mailEnabled", "mailNickname", "securityEnabled"},
		ReadOnly:    groupReadOnly,
		NotWritable: groupNotWritable,
	},
	"administrativeUnit": {
		Type: "administrativeUnit", Path: "/directory/administrativeUnits", Undeletable: true, Phase: 3,
		Writable:   setOf("displayName", "description", "visibility", "membershipRule", "membershipType", "membershipRuleProcessingState"),
		CreateOnly: setOf(),
		Required:   []string{"displayName"},
		ReadOnly:   func(string) string { return "read-only: set by Entra ID" },
	},
	// Applications before their service principals (created by appId),
	// both before the policies that name them. Re-created, an application
	// gets a new appId too. uniqueName is its key: set at create, unique
	// in the tenant, so a retried create finds it or is refused.
	"application": {
		Type: "application", Path: "/applications", Undeletable: true, Phase: 4, NaturalKey: "uniqueName", AltID: "appId",
		Parts: map[string][]string{"application.keyCredentials": {"keyCredentials"}},
		Writable: setOf("addIns", "api", "appRoles", "defaultRedirectUri", "description", "displayName", "groupMembershipClaims",
			"identifierUris", "info", "isDeviceOnlyAuthSupported", "isFallbackPublicClient", "keyCredentials", "notes", "optionalClaims",
			"parentalControlSettings", "publicClient", "requiredResourceAccess", "samlMetadataUrl", "serviceManagementReference",
			"signInAudience", "spa", "tags", "tokenEncryptionKeyId", "web"),
		CreateOnly: setOf("uniqueName"),
		Required:   []string{"displayName"},
		ReadOnly:   appReadOnly,
	},
	"servicePrincipal": {
		Type: "servicePrincipal", Path: "/servicePrincipals", Undeletable: true, Phase: 5, NaturalKey: "appId",
		Writable: setOf("accountEnabled", "addIns", "alternativeNames", "appRoleAssignmentRequired", "description", "homepage",
			"loginUrl", "logoutUrl", "notes", "notificationEmailAddresses", "preferredSingleSignOnMode",
			"preferredTokenSigningKeyThumbprint", "replyUrls", "samlSingleSignOnSettings", "tags", "tokenEncryptionKeyId"),
		CreateOnly: setOf("appId"),
		Required:   []string{"appId"},
		ReadOnly:   appReadOnly,
	},
	// Conditional access: named locations before the policies that use
	// them. No soft delete in v1.0: a deleted one is re-created, and every
	// id a policy names goes through the id map.
	"namedLocation": {
		Type: "namedLocation", Path: "/identity/conditionalAccess/namedLocations", Phase: 6, NaturalKey: "displayName",
		Writable: setOf("displayName", "ipRanges", "isTrusted", "countriesAndRegions", "includeUnknownCountriesAndRegions",
			"countryLookupMethod"),
		CreateOnly: setOf("@odata.type"),
		Required:   []string{"displayName", "@odata.type"},
		ReadOnly:   func(string) string { return "read-only: set by Entra ID" },
	},
	"conditionalAccessPolicy": {
		Type: "conditionalAccessPolicy", Path: "/identity/conditionalAccess/policies", Phase: 7, NaturalKey: "displayName",
		Writable:   setOf("displayName", "state", "conditions", "grantControls", "sessionControls"),
		CreateOnly: setOf(),
		Required:   []string{"displayName", "state", "conditions"},
		ReadOnly:   func(string) string { return "read-only: set by Entra ID" },
	},
	// Tenant-wide policies, reverted property by property. The
	// authentication method configurations have endpoints of their own.
	"authorizationPolicy": {
		Type: "authorizationPolicy", Path: "/policies/authorizationPolicy", Singleton: true,
		Writable: setOf("displayName", "description", "allowInvitesFrom", "allowedToSignUpEmailBasedSubscriptions", "allowedToUseSSPR",
			"allowEmailVerifiedUsersToJoinOrganization", "allowUserConsentForRiskyApps", "blockMsolPowerShell", "guestUserRoleId",
			"defaultUserRolePermissions"),
		CreateOnly: setOf(),
		ReadOnly:   func(string) string { return "read-only: set by Entra ID" },
	},
	"authenticationMethodsPolicy": {
		Type: "authenticationMethodsPolicy", Path: "/policies/authenticationMethodsPolicy", Singleton: true,
		Writable: setOf("displayName", "description", "registrationEnforcement", "reportSuspiciousActivitySettings",
			"systemCredentialPreferences", "policyMigrationState"),
		CreateOnly: setOf(),
		ReadOnly:   func(string) string { return "read-only: set by Entra ID" },
		Apart:      setOf("authenticationMethodConfigurations"),
	},
	// Each authentication method's configuration (Authenticator, FIDO2,
	// SMS, Temporary Access Pass, …), stored apart from the policy.
	"authenticationMethodConfiguration": {
		Type: "authenticationMethodConfiguration", Path: "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations",
		Fixed: true, TypedPatch: true,
		Writable: setOf("state", "includeTargets", "excludeTargets", "isSoftwareOathEnabled", "featureSettings",
			"isAttestationEnforced", "isSelfServiceRegistrationAllowed", "keyRestrictions", "defaultLifetimeInMinutes",
			"defaultLength", "minimumLifetimeInMinutes", "maximumLifetimeInMinutes", "isUsableOnce",
			"allowExternalIdToUseEmailOtp", "isUsableForSignIn", "certificateUserBindings", "authenticationModeConfiguration"),
		CreateOnly: setOf(),
		ReadOnly:   func(string) string { return "read-only: set by Entra ID" },
	},
}

// Referrers are the types whose properties name other objects by id
// (a policy's users, groups, applications): one naming an object this
// restore re-creates is planned even where it did not change.
var Referrers = []string{"conditionalAccessPolicy"}

// Relations are the link types restore writes.
var Relations = map[string]*Relation{
	"group.members":              {Type: "group.members", Owner: "group", Name: "members"},
	"group.owners":               {Type: "group.owners", Owner: "group", Name: "owners"},
	"administrativeUnit.members": {Type: "administrativeUnit.members", Owner: "administrativeUnit", Name: "members"},
	"user.manager":               {Type: "user.manager", Owner: "user", Name: "manager", Single: true},
	"application.owners":         {Type: "application.owners", Owner: "application", Name: "owners"},
	"servicePrincipal.owners":    {Type: "servicePrincipal.owners", Owner: "servicePrincipal", Name: "owners"},
}

// RoleAssignmentType is the snapshot type of directory role assignments,
// restored by creating (and optionally removing) assignments.
const RoleAssignmentType = "roleAssignment"

// WritePermissions are the application permissions restore needs per
// object type, for the readiness shown in a connector's verification.
var WritePermissions = map[string][]string{
	"user":               {"User.ReadWrite.All"},
	"group":              {"Group.ReadWrite.All", "GroupMember.ReadWrite.All"},
	"administrativeUnit": {"AdministrativeUnit.ReadWrite.All"},
	RoleAssignmentType:   {"RoleManagement.ReadWrite.Directory"},
	// Policy.Read.All is what Graph asks besides, to read the policies.
	"namedLocation":                     {"Policy.ReadWrite.ConditionalAccess"},
	"conditionalAccessPolicy":           {"Policy.ReadWrite.ConditionalAccess"},
	"authorizationPolicy":               {"Policy.ReadWrite.Authorization"},
	"authenticationMethodsPolicy":       {"Policy.ReadWrite.AuthenticationMethod"},
	"authenticationMethodConfiguration": {"Policy.ReadWrite.AuthenticationMethod"},
	"application":                       {"Application.ReadWrite.All"},
	// Its app role assignments and delegated grants have permissions of their own.
	"servicePrincipal": {"Application.ReadWrite.All", "AppRoleAssignment.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All"},
}

// notRestorable explains snapshot types restore never writes; a
// difference in them is reported, not dropped.
var notRestorable = map[string]string{
	"roleDefinition":        "built-in role definitions cannot be changed; their assignments are restored",
	"directoryRole":         "activated directory roles follow their role assignments",
	"directoryRole.members": "directory role members follow their role assignments",
	"organization":          "tenant organization settings are not restored by this release",
	"subscribedSku":         "licences are bought, not restored",
}

// NotRestorableReason says why a snapshot type is never written ("" if it
// is restorable).
func NotRestorableReason(objType string) string {
	if Kinds[objType] != nil || Relations[objType] != nil || Children[objType] != nil || PartOf(objType) != nil || objType == RoleAssignmentType {
		return ""
	}
	if r, ok := notRestorable[objType]; ok {
		return r
	}
	return "this object type is not writable through Microsoft Graph by this release"
}

func userReadOnly(p string) string {
	switch {
	case p == "passwordProfile":
		return "passwords are never backed up; a re-created user gets a new one"
	case p == "assignedLicenses" || p == "assignedPlans" || p == "provisionedPlans" || p == "licenseAssignmentStates":
		return "licences are assigned with assignLicense and follow group-based licensing; not restored"
	case p == "proxyAddresses":
		return "read-only: Entra ID derives it from mail"
	case p == "identities":
		return "sign-in identities are not restored by this release"
	case strings.HasPrefix(p, "onPremises"):
		return "read-only: written by directory synchronisation"
	}
	return "read-only: set by Entra ID"
}

func groupReadOnly(p string) string {
	switch {
	case p == "proxyAddresses" || p == "mail":
		return "read-only: Exchange sets a group's addresses"
	case p == "groupTypes" || p == "mailEnabled" || p == "securityEnabled" || p == "isAssignableToRole":
		return "set only when a group is created"
	case strings.HasPrefix(p, "onPremises"):
		return "read-only: written by directory synchronisation"
	}
	return "read-only: set by Entra ID"
}

// groupNotWritable: Graph writes only Microsoft 365 and security groups;
// mail-enabled security groups and distribution lists belong to Exchange.
func groupNotWritable(g map[string]any) string {
	mailEnabled, _ := g["mailEnabled"].(bool)
	if mailEnabled && !unified(g) {
		if sec, _ := g["securityEnabled"].(bool); sec {
			return "mail-enabled security groups are managed in Exchange Online, not writable through Graph"
		}
		return "distribution lists are managed in Exchange Online, not writable through Graph"
	}
	return ""
}

// unified reports a Microsoft 365 group.
func unified(g map[string]any) bool {
	types, _ := g["groupTypes"].([]any)
	for _, t := range types {
		if t == "Unified" {
			return true
		}
	}
	return false
}

// synced reports an object whose source of authority is on-premises AD.
func synced(obj map[string]any) bool {
	v, _ := obj["onPremisesSyncEnabled"].(bool)
	return v
}

// serverManaged properties differ between any two reads or are
// identifiers; they are neither written nor reported.
var serverManaged = setOf("id", "@odata.type", "@odata.context", "createdDateTime", "deletedDateTime", "renewedDateTime",
	"createdByAppId", "expirationDateTime", "securityIdentifier", "onPremisesLastSyncDateTime",
	"signInSessionsValidFromDateTime", "lastPasswordChangeDateTime", "externalUserStateChangeDateTime",
	"membershipRuleProcessingStatus", "modifiedDateTime", "templateId")

// appReadOnly explains the application and service principal properties
// restore never writes.
func appReadOnly(p string) string {
	switch p {
	case "passwordCredentials":
		return SecretReason
	case "appId":
		return "assigned by Entra ID: a re-created application gets a new one, which the id map records"
	case "appRoles", "oauth2PermissionScopes", "appDisplayName", "appOwnerOrganizationId", "servicePrincipalNames":
		return "follows the application: restored with it"
	case "uniqueName":
		return "set only when the object is created"
	}
	return "read-only: set by Entra ID"
}

// SecretReason is why client secrets never come back.
const SecretReason = "client secrets cannot be restored: Graph shows a secret only when it is created; " +
	"add a new one (addPassword) and give it to whatever signs in as this application"

// PartOf is the kind whose Parts name objType (nil if none).
func PartOf(objType string) *Kind {
	for _, k := range Kinds {
		if _, ok := k.Parts[objType]; ok {
			return k
		}
	}
	return nil
}
