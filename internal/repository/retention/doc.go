// Package retention decides which snapshots a policy keeps, in the style of
// restic's forget: keep-within, keep-last and keep one per
// day/week/month/year for the N most recent such periods. The newest
// snapshot is always kept.
//
// It is pure computation on (id, time) pairs and must not import any other
// Entravault package.
package retention
