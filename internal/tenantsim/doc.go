// Package tenantsim runs the tenant simulator: a deterministic synthetic
// Entra tenant (package model) served as Microsoft Graph v1.0 over plain
// HTTP (package graphapi) and as Entra sign-in over HTTPS (package entra),
// plus a control API under /_sim/ on the Graph listener for tests and demos.
//
// Use New + Start for a long-running simulator (`entravault simulate`,
// `entravault dev`) and NewTest in tests. The demo credentials (tenant id,
// app client ids, secrets and certificate paths, admin accounts and their
// passwords, the CA path) are written to DataDir/tenant.json and served at
// GET /_sim/credentials: the simulator is a loopback development tool and
// its control API has no authentication.
//
// # Writes, as a restore makes them
//
// The backup app holds the write twins of its read roles
// (model.RestoreWriteRoles, RoleManagement.ReadWrite.Directory included).
// Graph's rules apply:
//
//   - POST and PATCH refuse read-only properties (id, createdDateTime,
//     proxyAddresses, createdByAppId, securityIdentifier, onPremises*
//     except a user's onPremisesImmutableId and
//     onPremisesExtensionAttributes, a group's groupTypes, mailEnabled and
//     securityEnabled after create…) with 400 "Property 'x' is read-only
//     and cannot be set.", unknown ones with "Invalid property 'x'.", and on
//     a synced object (onPremisesSyncEnabled, see model.Tenant.SetSynced)
//     the properties on-premises AD masters, with Graph's "originated within
//     an external service" message and the detail code
//     AzureActiveDirectoryCannotUpdateObjectsOriginatedInExternalService.
//     A refused write changes nothing. A user create needs accountEnabled,
//     displayName, mailNickname, passwordProfile and a userPrincipalName in
//     the tenant's domain; passwords are never stored nor shown.
//   - Links: POST …/members/$ref, …/owners/$ref (groups and administrative
//     units), PATCH /groups/{id} with members@odata.bind and
//     owners@odata.bind (20 references at most), PUT/GET/DELETE
//     /users/{id}/manager. A reference already there is 400 "One or more
//     added object references already exist for the following modified
//     properties: 'members'." and adds nothing; a reference to an object
//     that does not exist (or is in the recycle bin) is 400 "… do not
//     exist"; removing a link that is not there is 404.
//   - POST /roleManagement/directory/roleAssignments (principalId,
//     roleDefinitionId, directoryScopeId "/", "/administrativeUnits/{id}"
//     or "/{application id}") answers 201; an unknown principal, role or
//     scope and a duplicate are 400. DELETE …/roleAssignments/{id} is 204
//     or 404. A directoryRole's members are its live tenant-wide principals.
//   - Every POST, PATCH, PUT and DELETE spends one write of the budget
//     (ThrottleConfig.Writes per WriteWindow, 3,000 per 2 min 30 s); the
//     429 carries Retry-After and x-ms-throttle-information
//     WriteLimitExceeded. GET /_sim/counters counts the writes served, per
//     route and in total ("writes").
//   - Options.ConsistencyDelay (or ConsistencyDelay in the PUT /_sim/faults
//     body, in nanoseconds) mimics replication lag: for that long after an
//     object is created through Graph, link requests naming it ($ref,
//     @odata.bind, manager, role assignment principal) answer 400 "… do not
//     exist".
//
// Generated tenants hold two users and a Microsoft 365 group in the recycle
// bin, deleted days ago.
//
// # Incidents
//
// POST /_sim/incident {"kind": "…", "percent": N} (Simulator.Incident in Go)
// damages about N percent (0 < N <= 100, at least one object) of what the
// kind applies to, drawing from the tenant's random stream so the same
// seed and history give the same damage:
//
//	soft_delete_users        users to the recycle bin
//	hard_delete_users        users deleted for good
//	delete_groups            Microsoft 365 groups to the recycle bin, security groups for good
//	tamper_users             displayName, jobTitle, department, officeLocation, mobilePhone changed
//	remove_role_assignments  role assignments deleted
//	strip_group_links        all members and owners of Microsoft 365 and security groups removed
//	mixed                    each of the above on N/6 percent
//
// It answers {"kind", "percent", "affected": {kind: [ids]}} (role
// assignment ids for remove_role_assignments, group ids for
// strip_group_links), or 400 for an unknown kind or percent. The sign-in
// accounts (model.AdminUser, SecAdminUser, RegularUser), their roles and
// links, and the applications are never touched; a group they belong to
// may be deleted.
//
// This package must not import msgraph-sdk-go: the SDK belongs to
// internal/graph and to tests.
package tenantsim
