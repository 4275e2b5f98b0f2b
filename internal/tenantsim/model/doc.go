// Package model holds the synthetic Entra tenant of the simulator: compact
// in-memory objects (users, groups, administrative units, applications,
// service principals, roles, policies, logs), their deterministic generation
// from a seed, mutations (writes with Graph's property and link rules,
// churn, incidents, soft/hard delete, restore) recorded in a change log for
// delta queries, and rendering to Graph v1.0 JSON shapes.
//
// Objects are stored as small structs (ids as [16]byte, enums as bytes,
// references by index) and rendered on demand, so a 500k-user tenant fits in
// well under 1 GB. Properties changed by writes or churn live in a per-object
// override map and always win over generated values.
//
// The package knows nothing about HTTP, tokens or the Graph SDK; it must not
// import net/http, msgraph-sdk-go or the entra package.
package model
