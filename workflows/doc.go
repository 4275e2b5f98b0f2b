// Package workflows holds Entravault's Temporal workflow code: the
// ConnectorWorkflow entity, per-scope backups and retention cleanup.
//
// Everything here is deterministic: time from workflow.Now, no I/O, no
// goroutines, maps iterated in sorted order. All I/O happens in package
// activities, which this package references only through method values and
// Input/Result types. Workflows pass references (snapshot ids, cursors),
// never tenant data.
package workflows
