// Package connector defines what a connector is: its configuration (tenant,
// scopes, schedule, retention, access), its statuses, and the validation
// that the API and the workflow's update validator share, so an invalid
// change is refused the same way everywhere.
//
// It is plain data: no Temporal, Graph or storage imports.
package connector
