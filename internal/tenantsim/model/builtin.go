package model

// RoleDefinition is a built-in Entra directory role.
type RoleDefinition struct {
	TemplateID  string
	DisplayName string
	Description string
	Actions     []string
}

// Built-in role template ids (entra-docs permissions-reference.md).
const (
	GlobalAdministratorRole   = "62e90394-69f5-4237-9190-012177145e10"
	SecurityAdministratorRole = "194ae4cb-b126-40b2-bd5b-6091b380977d"
)

// RoleDefinitions are the built-in roles of every tenant. Index 0 and 1 are
// relied on by generation: append only.
var RoleDefinitions = []RoleDefinition{
	{GlobalAdministratorRole, "Global Administrator", "Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.", []string{"microsoft.directory/*/allProperties/allTasks"}},
	{SecurityAdministratorRole, "Security Administrator", "Can read security information and reports, and manage configuration in Microsoft Entra ID and Office 365.", []string{"microsoft.directory/conditionalAccessPolicies/standard/read", "microsoft.directory/conditionalAccessPolicies/basic/update"}},
	{"5d6b6bb7-de71-4623-b4af-96380a352509", "Security Reader", "Can read security information and reports in Microsoft Entra ID and Office 365.", []string{"microsoft.directory/auditLogs/allProperties/read"}},
	{"4a5d8f65-41da-4de4-8968-e035b65339cf", "Reports Reader", "Can read sign-in and audit reports.", []string{"microsoft.directory/signInReports/allProperties/read"}},
	{"fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator", "Can manage all aspects of users and groups, including resetting passwords for limited admins.", []string{"microsoft.directory/users/create", "microsoft.directory/users/delete"}},
	{"fdd7a751-b60b-444a-984c-02652fe8fa1c", "Groups Administrator", "Members of this role can create/manage groups, create/manage groups settings like naming and expiration policies, and view groups activity and audit reports.", []string{"microsoft.directory/groups/create", "microsoft.directory/groups/delete"}},
	{"9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "Application Administrator", "Can create and manage all aspects of app registrations and enterprise apps.", []string{"microsoft.directory/applications/create"}},
	{"b1be1c3e-b65d-4f19-8427-f6fa0d97feb9", "Conditional Access Administrator", "Can manage Conditional Access capabilities.", []string{"microsoft.directory/conditionalAccessPolicies/create"}},
	{"729827e3-9c14-49f7-bb1b-9608f156bbb8", "Helpdesk Administrator", "Can reset passwords for non-administrators and Helpdesk Administrators.", []string{"microsoft.directory/users/password/update"}},
	{"f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader", "Can read everything that a Global Administrator can, but not update anything.", []string{"microsoft.directory/*/allProperties/read"}},
}

// GraphAppID is the application id of Microsoft Graph.
const GraphAppID = "00000003-0000-0000-c000-000000000000"

// GraphPermissions are Microsoft Graph application permissions (appRoles of
// its service principal) by name.
var GraphPermissions = []struct{ Name, ID string }{
	{"User.Read.All", "df021288-bdef-4463-88db-98f22de89214"},
	{"User.ReadWrite.All", "741f803b-c850-494e-b5df-cde7c675a1ca"},
	{"Group.Read.All", "5b567255-7703-4780-807c-7be8301ae99b"},
	{"Group.ReadWrite.All", "62a82d76-70ea-41e2-9197-370581804d09"},
	{"GroupMember.Read.All", "98830695-27a2-44f7-8c18-0c3ebc9698f6"},
	{"GroupMember.ReadWrite.All", "dbaae8cf-10b5-4b86-a4a1-f871c94c6695"},
	{"AdministrativeUnit.Read.All", "134fd756-38ce-4afd-ba33-e9623dbe66c2"},
	{"AdministrativeUnit.ReadWrite.All", "5eb59dd3-1da2-4329-8733-9dabdc435916"},
	{"RoleManagement.Read.Directory", "483bed4a-2ad3-4361-a73b-c83ccdbdc53c"},
	{"RoleManagement.ReadWrite.Directory", "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8"},
	{"Application.Read.All", "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30"},
	{"Application.ReadWrite.All", "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9"},
	{"Policy.Read.All", "246dd0d5-5bd0-4def-940b-0421030a5b68"},
	{"Policy.ReadWrite.ConditionalAccess", "01c0a623-fc9b-48e9-b794-0756f8e8f067"},
	{"AuditLog.Read.All", "b0afded3-3588-46d8-8b3d-9842eff778da"},
	{"Organization.Read.All", "498476ce-e0fe-48b0-b801-37ba7e2685c6"},
	{"Directory.Read.All", "7ab1d382-f21e-4acd-a863-ba3e13f7da61"},
	{"Directory.ReadWrite.All", "19dbc75e-c2e2-444c-a770-ec69d8559fc7"},
	{"AppRoleAssignment.ReadWrite.All", "06b708a9-e830-4db3-a914-8e69da51d44f"},
	{"DelegatedPermissionGrant.ReadWrite.All", "8e8e4742-1d95-4f68-9d56-6ee75648c72a"},
}

// BackupReadRoles are the roles the backup needs (graph.md §8).
var BackupReadRoles = []string{"User.Read.All", "GroupMember.Read.All", "AdministrativeUnit.Read.All",
	"RoleManagement.Read.Directory", "Application.Read.All", "Policy.Read.All", "AuditLog.Read.All",
	"Organization.Read.All", "Directory.Read.All"}

// RestoreWriteRoles are the write twins restore needs.
var RestoreWriteRoles = []string{"User.ReadWrite.All", "Group.ReadWrite.All", "GroupMember.ReadWrite.All",
	"AdministrativeUnit.ReadWrite.All", "Application.ReadWrite.All", "Policy.ReadWrite.ConditionalAccess",
	"RoleManagement.ReadWrite.Directory", "Policy.ReadWrite.Authorization", "Policy.ReadWrite.AuthenticationMethod",
	"AppRoleAssignment.ReadWrite.All", "DelegatedPermissionGrant.ReadWrite.All"}

// firstParty are Microsoft service principals present in every tenant.
var firstParty = []struct{ AppID, Name string }{
	{GraphAppID, "Microsoft Graph"},
	{"00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online"},
	{"00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online"},
	{"1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams"},
}

// Licence SKUs and the Entra ID premium service plans (graph.md §9).
const (
	PlanAADPremium   = "41781fb2-bc02-4b7c-bd55-b576c07bb09d"
	PlanAADPremiumP2 = "eec0eb4f-6444-4f95-aba0-50c24d67f998"
	skuE5            = "06ebc4ee-1bb5-47dd-8120-11324bc54e06"
	skuE1            = "18181a46-0d4e-45cd-891e-60aabd171b4e"
)

type servicePlan struct{ ID, Name string }

var (
	e5Plans = []servicePlan{{PlanAADPremium, "AAD_PREMIUM"}, {PlanAADPremiumP2, "AAD_PREMIUM_P2"},
		{"efb87545-963c-4e0d-99df-69c6916d9eb0", "EXCHANGE_S_ENTERPRISE"}, {"5dbe027f-2339-4123-9542-606e4d348a72", "SHAREPOINTENTERPRISE"},
		{"57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1"}}
	e1Plans = []servicePlan{{"9aaf7827-d63c-4b61-89c3-182f06f82e5c", "EXCHANGE_S_STANDARD"},
		{"c7699d2e-19aa-44de-8edf-1736da088ca1", "SHAREPOINTSTANDARD"}, {"57ff2da0-773e-42df-b2af-ffb7a2317929", "TEAMS1"}}
)
