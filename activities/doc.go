// Package activities holds every piece of I/O the workflows need: consent
// verification and scope backups through Microsoft Graph, snapshot writes
// and retention through the repository.
//
// Activities are methods on structs whose clients are injected by package
// worker. Graph is reached through the narrow Graph interface, so this
// package (and the workflow tests that reference it) does not link the
// msgraph SDK: non-test files must not import internal/graph, msgraph-sdk-go
// or the simulator. Inputs and results are small: ids, cursors, counts,
// never tenant data, and never secrets.
//
// # What a scope backup stores
//
// One snapshot per run, one object per Graph object, keyed by type and id,
// holding the JSON Graph sent byte for byte (a delta item as sent, or, for
// a delta update, the previous version with the changed properties replaced
// in place). The $select lists ask for every documented property restore
// can write back; with them, a delta item and a GET of the object carry the
// same properties, and the stored object is the restore source of truth.
// Relationships are separate objects {"value":[{"@odata.type","id"},...]}
// sorted by id: "user.manager", "group.members", "group.owners",
// "administrativeUnit.members", "directoryRole.members". A manager link
// to a user the snapshot does not hold is dangling (the manager was
// deleted); restore skips it.
//
// # Incremental runs and resume
//
// Delta links and log watermarks live in the snapshot state; the next run
// applies only changes onto its parent and yields a complete snapshot.
// Group owners are not tracked by delta: every run lists all groups with
// $expand=owners (100 a request) and stores the owner lists that changed.
// A full resync every schedule.full_resync (default 7 days) bounds drift.
// The activity heartbeats a repository checkpoint and the Graph cursor; a
// retried attempt resumes from them and reads only what came after.
package activities
