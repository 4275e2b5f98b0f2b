package workflows

import (
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
)

// Search attributes let operators find a connector's workflows in the
// Temporal UI ("ConnectorId = 'c-…'") and let the API list connectors.
// They are never codec-encoded, so they hold ids and states, never PII.
var (
	ConnectorIDKey     = temporal.NewSearchAttributeKeyKeyword("ConnectorId")
	TenantIDKey        = temporal.NewSearchAttributeKeyKeyword("TenantId")
	ConnectorStatusKey = temporal.NewSearchAttributeKeyKeyword("ConnectorStatus")
	ScopeKey           = temporal.NewSearchAttributeKeyKeyword("Scope")
)

// SearchAttributes are registered on the namespace: by the embedded dev
// server at creation, by operators (`temporal operator search-attribute
// create`) on an external cluster.
func SearchAttributes() map[string]enumspb.IndexedValueType {
	return map[string]enumspb.IndexedValueType{
		ConnectorIDKey.GetName():     enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		TenantIDKey.GetName():        enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		ConnectorStatusKey.GetName(): enumspb.INDEXED_VALUE_TYPE_KEYWORD,
		ScopeKey.GetName():           enumspb.INDEXED_VALUE_TYPE_KEYWORD,
	}
}
