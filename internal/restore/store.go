package restore

import "github.com/entravault/entravault/internal/connector"

// Plans, reports and id maps live in the snapshot repository, so they are
// encrypted, deduplicated and pruned like backups, and a whole tenant's
// plan never enters Temporal history. A plan or report is one snapshot of
// the connector's restore namespace, objects of type ActionType keyed by
// Action.Key (the apply order); an id map is a snapshot of objects of type
// IDType keyed by the old id.
const (
	ActionType = "action"
	IDType     = "id"
	IDMapScope = "idmap"
)

// Namespace is the repository connector holding a connector's restores.
func Namespace(connectorID string) string { return connectorID + ".restore" }

// PlanScope and ReportScope name one restore's plan and report.
func PlanScope(restoreID string) string   { return restoreID + "/plan" }
func ReportScope(restoreID string) string { return restoreID + "/report" }

// IDMapNamespace is the repository connector holding a tenant's id map.
func IDMapNamespace(tenantID string) string { return "tenant/" + tenantID }

// Scopes are the backup scopes restore reads, in the order it reads them.
var Scopes = []connector.Scope{connector.ScopeUsers, connector.ScopeGroups, connector.ScopeAdministrativeUnits, connector.ScopeRoles,
	connector.ScopeApplications, connector.ScopePolicies}

// IDEntry is the stored value of one id map entry.
type IDEntry struct {
	New string `json:"new"`
}
