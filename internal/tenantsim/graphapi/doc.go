// Package graphapi serves the simulated Microsoft Graph v1.0 API over a
// model.Tenant: routing, query options ($top, $select, $filter, $count,
// $skiptoken, and $expand of members/owners on group and administrative-unit
// lists with Graph's caps), absolute paging links, delta queries, writes for restore
// (properties, links, role assignments, with a simulated replication lag),
// Graph-shaped errors, per-endpoint application roles, throttling modelled on
// the documented limits (writes included), fault injection and request counters.
//
// It authenticates callers through a Verifier function so it does not depend
// on how tokens are issued. It must not import msgraph-sdk-go (too heavy for
// the simulator binary path) nor the entra package.
package graphapi
