// Package devserver runs a real Temporal server and its web UI inside the
// entravault process, for `entravault dev` and for tests that need history,
// search attributes and Schedules on disk.
//
// It follows the recipe of the Temporal CLI's development server (SQLite
// persistence, one history shard, static hosts on loopback). The database is
// a file under the data folder, so a restart keeps every workflow; the schema
// is created only when the file is new, because nothing migrates an existing
// one.
//
// Only cmd/entravault and integration tests import this package: it pulls in
// the whole Temporal server, which is slow to build.
package devserver
